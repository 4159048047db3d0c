"""The counter accepts a leader's deal and packs it once closed, in Chromium: the consolidated order
picked as one order, one bag per participant — a fish weighed at the counter, an egg line that could not
be filled — and a label per bag printed with the participant's name, their number in the deal and what
is in the bag, read back from the PDF; each share is settled to its bag in orders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.browser.test_counter_codes_and_printing import printed
from tests.e2e.browser.test_shopper_app import FISH, HOME, ok, top_up
from tests.e2e.conftest import System
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CUTOFF_S = 20  # long enough to open the counter, accept and join; short enough to wait for


async def test_the_counter_packs_one_labelled_bag_per_participant_and_prints_the_labels(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop(products={"eggs": {"on_hand": 40, "price_fen": 1500}, "fish": FISH})
    eggs, fish = shop.products["eggs"], shop.products["fish"]
    leader, wang, li = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("leader", "wang", "li"))
    cutoff = datetime.now(UTC) + timedelta(seconds=CUTOFF_S)
    async with (
        system.client("orders", Role.STORE_STAFF, "clerk", store=shop.store_id) as staff,
        system.client("orders", Role.SHOPPER, leader) as lead,
        system.client("orders", Role.SHOPPER, wang) as wang_app,
        system.client("orders", Role.SHOPPER, li) as li_app,
    ):
        await ok(await staff.post("/group-leaders", json={"shopper": leader}), 201)
        deal = await ok(
            await lead.post(
                "/group-buys",
                json={
                    "store_id": shop.store_id,
                    "title": "Eggs and fish for Lane 12",
                    "items": [
                        {"product_id": eggs, "group_price_fen": 1200, "per_person_limit": 3, "cap": 20},
                        {"product_id": fish, "group_price_fen": 1500, "per_person_limit": 2, "cap": 4},
                    ],
                    "minimum": 2,
                    "cutoff_at": cutoff.isoformat(),
                    "pickup": {"kind": "place", "name": "Lane 12 gate", "lat": HOME["lat"], "lon": HOME["lon"]},
                    "window": {"start": cutoff.isoformat(), "end": (cutoff + timedelta(hours=2)).isoformat()},
                },
            ),
            201,
        )
        deal_id = deal["id"]
        context = await new_context(browser)
        page = await signed_in_page(
            context, system, "inventory", Role.STORE_STAFF, f"staff-{shop.store_id}", store=shop.store_id
        )
        await page.get_by_role("tab", name="Group buys").click()
        proposed = page.locator(f'article[data-proposed="{deal_id}"]')
        await expect(proposed).to_contain_text("Eggs and fish for Lane 12")
        await expect(proposed).to_contain_text("group price ¥12.00 (shelf ¥15.00) · cap 20")
        await proposed.get_by_role("button", name="Accept the deal").click()
        await expect(page.locator(".toast.good").last).to_contain_text("Accepted")
        await expect(proposed).to_have_count(0)

        async def status_is(status: str) -> bool:
            return bool((await ok(await lead.get(f"/group-buys/{deal_id}")))["status"] == status)

        await eventually(lambda: status_is("open"))
        for who in (wang, li):
            await top_up(system, who, 10_000)
        url = f"/group-buys/{deal_id}/share"
        await ok(await wang_app.put(url, json={"items": [{"product_id": eggs, "quantity": 2}]}))
        # Li: one fish at its 600 g estimate (¥9.00 at ¥15.00/kg) and one egg box.
        both = [{"product_id": fish, "quantity": 1}, {"product_id": eggs, "quantity": 1}]
        await ok(await li_app.put(url, json={"items": both}))
        await eventually(lambda: status_is("closed"), within=CUTOFF_S + 15)

    try:
        await page.get_by_role("tab", name="Group buys").click()
        card = page.locator(f'article[data-deal="{deal_id}"]')

        async def listed() -> bool:  # inventory made the consolidated order from GroupBuyClosed
            if await card.count():
                return True
            await page.get_by_role("tab", name="Group buys").click()
            return False

        await eventually(listed, within=20)
        await expect(card).to_contain_text("0 of 2 bags packed")
        await card.get_by_role("button", name="Open").click()

        one = page.locator('article.bag[data-bag="1"]')
        await expect(one).to_contain_text(f"No. 1 of 2 · {wang}")
        await page.click("#bag-1-pack")
        await expect(one).to_contain_text("Packed · ¥24.00")

        two = page.locator('article.bag[data-bag="2"]')
        await expect(two).to_contain_text(f"No. 2 of 2 · {li}")
        await page.uncheck("#bag-2-line-1-filled")  # the egg box for Li could not be filled
        await page.fill("#bag-2-line-2-weight", "640")
        await page.click("#bag-2-pack")
        await expect(page.locator(".toast.good").last).to_contain_text("Every bag packed")
        await expect(two).to_contain_text("Packed · ¥9.60")  # 640 g at ¥15.00/kg
        await expect(two).to_contain_text("weighed 640 g")
        await expect(two).to_contain_text("not filled")

        await page.click("#deal-print")
        await page.select_option("#print-paper", "80")
        labels = page.locator("#print-preview article.deal-label")
        await expect(labels).to_have_count(2)
        await screenshot(page, "counter-group-buy-labels")
        pages, text = await printed(page)
        assert pages == 2, text  # one label per bag on the roll
        text = " ".join(text.split())  # the roll wraps lines where it must
        for expected in ("No. 1 of 2", wang, "No. 2 of 2", li, "weighed 640 g", "not filled"):
            assert expected in text, (expected, text)
    finally:
        await context.close()

    async with system.client("orders", Role.SHOPPER, li) as li_app:

        async def settled() -> bool:
            money = (await ok(await li_app.get(f"/group-buys/{deal_id}")))["my_share"]["money"]
            return bool(money["goods_fen"] == 960 and money["reconciles"])

        await eventually(settled, within=20)
        money = (await ok(await li_app.get(f"/group-buys/{deal_id}")))["my_share"]["money"]
        assert (money["paid_fen"], money["extra_charged_fen"], money["refund_fen"]) == (900 + 1200, 0, 1140)
