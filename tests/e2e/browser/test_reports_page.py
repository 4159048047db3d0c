"""The reports page draws its charts as SVG in the browser from a shop's orders, one bar per day, hour
and star, and offers each report as CSV with the same numbers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System, top_up

pytestmark = pytest.mark.e2e


async def test_the_reports_page_draws_a_shops_orders_and_offers_csv(
    system: System, browser: Browser, make_shop: Any
) -> None:
    shop = await make_shop({"water": 20})
    shopper = f"resident-{uuid.uuid4().hex[:6]}"
    await top_up(system, shopper, 10_000)
    async with system.client("orders", Role.SHOPPER, shopper) as me:
        for quantity in (1, 2):
            body = {
                "store_id": shop.store_id,
                "lines": [{"product_id": shop.products["water"], "quantity": quantity}],
                "fulfilment": {"mode": "pickup"},
            }
            placed = await me.post("/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            assert placed.status_code == 201, placed.text

    today: date = datetime.now(ZoneInfo(system.settings.timezone)).date()
    period = f"from={today - timedelta(days=2)}&to={today}&store={shop.store_id}"
    context = await new_context(browser)
    page = await signed_in_page(
        context, system, "orders", Role.ADMIN, "ops-1", path=f"/app/admin/reports.html?{period}"
    )

    volume = page.locator("#report-volume")
    await expect(volume.locator("[data-figure='f.orders'] b")).to_have_text("2")
    await expect(volume.locator("svg[data-chart='volume-day'] g.bar")).to_have_count(3)  # one bar a day
    await expect(volume.locator("svg[data-chart='volume-hour'] g.bar")).to_have_count(24)
    await expect(volume.locator("svg[data-chart='volume-store'] g.bar")).to_have_count(1)
    today_bar = volume.locator(f"svg[data-chart='volume-day'] g.bar[data-label='{today.isoformat()[5:]}']")
    await expect(today_bar).to_have_attribute("data-value", "2")
    await expect(page.locator("svg[data-chart='ratings-shop'] g.bar")).to_have_count(5)
    products = page.locator("svg[data-chart='products'] g.bar")
    await expect(products).to_have_count(1)
    await expect(products).to_have_attribute("data-value", "2")
    await screenshot(page, "operator-reports")

    link = volume.locator("a.csv")
    href = await link.get_attribute("href")
    assert href is not None
    assert "format=csv" in href
    response = await context.request.get(href if href.startswith("http") else system.url("orders") + href)
    assert response.status == 200
    rows = list(csv.DictReader(io.StringIO((await response.body()).decode("utf-8-sig"))))
    assert {r["store_id"] for r in rows} == {shop.store_id}
    assert sum(int(r["orders"]) for r in rows) == 2
    await context.close()
