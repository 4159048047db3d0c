"""The shop counter in a browser: an order arrives live with its countdown, is accepted, picked
with a heavier weight the shopper approves from their phone (the answer shows up on the pick
list without reloading), packed and handed over; a stallholder of a market sees only their stall."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System, top_up, wait_status
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CARP = {"unit": "g", "grams_per_piece": 600, "price_fen": 1800, "on_hand": 6000}  # 18 yuan/kg, ~600 g a fish
BOKCHOY = {"unit": "g", "grams_per_piece": 500, "price_fen": 600, "on_hand": 5000}
CRUCIAN = {"unit": "g", "grams_per_piece": 300, "price_fen": 2400, "on_hand": 3000}


async def place_paid(me: httpx.AsyncClient, body: dict[str, Any]) -> str:
    """Place an order (the shopper's client was funded at the cash desk when it opened)."""
    placed = await me.post("/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


def pickup(store_id: str, lines: dict[str, int]) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "fulfilment": {"mode": "pickup"},
        "lines": [{"product_id": pid, "quantity": q} for pid, q in lines.items()],
    }


async def counter_page(browser: Any, system: System, store: str) -> Page:
    context = await new_context(browser)
    page = await signed_in_page(context, system, "inventory", Role.STORE_STAFF, f"staff-{store}", store=store)
    await expect(page.locator("#live")).to_have_text("Live")
    return page


async def test_an_order_is_accepted_weighed_approved_live_packed_and_handed_over(browser, system, make_shop) -> None:
    shop = await make_shop(products={"carp": CARP}, accept_limit_s=600)
    carp = shop.products["carp"]
    page = await counter_page(browser, system, shop.store_id)
    await expect(page.get_by_role("heading", name="Waiting to be accepted (0)")).to_be_visible()

    subject = f"resident-{uuid.uuid4().hex[:8]}"
    async with system.client("orders", Role.SHOPPER, subject) as me:
        order_id = await place_paid(me, pickup(shop.store_id, {carp: 1}))
        order = await wait_status(me, order_id, "CONFIRMED")
        shown = order["total_fen"]
        assert shown == 1080  # 600 g at 18 yuan/kg

        # The order arrives without reloading, counting down the ten minutes the shop has to accept.
        card = page.locator(f'article[data-order="{order_id}"]')
        await expect(card).to_be_visible()
        await expect(page.get_by_role("heading", name="Waiting to be accepted (1)")).to_be_visible()
        await expect(card.get_by_role("timer")).to_have_text("10 min")
        await card.get_by_role("button", name="Accept").click()
        await expect(page.get_by_role("heading", name="Being picked (1)")).to_be_visible()
        await wait_status(me, order_id, "ACCEPTED")
        await card.get_by_role("button", name="Start picking").click()
        await wait_status(me, order_id, "PICKING")

        # 672 g is 12 % over the estimate, beyond the shop's 10 % tolerance: the shopper must agree.
        line = page.locator("#pick li.pick-line").first
        await line.get_by_label("Weight (g)").fill("672")
        await line.get_by_role("button", name="Picked").click()
        await expect(line.locator(".state")).to_have_text("Shopper to approve weight")
        await expect(page.get_by_role("button", name="Packed")).to_be_disabled()

        async def asked() -> list[Any]:
            return list((await me.get(f"/orders/{order_id}")).json()["pending_approvals"])

        line_no = (await eventually(asked))[0]["line_no"]
        approved = await me.post(f"/orders/{order_id}/lines/{line_no}/approval", json={"accept": True})
        assert approved.status_code == 200, approved.text

        # The answer reaches the pick list live, priced at the actual weight.
        await expect(line.locator(".state")).to_have_text("Picked")
        await expect(line).to_contain_text("Picked 672 g · ¥12.10")
        await screenshot(page, "shop-counter")

        pack = page.locator("#pick form.pack")
        await pack.get_by_label("Bags").fill("1")
        await pack.get_by_label("Total weight (g)").fill("700")
        await pack.get_by_role("button", name="Packed").click()
        ready = await wait_status(me, order_id, "READY_FOR_PICKUP")
        assert ready["final_fen"] == 1210
        assert ready["difference_fen"] == 1210 - shown
        assert ready["bags"] == 1
        assert ready["weight_g"] == 700

        # At the counter the shopper tells the code; the bag is theirs.
        await expect(page.get_by_role("heading", name="Packed, awaiting handover (1)")).to_be_visible()
        await card.get_by_label("Handover code (6 digits)").fill(ready["handover_code"])
        await card.get_by_role("button", name="Hand over").click()
        await wait_status(me, order_id, "COLLECTED")
        await expect(card).to_have_count(0)

    # The stock committed at handover is what the scale said; a delivery of fish goes back on the shelf.
    await page.get_by_role("tab", name="Products & stock").click()
    row = page.locator(f'tr[data-product="{carp}"]')
    await expect(row).to_contain_text("5328 g")
    await row.get_by_role("button", name="Manage").click()
    await page.get_by_label("Quantity received (g)").fill("1000")
    await page.get_by_role("button", name="Restock").click()
    await expect(row).to_contain_text("6328 g")

    # Too busy: the pause switch stops new orders until it is switched back.
    await page.get_by_role("button", name="Pause orders").click()
    await expect(page.locator("#paused-state")).to_have_text("Paused: not taking orders")
    async with system.client("inventory", Role.ADMIN, "admin-1") as admin:
        assert (await admin.get(f"/locations/{shop.store_id}")).json()["paused"] is True
    await page.context.close()


async def test_a_stallholder_sees_only_their_stall_and_the_market_sees_every_stall(
    browser, system, make_market
) -> None:
    market = await make_market(
        {"fish": {"carp": CARP, "crucian": CRUCIAN}, "veg": {"bokchoy": BOKCHOY}}, accept_limit_s=600
    )
    carp, bokchoy = market.products["carp"], market.products["bokchoy"]
    fishmonger = await counter_page(browser, system, market.stalls["fish"])
    counter = await counter_page(browser, system, market.store_id)

    subject = f"resident-{uuid.uuid4().hex[:8]}"
    me = system.client("orders", Role.SHOPPER, subject)
    await top_up(system, subject, 100_000)  # this client stays open for the test, so it is funded by hand
    order_id = await place_paid(me, pickup(market.store_id, {carp: 1, bokchoy: 1}))
    await wait_status(me, order_id, "CONFIRMED")

    mine = fishmonger.locator(f'article[data-order="{order_id}"]')
    await expect(mine).to_contain_text("carp")
    await expect(mine.locator("[data-part]")).to_have_count(1)
    assert "bokchoy" not in await mine.inner_text(), "the fish stall sees nothing of the greengrocer's part"

    whole = counter.locator(f'article[data-order="{order_id}"]')
    await expect(whole.locator("[data-part]")).to_have_count(2)
    await expect(whole).to_contain_text("bokchoy")

    # The fish stall takes its part; the market counter sees it at once, the vegetables still waiting.
    await mine.get_by_role("button", name="Accept").click()
    await expect(whole.locator(f'[data-part="{market.stalls["fish"]}"]')).to_contain_text("Accepted")
    await expect(whole.locator(f'[data-part="{market.stalls["veg"]}"]')).to_contain_text("Waiting")
    await expect(mine.get_by_role("button", name="Start picking")).to_be_disabled()
    await expect(mine).to_contain_text("Picking starts once the other stalls have accepted")
    await whole.locator(f'[data-part="{market.stalls["veg"]}"]').get_by_role("button", name="Accept").click()
    await mine.get_by_role("button", name="Start picking").click()
    await expect(fishmonger.locator("#pick li.pick-line")).to_have_count(1)
    await expect(fishmonger.locator("#pick")).to_contain_text("carp")
    assert "bokchoy" not in await fishmonger.locator("#pick").inner_text()

    # No carp today: the fishmonger offers a crucian from the same stall; the shopper said "no substitutes",
    # so they are asked, and their "no" reaches the pick list live.
    line = fishmonger.locator("#pick li.pick-line").first
    await line.get_by_role("button", name="Substitute…").click()
    await line.get_by_label("Substitute product").select_option(market.products["crucian"])
    await line.get_by_role("button", name="Propose substitute").click()
    await expect(line.locator(".state")).to_have_text("Shopper to approve substitute")
    await expect(line).to_contain_text("Substitute: crucian × 300 g · ¥7.20")

    async def asked() -> list[Any]:
        return list((await me.get(f"/orders/{order_id}")).json()["pending_approvals"])

    line_no = (await eventually(asked))[0]["line_no"]
    declined = await me.post(f"/orders/{order_id}/lines/{line_no}/approval", json={"accept": False})
    assert declined.status_code == 200, declined.text
    await expect(line.locator(".state")).to_have_text("Refunded")
    await me.aclose()
    await fishmonger.context.close()
    await counter.context.close()
