"""The rider app on a phone: online, an offer taken in one tap, the position followed as the rider
moves, the bag picked up with the counter's code, "at the door" tapped with no connection and sent
once it returns, the delivery completed with the shopper's code — and the dispatcher sees each
step exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Geolocation, Request, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System, shopper, wait_status
from tests.e2e.test_delivery import HOME, place_delivery, shop_packs, told_by_the_counter
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

START = Geolocation(latitude=32.0415, longitude=118.7855)
AT_THE_SHOP = Geolocation(latitude=32.0400, longitude=118.7900)  # e2e shops stand at 32.04, 118.79
ADDRESS = str(HOME["text"])
STEPS = ("RiderAssigned", "RiderAtShop", "DeliveryPickedUp", "RiderAtDoor", "DeliveryCompleted")


@contextlib.asynccontextmanager
async def dispatchers_view(system: System, order_id: str) -> AsyncIterator[list[str]]:
    """The order's live stream as a dispatcher follows it: the names of the events, as they come."""
    seen: list[str] = []
    opened = asyncio.Event()

    async def follow() -> None:
        async with (
            system.client("dispatch", Role.DISPATCHER, "desk-rider-app") as desk,
            desk.stream("GET", f"/orders/{order_id}/live", timeout=httpx.Timeout(10, read=None)) as r,
        ):
            assert r.status_code == 200
            event = None
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line.removeprefix("event:").strip()
                elif line == "" and event:
                    seen.append(event)
                    opened.set()
                    event = None

    task = asyncio.create_task(follow())
    try:
        await asyncio.wait_for(opened.wait(), 20)
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_rider_delivers_through_a_lost_connection_and_each_step_counts_once(
    system: System, browser: Any, make_shop: Any
) -> None:
    rider_id = f"rider-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    async with system.client("dispatch", Role.DISPATCHER, "desk-1") as desk:
        r = await desk.put(
            f"/riders/{rider_id}", json={"name": "骑手小李 Rider Li", "vehicle": "e_bike", "capacity": 3}
        )
        assert r.status_code in (200, 201), r.text
        r = await desk.put(
            f"/riders/{rider_id}/shifts",
            json={
                "shifts": [
                    {
                        "starts_at": (now - timedelta(hours=1)).isoformat(),
                        "ends_at": (now + timedelta(hours=3)).isoformat(),
                    }
                ]
            },
        )
        assert r.status_code == 200, r.text
    shop = await make_shop({"water": 10}, accept_limit_s=600)

    context = await new_context(browser, mobile=True, permissions=["geolocation"], geolocation=START)
    try:
        page = await signed_in_page(context, system, "dispatch", Role.RIDER, rider_id, path="/app/rider/")
        await expect(page.locator("#shift")).to_contain_text("Today's shift")
        await page.get_by_role("button", name="Go online").click()
        await expect(page.locator("#state")).to_have_text("Online")
        await expect(page.locator("#position")).to_contain_text("Location sent")

        resident = f"resident-{uuid.uuid4().hex[:8]}"
        async with shopper(system, resident) as me:
            order_id = await place_delivery(me, shop.store_id, shop.products["water"])
            delivery_code = (await wait_status(me, order_id, "CONFIRMED"))["delivery_code"]
        async with dispatchers_view(system, order_id) as seen:
            await shop_packs(system, shop.store_id, order_id)
            # Other tests' riders and orders share the stack: answer the offer of this order.
            offer = page.locator(f"#offer-list .offer[data-order='{order_id}']")
            await expect(offer).to_contain_text("1 bag(s)", timeout=30_000)
            await offer.get_by_role("button", name="Accept").click()  # offers last 3 s in e2e
            card = page.locator(f"li.delivery[data-order='{order_id}']")
            await expect(card).to_contain_text("Going to pick up")
            # The map shows where the rider is and the shop; Navigate opens the phone's map app there.
            await expect(page.locator("#rider-map .map-point.rider")).to_have_count(1)
            await expect(page.locator("#rider-map .map-point.shop")).to_have_count(1)
            await expect(page.locator("#rider-map .map-point.home")).to_have_count(0)  # no door before the bag
            await expect(card.get_by_role("link", name="Navigate to the pickup")).to_have_attribute(
                "href", re.compile(r"^geo:32\.040000,118\.790000\?q=")
            )
            await expect(card).to_contain_text("Pick up at the counter")
            await expect(card).not_to_contain_text(ADDRESS)

            await context.set_geolocation(AT_THE_SHOP)
            await eventually(lambda: rider_is_near(system, rider_id, AT_THE_SHOP))

            await card.get_by_role("button", name="At the pickup point").click()
            await card.get_by_label("Shop's handover code").fill("000000")
            await card.get_by_role("button", name="Picked up").click()
            await expect(card.get_by_role("alert")).to_contain_text("not this order's handover code")
            await card.get_by_label("Shop's handover code").fill(
                await told_by_the_counter(system, shop.store_id, order_id)
            )
            await card.get_by_role("button", name="Picked up").click()
            await expect(card).to_contain_text("On the way")
            await expect(card).to_contain_text(ADDRESS)
            await expect(page.locator("#rider-map .map-point.home")).to_have_count(1)
            await expect(page.locator("#rider-map .map-point.shop")).to_have_count(0)  # picked up
            await expect(card.get_by_role("link", name="Navigate to the pickup")).to_have_count(0)
            await expect(card.get_by_role("link", name="Navigate to the door")).to_have_attribute(
                "href", re.compile(rf"^geo:{HOME['lat']:.6f},{HOME['lon']:.6f}\?q=")
            )
            await screenshot(page, "rider-app")

            at_door_keys: list[str] = []

            def note(request: Request) -> None:
                if request.url.endswith(f"/deliveries/{order_id}/at-door"):
                    at_door_keys.append(request.headers.get("idempotency-key", ""))

            page.on("request", note)
            await context.set_offline(True)
            await card.get_by_role("button", name="At the door").click()
            await expect(page.locator("#outbox")).to_contain_text("waiting to send")
            await expect(page.locator("#connection")).to_be_visible()
            await expect(card).to_contain_text("waiting to send")
            kept = await page.evaluate(f"localStorage.getItem('linli.rider.outbox.{rider_id}')")
            assert [e["step"] for e in json.loads(kept)] == ["at-door"], kept
            assert "RiderAtDoor" not in seen, "nothing reaches the server while the phone is offline"
            wrong = "000000" if delivery_code != "000000" else "111111"
            await card.get_by_label("Shopper's delivery code").fill(wrong)  # a slip of the thumb, offline
            await card.get_by_role("button", name="Delivered", exact=True).click()
            await expect(page.locator("#outbox li")).to_have_count(2)

            await context.set_offline(False)
            refused = page.locator("#outbox li.refused")
            await expect(refused).to_contain_text("not the shopper's delivery code")
            await expect(page.locator("#outbox li")).to_have_count(1)
            await expect(card).to_contain_text("At the door")
            await expect(card).not_to_contain_text("waiting to send")
            assert at_door_keys, at_door_keys
            assert len(set(at_door_keys)) == 1, at_door_keys
            assert at_door_keys[0], at_door_keys
            await refused.get_by_role("button", name="Dismiss").click()
            await expect(page.locator("#outbox")).to_be_hidden()

            await card.get_by_label("Shopper's delivery code").fill(delivery_code)
            await card.get_by_role("button", name="Delivered", exact=True).click()
            await expect(page.locator("#deliveries-none")).to_be_visible()
            async with shopper(system, resident) as me:
                await wait_status(me, order_id, "DELIVERED")
            await eventually(lambda: _has(seen, "DeliveryCompleted"))
        for step in STEPS:
            assert seen.count(step) == 1, f"{step} seen {seen.count(step)} times in {seen}"

        await page.get_by_role("button", name="Take a break").click()
        await expect(page.locator("#state")).to_have_text("On a break")
        await page.get_by_role("button", name="Go offline").click()
        await expect(page.locator("#state")).to_have_text("Offline")
    finally:
        await context.close()


async def _has(seen: list[str], name: str) -> bool:
    return name in seen


async def rider_is_near(system: System, rider_id: str, where: Geolocation) -> bool:
    """The dispatcher's roster shows the rider where the phone says they are."""
    async with system.client("dispatch", Role.DISPATCHER, "desk-1") as desk:
        roster = (await desk.get("/riders")).json()
    position = next(r for r in roster if r["id"] == rider_id)["position"] or {}
    return (
        abs(position.get("lat", 0) - where["latitude"]) < 1e-5
        and abs(position.get("lon", 0) - where["longitude"]) < 1e-5
    )
