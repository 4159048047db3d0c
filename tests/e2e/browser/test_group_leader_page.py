"""The group leader's page in Chromium: the leader opens a deal from it, follows a neighbour joining live
(no reload), and after the cutoff sees every bag, confirms their arrival and hands one out with the
neighbour's scanned QR text (while an older refresh of the bags answers late, and must not draw the bag
back as waiting); the same code a second time is refused, saying when it was used."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Route, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.browser.test_shopper_app import HOME, ok, top_up
from tests.e2e.conftest import System
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CUTOFF_S = 8


async def test_a_leader_opens_follows_joins_live_and_hands_out_bags_at_pickup(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop({"tofu": 40}, price_fen=800)
    tofu = shop.products["tofu"]
    leader, neighbour = f"leader-{uuid.uuid4().hex[:6]}", f"neighbour-{uuid.uuid4().hex[:6]}"
    async with system.client("orders", Role.STORE_STAFF, "clerk", store=shop.store_id) as staff:
        await ok(await staff.post("/group-leaders", json={"shopper": leader}), 201)
    await top_up(system, neighbour, 10_000)
    context = await new_context(browser, mobile=True)
    page = await signed_in_page(context, system, "orders", Role.SHOPPER, leader, path="/app/leader.html#/new")

    # Opening from the page (a cutoff tomorrow: the form's defaults).
    await page.fill("#new-store", shop.store_id)
    await page.click("#new-load")
    row = page.locator(f"[data-product='{tofu}']")
    await row.locator(".pick").check()
    await row.locator(".price").fill("600")
    await page.fill("#new-title", "Tofu for Lane 3")
    await page.fill("#new-pickup", "Lane 3 gate")
    await page.fill("#new-lat", str(HOME["lat"]))
    await page.fill("#new-lon", str(HOME["lon"]))
    await page.click("#new-open")
    await expect(page.locator("#deal-status")).to_have_text("proposed")

    # A second deal with a short cutoff, followed live from its page while a neighbour joins.
    cutoff = datetime.now(UTC) + timedelta(seconds=CUTOFF_S)
    async with (
        system.client("orders", Role.STORE_STAFF, "clerk", store=shop.store_id) as staff,
        system.client("orders", Role.SHOPPER, leader) as lead,
        system.client("orders", Role.SHOPPER, neighbour) as nb,
    ):
        deal = await ok(
            await lead.post(
                "/group-buys",
                json={
                    "store_id": shop.store_id,
                    "title": "Quick tofu",
                    "items": [{"product_id": tofu, "group_price_fen": 600, "per_person_limit": 3, "cap": 10}],
                    "minimum": 1,
                    "cutoff_at": cutoff.isoformat(),
                    "pickup": {"kind": "place", "name": "Lane 3 gate", "lat": HOME["lat"], "lon": HOME["lon"]},
                    "window": {"start": cutoff.isoformat(), "end": (cutoff + timedelta(hours=2)).isoformat()},
                },
            ),
            201,
        )
        await ok(await staff.post(f"/group-buys/{deal['id']}/accept"))

        async def opened() -> bool:
            return bool((await ok(await lead.get(f"/group-buys/{deal['id']}")))["status"] == "open")

        await eventually(opened)
        await page.goto(system.url("orders") + f"/app/leader.html#/deal/{deal['id']}")
        await expect(page.locator("#deal-live")).to_have_text("Live")
        await expect(page.locator("#deal-totals")).to_contain_text("0 joined")
        await ok(await nb.put(f"/group-buys/{deal['id']}/share", json={"items": [{"product_id": tofu, "quantity": 2}]}))
        await expect(page.locator("#deal-totals")).to_contain_text("1 joined · 2 pieces")  # live, no reload
        await expect(page.locator(f"#deal-shares [data-holder='{neighbour}']")).to_contain_text("joined")

        async def closed() -> bool:
            return bool((await ok(await nb.get(f"/group-buys/{deal['id']}")))["status"] == "closed")

        await eventually(closed, within=CUTOFF_S + 15)
        code = (await ok(await nb.get(f"/group-buys/{deal['id']}")))["my_share"]["collection_code"]

    await expect(page.locator("#deal-status")).to_have_text("closed")
    await expect(page.locator("#deal-trip")).to_have_attribute("data-kind", "counter")  # not delivered: the counter
    bag = page.locator("#deal-bags [data-bag='1']")
    await expect(bag).to_contain_text("waiting")

    # The refresh after "arrived" is answered only after the hand-out's own refresh has drawn: that
    # slow answer (taken before the hand-out) must not draw the bag back as waiting.
    held: asyncio.Future[Route] = asyncio.get_running_loop().create_future()
    release = asyncio.Event()

    async def hold_first_bags(route: Route) -> None:
        if held.done():
            await route.continue_()
            return
        before = await route.fetch()  # the bags as they are now, before the hand-out
        held.set_result(route)
        await release.wait()
        await route.fulfill(response=before)

    await page.route("**/bags", hold_first_bags)
    await page.click("#deal-arrive")
    await asyncio.wait_for(held, 10)
    await page.fill("#checkout-code", f"linli:groupbuy:{deal['id']}:1:{code}")  # what the scanner reads
    await page.click("#checkout-give")
    await expect(bag).to_have_attribute("data-state", "collected")
    async with page.expect_request_finished(lambda r: r.url.endswith("/bags")):
        release.set()
    await page.evaluate("() => new Promise((done) => setTimeout(done, 100))")  # let the late answer land
    await expect(bag).to_have_attribute("data-state", "collected")
    await expect(page.locator("#deal-arrived")).to_contain_text("arrived")
    await expect(page.locator("#deal-count")).to_contain_text("1 of 1 collected")
    await page.unroute("**/bags")
    await page.fill("#checkout-code", f"linli:groupbuy:{deal['id']}:1:{code}")
    await page.click("#checkout-give")
    await expect(page.locator(".toast").last).to_contain_text("a code is used once")
    await page.click("#lang-switch")
    await expect(page.locator("#deal-count")).to_contain_text("袋子 1/1 已取")
    await context.close()
