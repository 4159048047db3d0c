"""The four consoles together, as a neighbourhood uses them: a resident orders a fish on her
phone; the counter accepts it, weighs it heavier and the resident approves on her phone; the
dispatch board sees a rider take it and the delivery complete; and the resident's page follows
every step live, without reloading."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.conftest import System, online, wait_status
from tests.e2e.test_delivery import told_by_the_counter

pytestmark = pytest.mark.e2e

HOME = {"text": "2-301 Wenchang Lane", "lat": 32.0412, "lon": 118.7911}
CARP = {
    "name_zh": "新鲜草鱼",
    "name_en": "Fresh grass carp",
    "unit": "g",
    "grams_per_piece": 600,
    "price_fen": 1800,
    "on_hand": 6000,
}


async def test_a_fish_from_phone_to_counter_to_rider_to_door_seen_live_on_every_console(
    system: System, browser: Browser, make_shop: Any, dispatcher: Any, riders: Any
) -> None:
    shop = await make_shop(products={"carp": CARP}, accept_limit_s=600)
    carp = shop.products["carp"]
    resident = f"resident-{uuid.uuid4().hex[:6]}"
    async with system.client("orders", Role.SHOPPER, resident):  # opening it tops up her balance
        pass

    phone = await signed_in_page(await new_context(browser, mobile=True), system, "orders", Role.SHOPPER, resident)
    counter = await signed_in_page(
        await new_context(browser), system, "inventory", Role.STORE_STAFF, f"staff-{shop.store_id}", store=shop.store_id
    )
    board = await signed_in_page(
        await new_context(browser), system, "dispatch", Role.DISPATCHER, "desk-1", path="/app/board/"
    )
    await expect(counter.locator("#live")).to_have_text("Live")

    # The resident orders on her phone: home, the shop, the fish, checkout, delivery now.
    await phone.fill("#home-address", HOME["text"])
    await phone.fill("#home-lat", str(HOME["lat"]))
    await phone.fill("#home-lon", str(HOME["lon"]))
    await phone.click("#save-home")
    await phone.locator(f"[data-store='{shop.store_id}']").get_by_role("link").click()
    await phone.click(f"[data-add='{carp}']")
    await phone.goto(system.url("orders") + "/app/#/checkout")
    await expect(phone.locator("#total")).to_have_text("¥10.80")
    await phone.click("#place")
    await phone.wait_for_url("**/app/#/order/*")
    order_id = phone.url.rsplit("/", 1)[1]

    # The counter sees it arrive, accepts, and weighs the fish at 672 g: 12 % over, so she is asked.
    card = counter.locator(f'article[data-order="{order_id}"]')
    await card.get_by_role("button", name="Accept").click()
    await card.get_by_role("button", name="Start picking").click()
    line = counter.locator("#pick li.pick-line").first
    await line.get_by_label("Weight (g)").fill("672")
    await line.get_by_role("button", name="Picked").click()
    await expect(line.locator(".state")).to_have_text("Shopper to approve weight")

    question = phone.locator("[data-approval]")
    await expect(question).to_be_visible()
    await question.locator("[data-answer='accept']").click()
    await expect(line.locator(".state")).to_have_text("Picked")  # her answer, live on the pick list
    pack = counter.locator("#pick form.pack")
    await pack.get_by_label("Bags").fill("1")
    await pack.get_by_label("Total weight (g)").fill("700")
    await pack.get_by_role("button", name="Packed").click()
    await expect(phone.locator("#order [data-status='PACKED']").first).to_be_visible()

    # A rider near the shop takes the offer; the board shows who has it.
    rider = await online(system, dispatcher, riders, 32.0405, 118.7895)
    offer = await rider.offer_for(order_id)
    accepted = await rider.client.post(f"/offers/{offer['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    row = board.locator(f'#orders tr[data-order-id="{order_id}"]')
    await expect(row.locator(".assigned-rider")).to_contain_text(rider.id)

    await rider.step(order_id, "at-shop")
    await rider.step(order_id, "picked-up", {"code": await told_by_the_counter(system, shop.store_id, order_id)})
    await expect(phone.locator("#order [data-status='OUT_FOR_DELIVERY']").first).to_be_visible()
    # While the rider carries the bag, the resident sees them move on her map (the rider's phone pings every second).
    rider.lat, rider.lon = 32.0409, 118.7903
    await expect(phone.locator("svg.map g.map-point.rider")).to_have_count(1)
    code = (await phone.locator("#delivery-code").text_content() or "").strip()
    await rider.step(order_id, "at-door")
    await rider.step(order_id, "delivered", {"code": code})

    # Delivered: off the board's open list, and on her phone with the money settled.
    await expect(row).to_have_count(0)
    await expect(phone.locator("#order [data-status='DELIVERED']").first).to_be_visible()
    await expect(phone.locator("#timeline [data-status='OUT_FOR_DELIVERY']")).to_have_count(1)
    await expect(phone.locator("[data-ledger='ledger.final']")).to_contain_text("¥12.10")
    async with system.client("orders", Role.SHOPPER, resident, balance_fen=0) as me:
        final = await wait_status(me, order_id, "DELIVERED")
    assert final["final_fen"] == 1210
    for page in (phone, counter, board):
        await page.context.close()
