"""The cash desk page of the operator console: an admin tops up a resident, prints the receipt (read
back from the PDF the print stylesheet makes), and closes the day with a count one yuan short, which
the day keeps."""

from __future__ import annotations

import io
import unicodedata
import uuid
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Dialog, expect
from pypdf import PdfReader

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, screenshot, signed_in_page
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def test_an_admin_tops_up_prints_the_receipt_and_closes_the_day_one_yuan_short(
    system: System, browser: Browser
) -> None:
    desk = f"centre-{uuid.uuid4().hex[:6]}"
    resident = f"resident-{uuid.uuid4().hex[:6]}"
    async with system.client("orders", Role.ADMIN, "ops-1") as admin:
        await ok(await admin.put(f"/desks/{desk}", json={"name_zh": "文昌巷服务中心", "name_en": "Wenchang centre"}))

    context = await new_context(browser)
    page = await signed_in_page(
        context, system, "orders", Role.ADMIN, "ops-1", path=f"/app/admin/desk.html?desk={desk}"
    )

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    page.on("dialog", accept)
    await page.fill("#cash-resident", resident)
    await page.fill("#cash-amount", "50")
    await page.click("#cash-top-up")
    sheet = page.locator("#print-preview .receipt-sheet")
    await expect(sheet).to_contain_text(f"{desk}-000001")
    await expect(sheet.locator(".receipt-amount")).to_have_text("¥50.00")
    await expect(sheet.locator(".receipt-after")).to_have_text("¥50.00")
    await screenshot(page, "admin-cash-desk-receipt")
    pdf = PdfReader(io.BytesIO(await page.pdf(prefer_css_page_size=True, print_background=True)))
    printed = unicodedata.normalize("NFKC", "\n".join(p.extract_text() for p in pdf.pages))
    for shown in (f"{desk}-000001", "Wenchang centre", resident, "¥50.00", "ops-1", "Top-up"):
        assert shown in printed
    assert "Close the day" not in printed, "only the receipt is printed"
    assert len(pdf.pages) == 1
    await page.click("#print-close")

    await expect(page.locator("#desk-report tr.receipt")).to_have_count(1)
    await expect(page.locator("#total-expected")).to_have_text("¥50.00")
    await page.fill("#close-counted", "49")
    await page.fill("#close-note", "one yuan missing")
    await page.click("#close-go")
    await expect(page.locator("#day-state")).to_have_text("Closed")
    await expect(page.locator("#close-difference")).to_have_text("Short by ¥1.00")
    await screenshot(page, "admin-cash-desk-closed")

    async with system.client("orders", Role.ADMIN, "ops-1") as admin:
        day = page.locator("#day-pick")
        closed = await ok(await admin.get(f"/desks/{desk}/days/{await day.input_value()}"))
        assert (closed["closed"]["expected_fen"], closed["closed"]["counted_fen"]) == (50_00, 49_00)
        assert closed["closed"]["difference_fen"] == -1_00
        balance = await ok(await admin.get("/balance", params={"resident": resident}))
        assert balance["balance_fen"] == 50_00
    await context.close()
