"""The counter with codes and paper: a pickup order handed over by scanning the shopper's QR code
(the camera stubbed, the code checked by the same route a typed one goes to), the pick list
printed on an 80 mm roll and the bag labels on a 58 mm roll and on A4, read back from the PDF."""

from __future__ import annotations

import asyncio
import io
import re
import unicodedata
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect
from pypdf import PdfReader

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import Rider, System, online, shopper, wait_status
from tests.e2e.test_codes import HOME, pack, place

pytestmark = pytest.mark.e2e

# Chromium on Linux has no BarcodeDetector, and a test machine no camera: both are stood in for
# here. The stand-in camera is a canvas stream; the detector "sees" whatever the test puts in
# window.__qr, and records what it was shown, so the test knows the page looked at the video.
CAMERA_AND_DETECTOR = """
window.__qr = null;
window.__shown = [];
window.BarcodeDetector = class {
  constructor(options) { this.formats = options.formats; }
  static async getSupportedFormats() { return ["qr_code"]; }
  async detect(source) {
    window.__shown.push(source.tagName + ":" + this.formats.join(","));
    return window.__qr ? [{ rawValue: window.__qr, format: "qr_code" }] : [];
  }
};
const camera = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 64;
  canvas.getContext("2d").fillRect(0, 0, 64, 64);
  return canvas.captureStream(5);
};
if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = camera;
else Object.defineProperty(navigator, "mediaDevices", { value: { getUserMedia: camera } });
"""


def pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    # NFKC undoes the font's ligatures ("ﬀ" in an order id is "ff").
    return len(reader.pages), unicodedata.normalize("NFKC", "\n".join(page.extract_text() for page in reader.pages))


async def printed(page: Page) -> tuple[int, str]:
    """Print the page as the browser would (print stylesheet, the chosen paper size) and read the text back."""
    await page.wait_for_function(
        "[...document.querySelectorAll('#print-preview img')].every((img) => img.complete && img.naturalWidth > 0)"
    )
    return pdf_text(await page.pdf(prefer_css_page_size=True, print_background=True))


async def take(rider: Rider, order_id: str) -> None:
    """The rider takes the order as soon as it is offered (offers last seconds), so it stays a delivery."""
    offer = await rider.offer_for(order_id, within=60)
    taken = await rider.client.post(f"/offers/{offer['id']}/accept")
    assert taken.status_code == 200, taken.text


def staff(system: System, store: str) -> httpx.AsyncClient:
    return system.client("inventory", Role.STORE_STAFF, f"staff-{store}", store=store)


async def test_a_scanned_pickup_code_hands_the_order_over_as_a_typed_one(
    system: System, browser: Any, make_shop
) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    context = await new_context(browser)
    await context.add_init_script(CAMERA_AND_DETECTOR)
    try:
        page = await signed_in_page(
            context, system, "inventory", Role.STORE_STAFF, f"staff-{shop.store_id}", store=shop.store_id
        )
        await expect(page.locator("#live")).to_have_text("Live")
        async with shopper(system) as me, staff(system, shop.store_id) as counter:
            order_id = await place(me, shop.store_id, shop.products["water"], {"mode": "pickup"})
            await wait_status(me, order_id, "CONFIRMED")
            await pack(counter, shop.store_id, order_id, bags=1)
            code = (await wait_status(me, order_id, "READY_FOR_PICKUP"))["handover_code"]
            card = page.locator(f'article[data-order="{order_id}"]')
            await expect(card.get_by_label("Handover code (6 digits)")).to_be_visible()

            # A code of another order is not this counter's to hand over: nothing is sent.
            await page.evaluate("(qr) => { window.__qr = qr; }", f"linli:pickup:ord-elsewhere:{code}")
            await page.get_by_role("button", name="Scan a pickup code").click()
            await expect(page.locator(".toast.error")).to_contain_text("not waiting to be handed over here")
            await expect(page.locator("#scanner")).to_have_count(0)

            # A wrong code scanned is refused by the server exactly as a wrong code typed.
            wrong = "000000" if code != "000000" else "111111"
            await page.evaluate("(qr) => { window.__qr = qr; }", f"linli:pickup:{order_id}:{wrong}")
            await page.get_by_role("button", name="Scan a pickup code").click()
            await expect(page.locator(".toast.error").last).to_contain_text("wrong handover code")
            assert (await me.get(f"/orders/{order_id}")).json()["status"] == "READY_FOR_PICKUP"

            await page.evaluate("(qr) => { window.__qr = qr; }", f"linli:pickup:{order_id}:{code}")
            await page.get_by_role("button", name="Scan a pickup code").click()
            await expect(page.locator(".toast.good")).to_contain_text("Handed over")
            await wait_status(me, order_id, "COLLECTED")
            assert "VIDEO:qr_code" in await page.evaluate("window.__shown"), "the detector read the camera's video"
    finally:
        await context.close()


