"""An addition on the rider's phone: a rider with a trip in hand (assigned, not picked up) is offered
another order of the same shop on top of it; the app shows it as an addition to that trip, and
accepting it puts both orders in the rider's hands."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Locator, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.browser.test_rider_app import AT_THE_SHOP
from tests.e2e.conftest import System, shopper, wait_status
from tests.e2e.test_delivery import place_delivery, shop_packs
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def take(offer: Locator, button: str, card: Locator) -> None:
    """Tap the offer's button until its delivery is in hand: offers last 3 s in e2e, and on a busy
    machine one may lapse under the tap (the next round offers it again)."""
    for _ in range(3):
        await expect(offer).to_be_visible(timeout=30_000)
        await offer.get_by_role("button", name=button).click()
        with contextlib.suppress(AssertionError):
            await expect(card).to_contain_text("Going to pick up", timeout=5_000)
            return
    await expect(card).to_contain_text("Going to pick up")


async def test_a_rider_accepts_an_addition_to_the_trip_in_hand(system: System, browser: Any, make_shop: Any) -> None:
    rider_id = f"rider-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    async with system.client("dispatch", Role.DISPATCHER, "desk-addition") as desk:
        r = await desk.put(f"/riders/{rider_id}", json={"name": "Rider Add", "vehicle": "e_bike", "capacity": 3})
        assert r.status_code in (200, 201), r.text
        shift = {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=3)).isoformat()}
        r = await desk.put(f"/riders/{rider_id}/shifts", json={"shifts": [shift]})
        assert r.status_code == 200, r.text
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    context = await new_context(browser, mobile=True, permissions=["geolocation"], geolocation=AT_THE_SHOP)
    try:
        page = await signed_in_page(context, system, "dispatch", Role.RIDER, rider_id, path="/app/rider/")
        await page.get_by_role("button", name="Go online").click()
        await expect(page.locator("#state")).to_have_text("Online")
        await expect(page.locator("#position")).to_contain_text("Location sent")

        async with shopper(system) as me:
            first = await place_delivery(me, shop.store_id, shop.products["water"])
            await wait_status(me, first, "CONFIRMED")
            await shop_packs(system, shop.store_id, first)
            # The first trip is this rider's by hand (other tests' riders may be near the same shop).
            async with system.client("dispatch", Role.DISPATCHER, "desk-addition") as desk:

                async def assigned() -> bool:  # once the shop's acceptance has reached dispatch
                    r = await desk.post(
                        f"/orders/{first}/assign",
                        json={"rider_id": rider_id},
                        headers={"Idempotency-Key": str(uuid.uuid4())},
                    )
                    assert r.status_code in (200, 409), r.text
                    return r.status_code == 200

                await eventually(assigned, 20)
            await expect(page.locator(f"li.delivery[data-order='{first}']")).to_contain_text("Going to pick up")

            second = await place_delivery(me, shop.store_id, shop.products["water"])
            await wait_status(me, second, "CONFIRMED")
            await shop_packs(system, shop.store_id, second)
            addition = page.locator("#offer-list .offer.addition")
            await expect(addition).to_contain_text("Add to your trip", timeout=30_000)
            await expect(addition.locator(".adds-to")).to_contain_text(f"#{first[:8]}")
            await take(addition, "Add this order", page.locator(f"li.delivery[data-order='{second}']"))
            await expect(page.locator(f"li.delivery[data-order='{first}']")).to_contain_text("Going to pick up")
    finally:
        await context.close()
