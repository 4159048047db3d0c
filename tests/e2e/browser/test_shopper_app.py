"""The shopper's app in a phone-sized Chromium: find the shop from home, search by pinyin, fill a
basket, check out from the balance, follow the order live, approve a heavier fish, see the
ledger settle; and a helper ordering for a resident in the large-text mode."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

HOME = {"text": "3 Lane 12, Gulou", "lat": 32.0412, "lon": 118.7911}  # ~150 m from the test shops
FISH = {
    "name_zh": "新鲜草鱼",
    "name_en": "Fresh grass carp",
    "unit": "g",
    "grams_per_piece": 600,
    "price_fen": 1800,
    "on_hand": 6000,
}
WATER = {"name_zh": "矿泉水", "name_en": "Mineral water", "price_fen": 200, "on_hand": 50}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


async def top_up(system: System, holder: str, amount_fen: int) -> None:
    async with system.client("orders", Role.ADMIN, "service-centre-desk") as desk:
        await ok(
            await desk.post(
                "/balance/top-ups",
                json={"holder": holder, "amount_fen": amount_fen, "note": "cash at the service centre"},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ),
            201,
        )


async def set_home(page: Page) -> None:
    await page.fill("#home-address", HOME["text"])
    await page.fill("#home-lat", str(HOME["lat"]))
    await page.fill("#home-lon", str(HOME["lon"]))
    await page.click("#save-home")


async def test_a_shopper_finds_orders_follows_and_approves_in_the_app(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop(products={"carp": FISH, "water": WATER}, accept_limit_s=600)
    subject = f"app-shopper-{uuid.uuid4().hex[:6]}"
    await top_up(system, subject, 10_000)
    context = await new_context(browser, mobile=True)
    page = await signed_in_page(context, system, "orders", Role.SHOPPER, subject)

    await set_home(page)
    card = page.locator(f"[data-store='{shop.store_id}']")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("min walk")

    # Pinyin finds the fish by its Chinese name.
    await page.fill("#search", "caoyu")
    await page.keyboard.press("Enter")
    await expect(page.locator(f"#search-results [data-product='{shop.products['carp']}']")).to_be_visible()
    await screenshot(page, "shopper-app")

    await card.get_by_role("link").click()
    await page.click(f"[data-add='{shop.products['carp']}']")
    await page.click(f"[data-add='{shop.products['water']}']")
    await page.goto(system.url("orders") + "/app/#/basket")
    await expect(page.locator("[data-line]")).to_have_count(2)
    # If the carp runs out, she names the substitute herself (from the same shop).
    await page.select_option("#sub-0", f"product:{shop.products['water']}")
    await page.click("#to-checkout")
    # 600 g of carp at 18 yuan/kg, one water, no delivery fee on the test shop.
    await expect(page.locator("#total")).to_have_text("¥12.80")
    await page.click("#place")
    await page.wait_for_url("**/app/#/order/*")
    order_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#order [data-status='CONFIRMED']").first).to_be_visible()

    async with system.client("inventory", Role.STORE_STAFF, "counter", store=shop.store_id) as counter:
        base = f"/stores/{shop.store_id}/orders/{order_id}"
        await ok(await counter.post(f"{base}/accept"))
        await ok(await counter.post(f"{base}/picking"))
        async with system.client("orders", Role.SHOPPER, subject) as me:
            order = await ok(await me.get(f"/orders/{order_id}"))
        carp_line = next(ln["line_no"] for ln in order["lines"] if ln["product_id"] == shop.products["carp"])
        carp = next(ln for ln in order["lines"] if ln["line_no"] == carp_line)
        assert carp["substitution"] == {"mode": "product", "product_id": shop.products["water"]}
        water_line = next(ln["line_no"] for ln in order["lines"] if ln["product_id"] == shop.products["water"])
        # 690 g: 15 % over the estimate, so the shopper is asked — on the page, live.
        await ok(await counter.post(f"{base}/lines/{carp_line}/picked", json={"weight_g": 690}))
        await ok(await counter.post(f"{base}/lines/{water_line}/picked", json={}))
        question = page.locator(f"[data-approval='{carp_line}']")
        await expect(question).to_be_visible()
        await question.locator("[data-answer='accept']").click()
        await expect(question).to_have_count(0)  # answered: orders has it

        async def settled() -> bool:  # and the shop has settled it (ApprovalGiven reached inventory)
            async with system.client("orders", Role.SHOPPER, subject, balance_fen=0) as me:
                return not (await ok(await me.get(f"/orders/{order_id}")))["pending_approvals"]

        await eventually(settled)
        await ok(await counter.post(f"{base}/packed", json={"bags": 1, "weight_g": 900}))

    await expect(
        page.locator("#order [data-status='READY_FOR_PICKUP'], #order [data-status='PACKED']").first
    ).to_be_visible()
    # 690 g of carp is 12.42 yuan, plus 2 yuan water: 14.42 — 1.62 more than shown, charged from the balance.
    ledger = page.locator("#ledger")
    await expect(ledger.locator("[data-ledger='ledger.final']")).to_contain_text("¥14.42")
    # In Chinese, the timeline reads in Chinese too (its causes are written by the services in English).
    await page.click("#lang-switch")
    await expect(page.locator("#timeline")).to_contain_text("库存已预留")
    await expect(page.locator("#timeline")).to_contain_text("第 1 行称重 690 克")
    await context.close()


async def test_a_helper_registers_a_resident_and_orders_for_them_in_large_text(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop(products={"water": WATER}, accept_limit_s=600)
    helper = f"centre-{uuid.uuid4().hex[:6]}"
    context = await new_context(browser)
    page = await signed_in_page(context, system, "orders", Role.HELPER, helper)
    await page.click("#text-size")
    await expect(page.locator("html")).to_have_class("large")

    await page.click("a[href='#/residents']")
    await page.fill("#r-name", "Wang Nainai")
    await page.fill("#r-address", HOME["text"])
    await page.fill("#r-lat", str(HOME["lat"]))
    await page.fill("#r-lon", str(HOME["lon"]))
    await page.check("#r-call")
    await page.check("#r-pod")
    await page.locator("#register button[type='submit']").click()
    pick = page.locator("[data-resident]")
    await expect(pick).to_have_count(1)
    await pick.click()
    await expect(page.locator("#for-whom")).to_contain_text("Wang Nainai")

    card = page.locator(f"[data-store='{shop.store_id}']")
    await card.get_by_role("link").click()
    await page.click(f"[data-add='{shop.products['water']}']")
    await page.goto(system.url("orders") + "/app/#/checkout")
    # A resident who pays on delivery needs no balance.
    await expect(page.locator("#pay-on_delivery")).to_be_checked()
    await expect(page.locator("#total")).to_have_text("¥2.00")
    await page.click("#place")
    await page.wait_for_url("**/app/#/order/*")
    order_id = page.url.rsplit("/", 1)[1]
    await screenshot(page, "shopper-app-helper")

    async with system.client("orders", Role.HELPER, helper) as as_helper:
        order = await ok(await as_helper.get(f"/orders/{order_id}"))
    assert order["placed_for"].startswith("res-")
    assert order["flags"] == {"call_before_delivery": True, "pay_on_delivery": True}
    await context.close()
