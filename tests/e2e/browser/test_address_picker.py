"""Homes by building in the shopper app: a shopper and a helper find their estate in the circle's
address book by pinyin or English, type only unit and room, and the order goes to the building's
entrance; a home outside the book is placed by a tap on the map."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.browser.test_shopper_app import WATER, ok, top_up
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

# An estate ~150 m from the e2e shops (32.04, 118.79).
BOOK = "estate_id,estate_zh,estate_en,building,lat,lon\n" + "".join(
    f"test-garden,鼓楼测试花园,Gulou Test Garden,{n},{32.0412 + n / 10_000:.6f},118.7911\n" for n in (1, 2, 3, 13)
)


async def load_book(system: System) -> None:
    async with system.client("orders", Role.ADMIN, "circle-operator") as admin:
        response = await admin.put("/admin/address-book", content=BOOK.encode(), headers={"Content-Type": "text/csv"})
        assert response.status_code == 200, response.text


async def test_a_shopper_picks_her_building_by_pinyin_and_the_order_goes_to_its_entrance(
    system: System, browser: Browser, make_shop: Any
) -> None:
    await load_book(system)
    shop = await make_shop(products={"water": WATER}, accept_limit_s=600)
    subject = f"picker-{uuid.uuid4().hex[:6]}"
    await top_up(system, subject, 10_000)
    here = {"latitude": 32.0421, "longitude": 118.7899}
    context = await new_context(browser, mobile=True, permissions=["geolocation"], geolocation=here)
    page = await signed_in_page(context, system, "orders", Role.SHOPPER, subject)

    # A home outside the book: a tap on the map (fitted to the book's buildings) places it.
    await expect(page.locator("#home-map .map-point.building")).to_have_count(4)
    box = await page.locator("#home-map").bounding_box()
    assert box is not None
    await page.locator("#home-map").click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    lat, lon = float(await page.input_value("#home-lat")), float(await page.input_value("#home-lon"))
    assert abs(lat - 32.04185) < 0.0008, lat  # the middle of the estate
    assert abs(lon - 118.7911) < 0.0008, lon
    await expect(page.locator("#home-map .map-point.home")).to_have_count(1)
    # "Use my location" still places it where the phone is.
    await page.click("#home-locate")
    await expect(page.locator("#home-lat")).to_have_value("32.042100")
    await expect(page.locator("#home-lon")).to_have_value("118.789900")

    # Her building, by pinyin and its number: she types only unit and room.
    await page.fill("#home-building-q", "ceshi 3")
    choice = page.locator("#home-buildings [data-building='test-garden/3']")
    await expect(choice).to_contain_text("鼓楼测试花园 3栋")
    await expect(page.locator("#home-buildings [data-building]")).to_have_count(1)  # not 13
    await choice.click()
    await expect(page.locator("#home-picked")).to_contain_text("Gulou Test Garden, Building 3")
    await page.fill("#home-unit", "2")
    await page.fill("#home-room", "502")
    await screenshot(page, "shopper-address-picker")
    await page.click("#save-home")
    card = page.locator(f"[data-store='{shop.store_id}']")
    await expect(card).to_contain_text("min walk")

    await card.get_by_role("link").click()
    await page.click(f"[data-add='{shop.products['water']}']")
    await page.goto(system.url("orders") + "/app/#/checkout")
    await page.click("#place")
    await page.wait_for_url("**/app/#/order/*")
    order_id = page.url.rsplit("/", 1)[1]
    async with system.client("orders", Role.SHOPPER, subject) as me:
        order = await ok(await me.get(f"/orders/{order_id}"))
    assert order["fulfilment"]["address"] == {"text": "鼓楼测试花园 3栋 2单元 502室", "lat": 32.0415, "lon": 118.7911}
    await context.close()


async def test_a_helper_registers_a_resident_by_estate_and_building_in_english(
    system: System, browser: Browser
) -> None:
    await load_book(system)
    context = await new_context(browser)
    page = await signed_in_page(context, system, "orders", Role.HELPER, f"centre-{uuid.uuid4().hex[:6]}")
    await page.click("a[href='#/residents']")
    await page.fill("#r-name", "Zhou Yeye")
    await page.fill("#r-building-q", "zzzz")
    await expect(page.locator("#r-buildings")).to_contain_text("Nothing found")
    await page.fill("#r-building-q", "Test Garden 13")
    await page.locator("#r-buildings [data-building='test-garden/13']").click()
    await page.fill("#r-room", "101")
    await page.locator("#register button[type='submit']").click()
    resident = page.locator("[data-resident]")
    await expect(resident).to_have_count(1)
    await expect(page.locator("#view")).to_contain_text("鼓楼测试花园 13栋 101室")
    await context.close()
