"""Codes as QR images: the payload names kind, order and code, and the image is a standalone,
scalable SVG that no shared cache keeps."""

from __future__ import annotations

import re

import segno

from shared.web.qr import CodeKind, payload, svg, svg_answer


def test_the_payload_names_the_kind_the_order_and_the_code() -> None:
    assert payload(CodeKind.PICKUP, "ord-1", "123456") == "linli:pickup:ord-1:123456"
    assert payload(CodeKind.DELIVERY, "ord-1", "654321") == "linli:delivery:ord-1:654321"
    assert payload(CodeKind.LOCKER, "ord-1", "000111") == "linli:locker:ord-1:000111"


def test_the_image_is_the_qr_code_of_the_payload_and_scales() -> None:
    text = payload(CodeKind.PICKUP, "0282f244-c840-417e-92a0-3f2247b9e3c0", "123456")
    image = svg(text, title="pickup code")
    assert image.startswith('<svg viewBox="0 0 ')
    assert 'xmlns="http://www.w3.org/2000/svg"' in image
    assert "<title>pickup code</title>" in image
    # The modules are segno's for exactly this text, and the viewBox frames them with the quiet zone.
    expected = segno.make(text, error="m", micro=False)
    width, _ = expected.symbol_size(scale=4, border=4)
    assert re.search(rf'viewBox="0 0 {width} {width}"', image)
    drawn = re.search(r' d="([^"]+)"', image)
    reference = re.search(r' d="([^"]+)"', expected.svg_inline(scale=4, border=4))
    assert drawn
    assert reference
    assert drawn.group(1) == reference.group(1)
    assert svg(payload(CodeKind.PICKUP, "0282f244-c840-417e-92a0-3f2247b9e3c0", "123457")) != svg(text)


def test_the_answer_is_an_svg_kept_by_no_cache() -> None:
    answer = svg_answer(CodeKind.DELIVERY, "ord-1", "654321")
    assert answer.media_type == "image/svg+xml"
    assert answer.headers["cache-control"] == "private, no-store"
    assert bytes(answer.body).startswith(b"<svg ")
