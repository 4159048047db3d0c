"""Text messages through the consoles: a helper ticks the moments for a resident who has no app in
the shopper app's settings, the resident's order is confirmed, and the admin reads the one message
the recorder kept in the messages console."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

HOME = {"text": "3 Lane 12, Gulou", "lat": 32.0412, "lon": 118.7911}  # ~150 m from the test shops
PHONE = "+86 139 1111 2222"


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


async def test_a_helper_chooses_texts_for_a_resident_and_the_admin_reads_the_one_sent(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop({"water": 5}, accept_limit_s=600)
    helper = f"centre-{uuid.uuid4().hex[:6]}"
    async with system.client("orders", Role.HELPER, helper) as as_helper:
        resident = await ok(
            await as_helper.post(
                "/residents", json={"name": "Wang Nainai", "address": HOME, "phone": PHONE, "pay_on_delivery": True}
            ),
            201,
        )
    rid = resident["resident_id"]

    context = await new_context(browser, mobile=True)
    page = await signed_in_page(context, system, "orders", Role.HELPER, helper)
    await page.click("a[href='#/news']")
    form = page.locator(f"form.news[data-person='{rid}']")
    await expect(form).to_contain_text("Wang Nainai")
    await form.locator(f"[id='news-{rid}-answer']").check()
    await form.locator(f"[id='news-{rid}-arrived']").check()
    await form.locator(f"[id='news-{rid}-lang']").select_option("en")
    await form.locator("button[type='submit']").click()
    await screenshot(page, "shopper-app-text-messages")

    async with system.client("orders", Role.HELPER, helper) as as_helper:
        chosen = await ok(await as_helper.get(f"/news/preferences/{rid}"))
        assert (chosen["choices"], chosen["language"]) == (["answer", "arrived"], "en")
        placed = await ok(
            await as_helper.post(
                "/orders",
                headers={"Idempotency-Key": str(uuid.uuid4())},
                json={
                    "store_id": shop.store_id,
                    "on_behalf_of": rid,
                    "fulfilment": {"mode": "delivery"},
                    "lines": [{"product_id": shop.products["water"], "quantity": 1}],
                },
            ),
            201,
        )
    async with system.client("orders", Role.ADMIN, "ops") as admin:

        async def sent() -> list[dict[str, Any]]:
            answer = await ok(await admin.get("/news/messages", params={"status": "sent"}))
            return [m for m in answer["messages"] if m["order_id"] == placed["id"]]

        [message] = await eventually(sent, within=30)
    assert (message["recipient"], message["moment"], message["phone"]) == (rid, "confirmed", PHONE)
    assert message["body"].startswith("[Linli] Your order ")

    console = await signed_in_page(
        await new_context(browser), system, "orders", Role.ADMIN, "ops", path="/app/messages.html"
    )
    row = console.locator(f"tr.message[data-id='{message['message_id']}']")
    await expect(row).to_contain_text(message["body"])
    await expect(row.locator(".status")).to_have_text("Sent")
    await expect(console.locator("#notifier")).to_contain_text("the recorder")
    await screenshot(console, "orders-text-messages")
    await context.close()
