"""Headless Chromium driving the consoles, against the same three service processes as e2e.

Debian's chromium is used (`.ci/run` installs it); Playwright's own browser download needs the
internet, which these machines do not have. Locally a missing browser skips these tests with
the command that installs it; under CI (`CI` set) it fails the run instead, so a console can
never land untested.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from shared.vocabulary.roles import Role
from tests.e2e.conftest import System

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).parents[3] / "docs" / "screenshots"


def chromium_path() -> str | None:
    explicit = os.environ.get("LINLI_CHROMIUM")
    if explicit:
        return explicit
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    if path is None:
        message = "no chromium: `apt-get install chromium` (Debian), or set LINLI_CHROMIUM to a Chromium binary"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def new_context(browser: Browser, *, mobile: bool = False, **options: object) -> BrowserContext:
    """A fresh browser profile (its own cookies), English text, as a phone when `mobile`."""
    size = {"width": 412, "height": 860} if mobile else {"width": 1366, "height": 900}
    context = await browser.new_context(viewport=size, locale="en-GB", is_mobile=mobile, has_touch=mobile, **options)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    await context.add_init_script("localStorage.setItem('linli.lang', localStorage.getItem('linli.lang') || 'en')")
    return context


async def signed_in_page(
    context: BrowserContext,
    system: System,
    service: str,
    role: Role,
    subject: str,
    store: str | None = None,
    path: str = "/app/",
) -> Page:
    """Open a console already signed in: the session cookie a sign-in would set, for this host."""
    await context.add_cookies(
        [
            {
                "name": system.settings.session_cookie,
                "value": system.token(role, subject, store),
                "url": system.url(service),
            }
        ]
    )
    page = await context.new_page()
    page.on("pageerror", lambda error: print(f"[{service} page error] {error}"))
    await page.goto(system.url(service) + path)
    return page


async def screenshot(page: Page, name: str) -> None:
    """`make screenshots` (LINLI_SCREENSHOTS=1) refreshes the docs' pictures from a real run.

    Otherwise the picture is still taken (a page that cannot render fails here) but kept out
    of the working tree.
    """
    if os.environ.get("LINLI_SCREENSHOTS"):
        path = SCREENSHOTS / f"{name}.png"
    else:
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"linli-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path))
