"""The dispatch board in a real browser: a dispatcher signs in, sees riders on the map and an order
in the open list, is told why an assignment is refused, assigns and reassigns by hand, and
watches the order leave the list when the rider delivers it — all live, without a reload."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.async_api import Locator, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import Rider, shopper, wait_status
from tests.e2e.test_delivery import place_delivery, shop_packs, told_by_the_counter

pytestmark = pytest.mark.e2e


async def assign_on_board(row: Locator, rider_id: str) -> None:
    await row.locator("select.assign-rider").select_option(rider_id)
    await row.locator("button.assign").click()


async def test_a_dispatcher_assigns_reassigns_and_sees_the_order_delivered_live(browser, system, make_shop) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    context = await new_context(browser)
    page = await context.new_page()
    page.on("pageerror", lambda error: print(f"[board page error] {error}"))
    started: list[Rider] = []
    async with system.client("dispatch", Role.DISPATCHER, "desk-board") as desk:
        try:
            await page.goto(system.url("dispatch") + "/app/board/")
            await page.locator("#signin-role").select_option("dispatcher")
            await page.locator("#signin-subject").fill("desk-board")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("#live")).to_have_text("Live")
            await page.evaluate("window.sameBoard = true")  # gone if the page ever reloads

            for lat, lon in ((32.0415, 118.7855), (32.0440, 118.7900)):
                started.append(await Rider(system, f"rider-{uuid.uuid4().hex[:6]}", lat, lon).start(desk))
            first, second = started
            for rider in started:
                await expect(page.locator(f'#riders tr[data-rider-id="{rider.id}"]')).to_be_visible()
                await expect(page.locator(f'#map g[data-id="rider:{rider.id}"]')).to_have_count(1)

            resident = f"resident-{uuid.uuid4().hex[:8]}"
            async with shopper(system, resident) as me:
                order_id = await place_delivery(me, shop.store_id, shop.products["water"])
                code = (await wait_status(me, order_id, "CONFIRMED"))["delivery_code"]
                row = page.locator(f'#orders tr[data-order-id="{order_id}"]')
                await expect(row).to_be_visible()

                # The shop has not accepted yet: the server refuses, and the board says why.
                await expect(row.locator(".badge.status-pending")).to_have_count(1)
                await assign_on_board(row, first.id)
                await expect(row.get_by_role("alert")).to_contain_text(re.compile(r"\w"))

                await shop_packs(system, shop.store_id, order_id)
                await expect(row.locator(".badge.status-pending")).to_have_count(0)

                # Rounds only offer (these riders never accept), yet be robust to who holds it already.
                holder = row.locator(".assigned-rider")
                held = await holder.get_attribute("data-rider-id") if await holder.count() else None
                target, other = (second, first) if held == first.id else (first, second)
                await assign_on_board(row, target.id)
                await expect(row.locator(f'.assigned-rider[data-rider-id="{target.id}"]')).to_be_visible()
                await expect(row.get_by_role("alert")).to_be_empty()
                await assign_on_board(row, other.id)  # reassign by hand
                await expect(row.locator(f'.assigned-rider[data-rider-id="{other.id}"]')).to_be_visible()
                other_row = page.locator(f'#riders tr[data-rider-id="{other.id}"]')
                await expect(other_row.locator(".rider-state")).to_have_text("To shop")
                await expect(page.locator(f'#map g[data-id="rider:{other.id}"]')).to_have_count(1)
                await expect(page.locator(f'#map g[data-id="door:{order_id}"]')).to_have_count(1)
                await expect(page.locator(".toast")).to_have_count(0)  # the picture shows the board, not a toast
                await screenshot(page, "dispatch-board")

                await other.step(order_id, "at-shop")
                await other.step(
                    order_id, "picked-up", {"code": await told_by_the_counter(system, shop.store_id, order_id)}
                )
                await other.step(order_id, "at-door")
                await other.step(order_id, "delivered", {"code": code})
                await expect(row).to_have_count(0)
                await wait_status(me, order_id, "DELIVERED")
            assert await page.evaluate("window.sameBoard === true"), "the board reloaded instead of updating live"
        finally:
            for rider in started:
                await rider.stop()
            await context.close()


async def test_a_dispatcher_edits_a_riders_shifts_by_keyboard_in_either_language(browser, system) -> None:
    rider_id = f"rider-{uuid.uuid4().hex[:6]}"
    context = await new_context(browser)
    async with system.client("dispatch", Role.DISPATCHER, "desk-shifts") as desk:
        made = await desk.put(f"/riders/{rider_id}", json={"name": "Shift Rider", "vehicle": "bicycle", "capacity": 2})
        assert made.status_code in (200, 201), made.text
        try:
            page = await signed_in_page(context, system, "dispatch", Role.DISPATCHER, "desk-shifts", path="/app/board/")
            row = page.locator(f'#riders tr[data-rider-id="{rider_id}"]')
            await expect(row).to_contain_text("No shift")
            await row.get_by_role("button", name="Edit the shifts of Shift Rider").focus()
            await page.keyboard.press("Enter")
            dialog = page.get_by_role("dialog")
            await expect(dialog).to_be_visible()
            await dialog.get_by_role("button", name="Add a shift").press("Enter")
            ends = dialog.get_by_label("Ends")
            starts = await dialog.get_by_label("Starts").input_value()
            await ends.fill(starts)  # ends when it starts: refused here, before any request
            await dialog.get_by_role("button", name="Save").press("Enter")
            await expect(dialog.get_by_role("alert")).to_contain_text("Shift 1")
            await dialog.get_by_label("Starts").fill(starts[:11] + "00:00")  # the whole of today
            await ends.fill(starts[:11] + "23:59")
            await dialog.get_by_role("button", name="Save").press("Enter")
            await expect(dialog).to_be_hidden()
            await expect(row).not_to_contain_text("No shift")
            roster = (await desk.get("/riders")).json()
            mine = next(r for r in roster if r["id"] == rider_id)
            assert len(mine["shifts_today"]) == 1, mine

            await page.locator("#lang-switch").click()
            await expect(page.locator("#orders-title")).to_have_text("待完成订单")
            await expect(row.get_by_role("button", name="编辑 Shift Rider 的班次")).to_be_visible()
        finally:
            await context.close()
