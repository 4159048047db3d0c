"""Group buying in the shopper's app, in a phone-sized Chromium: the open deal shows next to the shops with
how many joined, what is left and a countdown; a neighbour joins from the deal's page, paid from the
balance, and once the cutoff closes the deal sees the bag's collection code and its QR."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.browser.test_shopper_app import HOME, ok, set_home, top_up
from tests.e2e.conftest import System
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CUTOFF_S = 10  # long enough to open, accept and join; short enough to wait for


async def test_a_neighbour_joins_a_deal_near_home_and_sees_the_bags_code_after_the_cutoff(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop({"eggs": 40}, price_fen=1500)
    eggs = shop.products["eggs"]
    leader, neighbour = f"leader-{uuid.uuid4().hex[:6]}", f"neighbour-{uuid.uuid4().hex[:6]}"
    cutoff = datetime.now(UTC) + timedelta(seconds=CUTOFF_S)
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
                    "title": "Fresh eggs for Lane 12",
                    "items": [{"product_id": eggs, "group_price_fen": 1200, "per_person_limit": 3, "cap": 20}],
                    "minimum": 1,
                    "cutoff_at": cutoff.isoformat(),
                    "pickup": {"kind": "place", "name": "Lane 12 gate", "lat": HOME["lat"], "lon": HOME["lon"]},
                    "window": {"start": cutoff.isoformat(), "end": (cutoff + timedelta(hours=2)).isoformat()},
                },
            ),
            201,
        )
        await ok(await staff.post(f"/group-buys/{deal['id']}/accept"))

        async def opened() -> bool:  # inventory held the cap and told orders
            return bool((await ok(await lead.get(f"/group-buys/{deal['id']}")))["status"] == "open")

        await eventually(opened)

    await top_up(system, neighbour, 10_000)
    context = await new_context(browser, mobile=True)
    page = await signed_in_page(context, system, "orders", Role.SHOPPER, neighbour)
    await set_home(page)
    card = page.locator(f"[data-deal='{deal['id']}']")
    await expect(card).to_contain_text("Fresh eggs for Lane 12")
    await expect(card).to_contain_text("0 joined")
    await expect(card).to_contain_text("20 left")
    await expect(card.locator(".countdown")).to_contain_text("closes in")
    await card.get_by_role("link").click()
    await expect(page.locator("#deal-rule")).to_contain_text("back to the shop, refunded")  # shown before joining
    await page.fill(f"#deal-qty-{eggs}", "2")
    await page.click("#deal-join")
    await expect(page.locator("#deal-mine")).to_contain_text("¥24.00")
    await expect(page.locator("#deal-leave")).to_be_visible()

    async with system.client("orders", Role.SHOPPER, neighbour) as me:

        async def closed() -> bool:
            return bool((await ok(await me.get(f"/group-buys/{deal['id']}")))["status"] == "closed")

        await eventually(closed, within=CUTOFF_S + 15)
        code = (await ok(await me.get(f"/group-buys/{deal['id']}")))["my_share"]["collection_code"]
    await page.reload()
    await expect(page.locator("#deal-status")).to_have_text("Going ahead")
    await expect(page.locator("#deal-code")).to_have_text(code)
    qr = page.locator("#deal-code-card img.qr")
    await expect(qr).to_be_visible()
    # The service drew it for her: visible comes before loaded, so wait for the picture itself (a broken
    # image is complete with no width, and times this out).
    await page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await qr.element_handle())
    await context.close()