async def test_the_counter_prints_a_pick_list_and_a_label_per_bag(
    system: System, browser: Any, make_shop, dispatcher, riders
) -> None:
    shop = await make_shop(products={"tofu": {"price_fen": 300, "on_hand": 10}}, accept_limit_s=600)
    tofu = shop.products["tofu"]
    rider = await online(system, dispatcher, riders, 32.0401, 118.7901)
    context = await new_context(browser)
    try:
        page = await signed_in_page(
            context, system, "inventory", Role.STORE_STAFF, f"staff-{shop.store_id}", store=shop.store_id
        )
        await expect(page.locator("#live")).to_have_text("Live")
        async with shopper(system) as me, staff(system, shop.store_id) as counter:
            # A pickup order: its pick list on an 80 mm roll before anything is picked, then its labels.
            order_id = await place(me, shop.store_id, tofu, {"mode": "pickup"})
            await wait_status(me, order_id, "CONFIRMED")
            card = page.locator(f'article[data-order="{order_id}"]')
            await card.get_by_role("button", name="Accept").click()
            await card.get_by_role("button", name="Start picking").click()
            await expect(page.locator("#pick-title")).to_be_visible()
            await page.get_by_role("button", name="Print pick list").click()
            preview = page.get_by_role("dialog", name=f"Pick list · order {order_id[-8:]}")
            await expect(preview).to_be_visible()
            await preview.get_by_label("Paper").select_option("80")
            pages, text = await printed(page)
            assert f"Pick list · order {order_id[-8:]}" in text
            assert order_id in text
            assert "1. tofu · 2 pcs" in text.replace("\n", " "), text
            assert "Call before delivery" in text
            assert "Pickup" in text
            assert "Waiting to be accepted" not in text, "only the sheet is printed"
            await preview.get_by_role("button", name="Close preview").click()
            await expect(preview).to_have_count(0)

            line = page.locator("#pick li.pick-line").first
            await line.get_by_role("button", name="Picked").click()
            await expect(line.locator(".state")).to_have_text("Picked")
            pack_form = page.locator("form.pack")
            await pack_form.get_by_label("Bags").fill("2")
            await pack_form.get_by_label("Total weight (g)").fill("800")
            await pack_form.get_by_role("button", name="Packed").click()
            await expect(page.locator(".toast.good").last).to_contain_text("Packed")
            await wait_status(me, order_id, "READY_FOR_PICKUP")
            await page.get_by_role("button", name="Print bag labels").click()
            preview = page.get_by_role("dialog", name=f"Bag labels · order {order_id[-8:]}")
            await preview.get_by_label("Paper").select_option("80")
            pages, text = await printed(page)
            # The shopper's pickup code is theirs to show: the label says so instead of carrying it.
            assert pages == 2, text
            assert "Bag 1 of 2" in text, text
            assert "Bag 2 of 2" in text, text
            assert text.count("Pickup: the shopper shows their code") == 2
            await preview.get_by_role("button", name="Close preview").click()

            # A delivery order, packed in two bags and taken by a rider: its labels carry the handover code.
            order_id = await place(me, shop.store_id, tofu, {"mode": "delivery", "address": HOME})
            await wait_status(me, order_id, "CONFIRMED")
            taken = asyncio.create_task(take(rider, order_id))
            await pack(counter, shop.store_id, order_id, bags=2)
            await taken
            code = (await wait_status(me, order_id, "PACKED"))["handover_code"]
            card = page.locator(f'article[data-order="{order_id}"]')
            await expect(card.get_by_role("img", name=f"QR code of the pickup code {code}")).to_be_visible()
            await card.get_by_role("button", name="Open pick list").click()
            # Until this order's pick list has loaded, the pane still shows the first order's, with its own button.
            await expect(page.locator("#pick-title")).to_contain_text(order_id[-8:])
            await page.get_by_role("button", name="Print bag labels").click()
            preview = page.get_by_role("dialog", name=f"Bag labels · order {order_id[-8:]}")
            await preview.get_by_label("Paper").select_option("58")
            await expect(preview.get_by_role("img", name=f"QR code of the handover code {code}")).to_have_count(2)
            await screenshot(page, "shop-counter-labels")
            pages, text = await printed(page)
            assert pages == 2, text
            assert "Bag 1 of 2" in text
            assert "Bag 2 of 2" in text
            assert text.count("Call before delivery") == 2
            assert text.count("Delivery") >= 2
            assert text.count(code) == 2
            assert text.count(f"Order {order_id[-8:]}") == 2
            # The same labels on A4, to cut out: one page.
            await preview.get_by_label("Paper").select_option("a4")
            pages, text = await printed(page)
            assert pages == 1
            assert "Bag 2 of 2" in text
            assert text.count(code) == 2
    finally:
        await context.close()


