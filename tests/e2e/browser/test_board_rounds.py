"""The board's view of the rounds in a real browser: assigning a rider whose shift has ended asks
for an explicit override (cancel keeps the order unassigned, confirming assigns it and the order's
timeline names who overrode), and the Rounds card shows whose shift ends within the hour."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.conftest import Rider, eventually, shopper, wait_status
from tests.e2e.test_delivery import place_delivery, shop_packs

pytestmark = pytest.mark.e2e


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def test_assigning_a_rider_off_shift_asks_for_an_override_and_the_timeline_keeps_it(
    browser, system, make_shop
) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    context = await new_context(browser)
    started: list[Rider] = []
    desk_id = f"desk-{uuid.uuid4().hex[:6]}"
    async with system.client("dispatch", Role.DISPATCHER, desk_id) as desk:
        try:
            now = datetime.now(UTC)
            gone = await Rider(system, f"gone-{uuid.uuid4().hex[:6]}", 32.0440, 118.7900).start(desk)
            leaving = await Rider(system, f"leaving-{uuid.uuid4().hex[:6]}", 32.0442, 118.7902).start(desk)
            started += [gone, leaving]
            for rider, shift in (
                (gone, {"starts_at": iso(now - timedelta(hours=2)), "ends_at": iso(now - timedelta(minutes=30))}),
                (leaving, {"starts_at": iso(now - timedelta(hours=1)), "ends_at": iso(now + timedelta(minutes=40))}),
            ):
                r = await desk.put(f"/riders/{rider.id}/shifts", json={"shifts": [shift]})
                assert r.status_code == 200, r.text
            page = await signed_in_page(context, system, "dispatch", Role.DISPATCHER, desk_id, path="/app/board/")
            page.on("pageerror", lambda error: print(f"[board page error] {error}"))

            # The Rounds card: the shift ending within the hour, and the rider in hand count.
            ends = page.locator(f'#plan-shift-ends li[data-rider-id="{leaving.id}"]')
            await expect(ends).to_contain_text(f"Rider {leaving.id} off at")

            async with shopper(system) as me:
                order_id = await place_delivery(me, shop.store_id, shop.products["water"])
                await wait_status(me, order_id, "CONFIRMED")
                await shop_packs(system, shop.store_id, order_id)
                row = page.locator(f'#orders tr[data-order-id="{order_id}"]')
                await expect(row.locator(".badge.status-pending")).to_have_count(0)

                dialog = page.locator("#override-dialog")
                await row.locator("select.assign-rider").select_option(gone.id)
                await row.locator("button.assign").click()
                await expect(dialog).to_be_visible()
                await expect(dialog.get_by_role("alert")).to_contain_text("shift ended")
                await dialog.get_by_role("button", name="Cancel").click()
                await expect(dialog).to_be_hidden()
                await expect(row.get_by_role("alert")).to_contain_text("off shift")
                await expect(row.locator(f'.assigned-rider[data-rider-id="{gone.id}"]')).to_have_count(0)

                await row.locator("button.assign").click()
                await expect(dialog).to_be_visible()
                await dialog.get_by_role("button", name="Assign anyway").click()
                await expect(row.locator(f'.assigned-rider[data-rider-id="{gone.id}"]')).to_be_visible()
                await expect(row.get_by_role("alert")).to_be_empty()

                async def overridden() -> dict | None:
                    order = (await me.get(f"/orders/{order_id}")).json()
                    causes = " ".join(e["cause"] for e in order["timeline"])
                    return order if "off shift" in causes and f"by {desk_id}" in causes else None

                await eventually(overridden, 20)
        finally:
            for rider in started:
                await rider.stop()
            await context.close()
