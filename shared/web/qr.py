"""The codes people show or type (pickup, delivery, locker), also as QR codes, drawn by the server.

The payload names the kind, the order and the code (`linli:pickup:<order>:<code>`), so a scan at
a counter finds the order; the scanning page sends the code to the same route a typed one goes
to. The SVG is made by segno, so a browser needs no QR library; a route serves it only to whoever
may see the code itself.
"""

from __future__ import annotations

import io
from enum import StrEnum

import segno
from fastapi.responses import Response

SVG = "image/svg+xml"


class CodeKind(StrEnum):
    PICKUP = "pickup"  # the handover code: given at the counter, to the shopper or the rider
    DELIVERY = "delivery"  # the shopper gives it to the rider at the door
    LOCKER = "locker"  # opens the locker compartment


def payload(kind: CodeKind, order_id: str, code: str) -> str:
    return f"linli:{kind.value}:{order_id}:{code}"


def svg(text: str, *, title: str = "") -> str:
    """A QR code of `text` as a standalone SVG: 4 px modules, the standard quiet zone, medium error correction."""
    qr = segno.make(text, error="m", micro=False)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, nl=False, title=title or None)
    width, height = qr.symbol_size(scale=4, border=4)
    # A viewBox lets a page draw it at any size (a phone held up to a camera, a 58 mm label).
    return out.getvalue().decode().replace("<svg ", f'<svg viewBox="0 0 {width} {height}" ', 1)


def svg_answer(kind: CodeKind, order_id: str, code: str) -> Response:
    """The code's QR as an image; never cached by a shared cache, as it is someone's secret."""
    return secret_svg(payload(kind, order_id, code), title=f"{kind.value} code")


def group_buy_payload(deal_id: str, number: int, code: str) -> str:
    """A group-buy bag's collection code: `linli:groupbuy:<deal>:<bag number>:<code>`."""
    return f"linli:groupbuy:{deal_id}:{number}:{code}"


def secret_svg(text: str, *, title: str) -> Response:
    return Response(svg(text, title=title), media_type=SVG, headers={"Cache-Control": "private, no-store"})
