"""The operator console in a browser: a market is brought onto Linli with two stalls and placed on the
circle's map, its price list is uploaded as .xlsx and the preview refuses a bad row with its reason
(nothing is written), the fixed file is applied, its products are on sale, and the record of changes
shows who did each step."""

from __future__ import annotations

import io
import uuid

import pytest
from openpyxl import Workbook
from playwright.async_api import expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

HEADER = ["product_id", "name_zh", "name_en", "unit", "price_fen", "grams_per_piece", "stall", "counted"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def test_a_market_with_two_stalls_is_onboarded_and_its_price_list_previewed_refused_then_applied(
    browser, system: System
) -> None:
    tag = uuid.uuid4().hex[:6]
    market, veg, fish = f"mkt-{tag}", f"veg-{tag}", f"fish-{tag}"
    context = await new_context(browser)
    page = await signed_in_page(context, system, "orders", Role.ADMIN, "ops-1", path="/app/admin/")
    await expect(page.get_by_role("heading", name="Bring a market onto Linli")).to_be_visible()
    await expect(page.get_by_role("link", name="Cash desk")).to_have_attribute("href", "desk.html")
    await expect(page.get_by_role("link", name="Reports")).to_have_attribute("href", "reports.html")

    # The market and its two stalls, placed by a tap on the map.
    await page.fill("#m-id", market)
    await page.fill("#m-name-zh", f"新菜场 {tag}")
    await page.fill("#m-name-en", f"New market {tag}")
    await page.fill("#m-fee", "2.5")
    await page.fill("#m-hours", "06:00-12:00, 16:00-19:00")
    await page.locator("#loc-map").click(position={"x": 200, "y": 150})
    await expect(page.locator("#m-lat")).not_to_have_value("")
    for n, (stall, zh, en, category) in enumerate([(veg, "蔬菜", "Vegetables", "veg"), (fish, "鲜鱼", "Fish", "fish")]):
        await page.fill(f"#st-id-{n + 1}", stall)
        await page.fill(f"#st-zh-{n + 1}", zh)
        await page.fill(f"#st-en-{n + 1}", en)
        await page.fill(f"#st-cat-{n + 1}", category)
    await page.get_by_role("button", name="Save the market and its stalls").click()
    row = page.locator(f'#loc-table tr[data-id="{market}"]')
    await expect(row.locator("td.hours")).to_have_text("06:00-12:0016:00-19:00")  # a line per window
    await expect(row).to_contain_text("¥2.50")
    await expect(page.locator(f'#loc-table tr[data-id="{fish}"]')).to_contain_text(f"stall of New market {tag}")
    await expect(page.locator(f'#loc-map [data-id="{market}"]')).to_have_count(1)
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "operator-console")

    # A price list with a negative price: refused in the preview with its reason, nothing written.
    await page.get_by_role("tab", name="Price lists").click()
    await page.select_option("#p-location", market)
    good = [f"{tag}-carp", "草鱼", "Grass carp", "g", 1800, 600, fish, 6000]
    bad = [f"{tag}-bokchoy", "青菜", "Bok choy", "piece", -50, None, veg, 40]
    await page.set_input_files("#p-file", {"name": "prices.xlsx", "mimeType": XLSX, "buffer": workbook([good, bad])})
    await page.get_by_role("button", name="Preview").click()
    refused = page.locator("#p-refused tr.refused")
    await expect(refused).to_have_count(1)
    await expect(refused).to_contain_text("3")  # the header is line 1
    await expect(refused.locator(".reason")).to_contain_text("price_fen cannot be negative")
    await expect(page.get_by_role("button", name="Apply")).to_be_disabled()
    await screenshot(page, "operator-console-price-list")
    async with system.client("inventory", Role.ADMIN, "ops-1") as inventory:
        assert (await inventory.get(f"/stores/{market}/products")).json() == []

    # Fixed, previewed again, applied: both products are on sale at their stalls.
    bad[4] = 300
    await page.set_input_files("#p-file", {"name": "prices.xlsx", "mimeType": XLSX, "buffer": workbook([good, bad])})
    await page.get_by_role("button", name="Preview").click()
    await expect(page.locator("#p-summary")).to_contain_text("New 2 · changed 0 · unchanged 0 · refused 0")
    await expect(page.locator(f'#p-rows tr[data-product="{tag}-carp"] .change')).to_have_text("new")
    await page.get_by_role("button", name="Apply").click()
    products = page.locator("#p-products tbody tr")
    await expect(products).to_have_count(2)
    await expect(page.locator(f'#p-products tr[data-product="{tag}-bokchoy"]')).to_contain_text("¥3.00")
    await expect(page.locator(f'#p-products tr[data-product="{tag}-carp"]')).to_contain_text(fish)

    # The record of changes: the price list applied and the market created, each by this admin.
    await page.get_by_role("tab", name="Record of changes").click()
    applied = page.locator(f'#record-table tr[data-entity="price_list"][data-id="{market}"]')
    await expect(applied).to_contain_text("admin:ops-1")
    await expect(applied).to_contain_text("New 2")
    created = page.locator(f'#record-table tr[data-entity="location"][data-id="{market}"]')
    await expect(created).to_contain_text("created")
    await expect(page.locator(f'#record-table tr[data-entity="location"][data-id="{veg}"]')).to_have_count(1)
    await context.close()