async def test_a_market_prints_one_stalls_part_and_a_label_per_stalls_bag(
    system: System, browser: Any, make_market
) -> None:
    piece = {"price_fen": 500, "on_hand": 10}
    market = await make_market({"fish": {"carp": piece}, "veg": {"bokchoy": piece}}, accept_limit_s=600)
    fish, veg = market.stalls["fish"], market.stalls["veg"]
    context = await new_context(browser)
    try:
        page = await signed_in_page(
            context, system, "inventory", Role.STORE_STAFF, f"staff-{market.store_id}", store=market.store_id
        )
        await expect(page.locator("#live")).to_have_text("Live")
        async with shopper(system) as me, staff(system, market.store_id) as counter:
            placed = await me.post(
                "/orders",
                headers={"Idempotency-Key": str(uuid.uuid4())},
                json={
                    "store_id": market.store_id,
                    "fulfilment": {"mode": "pickup"},
                    "lines": [
                        {"product_id": market.products["carp"], "quantity": 1},
                        {"product_id": market.products["bokchoy"], "quantity": 1},
                    ],
                },
            )
            assert placed.status_code == 201, placed.text
            order_id = placed.json()["id"]
            order = await wait_status(me, order_id, "CONFIRMED")
            lines = {ln["location_id"]: ln["line_no"] for ln in order["lines"]}
            for stall in (fish, veg):
                assert (await counter.post(f"/stores/{stall}/orders/{order_id}/accept")).status_code == 200
            await wait_status(me, order_id, "ACCEPTED")
            for stall in (fish, veg):
                assert (await counter.post(f"/stores/{stall}/orders/{order_id}/picking")).status_code == 200

            card = page.locator(f'article[data-order="{order_id}"]')
            await card.get_by_role("button", name="Open pick list").click()
            await expect(page.locator("#pick [data-print-part]")).to_have_count(2)
            # The vegetable stall's part alone: its line, not the fishmonger's.
            await page.locator(f'#pick [data-print-part="{veg}"]').click()
            preview = page.get_by_role("dialog", name=re.compile(r"^Pick list · order .* · Test stall$"))
            await preview.get_by_label("Paper").select_option("58")
            _, text = await printed(page)
            assert "bokchoy" in text
            assert "carp" not in text
            await preview.get_by_role("button", name="Close preview").click()

            for stall, bags in ((fish, 1), (veg, 2)):
                base = f"/stores/{stall}/orders/{order_id}"
                assert (await counter.post(f"{base}/lines/{lines[stall]}/picked", json={})).status_code == 200
                packed = await counter.post(f"{base}/packed", json={"bags": bags, "weight_g": 500})
                assert packed.status_code == 200, packed.text
            await wait_status(me, order_id, "READY_FOR_PICKUP")
            # Each stall's bags are counted on their own: 1 of 1, then 1 of 2 and 2 of 2.
            await page.get_by_role("button", name="Print bag labels").click()
            preview = page.get_by_role("dialog", name=f"Bag labels · order {order_id[-8:]}")
            await preview.get_by_label("Paper").select_option("80")
            pages, text = await printed(page)
            assert pages == 3, text
            assert text.count("Bag 1 of 1") == 1
            assert text.count("Bag 1 of 2") == 1
            assert text.count("Bag 2 of 2") == 1
            assert text.count("Test stall") == 3
    finally:
        await context.close()
