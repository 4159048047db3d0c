"""Cash at pickup in the shopper's app, in a phone-sized Chromium: where the leader allowed it, a neighbour
with an empty balance joins paying in cash at the pickup point, and is shown what to pay there."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.browser.test_shopper_app import HOME, ok, set_home
from tests.e2e.conftest import System
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_a_neighbour_joins_paying_cash_at_pickup_where_the_deal_allows_it(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop({"eggs": 40}, price_fen=1500)
    eggs = shop.products["eggs"]
    leader, neighbour = f"leader-{uuid.uuid4().hex[:6]}", f"neighbour-{uuid.uuid4().hex[:6]}"
    cutoff = datetime.now(UTC) + timedelta(hours=1)
    async with (
        system.client("orders", Role.STORE_STAFF, "clerk", store=shop.store_id) as staff,
        system.client("orders", Role.SHOPPER, leader) as lead,
    ):
        await ok(await staff.post("/group-leaders", json={"shopper": leader}), 201)
        deal = await ok(
            await lead.post(
                "/group-buys",
                json={
                    "store_id": shop.store_id,
                    "title": "Eggs, cash welcome",
                    "items": [{"product_id": eggs, "group_price_fen": 1200, "per_person_limit": 3, "cap": 20}],
                    "minimum": 1,
                    "cutoff_at": cutoff.isoformat(),
                    "pickup": {"kind": "place", "name": "Lane 12 gate", "lat": HOME["lat"], "lon": HOME["lon"]},
                    "window": {"start": cutoff.isoformat(), "end": (cutoff + timedelta(hours=2)).isoformat()},
                    "cash_allowed": True,
                },
            ),
            201,
        )
        await ok(await staff.post(f"/group-buys/{deal['id']}/accept"))

        async def opened() -> bool:
            return bool((await ok(await lead.get(f"/group-buys/{deal['id']}")))["status"] == "open")

        await eventually(opened)

    context = await new_context(browser, mobile=True)
    try:
        page = await signed_in_page(context, system, "orders", Role.SHOPPER, neighbour)
        await set_home(page)
        await page.locator(f"[data-deal='{deal['id']}']").get_by_role("link").click()
        await page.fill(f"#deal-qty-{eggs}", "1")
        await page.check("#deal-cash")
        await page.click("#deal-join")
        await expect(page.locator("#deal-mine")).to_contain_text("pay ¥12.00 in cash at pickup")
        await expect(page.locator("#deal-cash")).to_have_count(0)  # a share keeps how it pays
    finally:
        await context.close()
    async with system.client("orders", Role.SHOPPER, neighbour) as me:
        money = (await ok(await me.get(f"/group-buys/{deal['id']}")))["my_share"]["money"]
        assert (money["payment"], money["paid_fen"], money["due_fen"], money["reconciles"]) == (
            "cash_at_pickup",
            0,
            1200,
            True,
        )
