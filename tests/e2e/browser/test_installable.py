"""The shopper and rider apps installed on a phone: each names its manifest and icons, and its
service worker keeps the app shell, so the app reopens with no network. The rider's reopened app
still shows the delivery in hand, takes a step into its queue offline and sends it once back;
then the bag is taken by scanning the counter's QR code (the camera stubbed)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Page, expect

from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.browser.test_counter_codes_and_printing import CAMERA_AND_DETECTOR
from tests.e2e.browser.test_rider_app import dispatchers_view
from tests.e2e.conftest import System, shopper, wait_status
from tests.e2e.test_delivery import place_delivery, shop_packs, told_by_the_counter
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def installable(page: Page, manifest_path: str, name: str) -> None:
    """The page links a manifest with PNG icons, and a service worker controls it."""
    manifest = await page.evaluate(
        """async (path) => {
            const link = document.querySelector('link[rel="manifest"]');
            const manifest = await (await fetch(link.href)).json();
            const icons = await Promise.all(manifest.icons.map(async (icon) => {
                const r = await fetch(icon.src);
                return [icon.sizes, r.status, r.headers.get("content-type")];
            }));
            return { href: new URL(link.href).pathname, name: manifest.name, start: manifest.start_url,
                     display: manifest.display, icons };
        }""",
        manifest_path,
    )
    assert manifest["href"] == manifest_path
    assert name in manifest["name"]
    assert manifest["display"] == "standalone"
    assert ["192x192", 200, "image/png"] in manifest["icons"]
    assert ["512x512", 200, "image/png"] in manifest["icons"]
    await page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")


async def offline(page: Page) -> bool:
    """The network is really gone for the page: a request no worker answers fails."""
    return bool(await page.evaluate("fetch('/health', { cache: 'no-store' }).then(() => false, () => true)"))


async def test_the_shopper_app_reopens_without_a_network(system: System, browser: Any) -> None:
    subject = f"resident-{uuid.uuid4().hex[:8]}"
    context = await new_context(browser, mobile=True)
    try:
        page = await signed_in_page(context, system, "orders", Role.SHOPPER, subject)
        await expect(page.locator("#who")).to_contain_text(subject)
        await installable(page, "/app/manifest.webmanifest", "Linli")
        await page.reload()  # now through the worker, which keeps what the page asks for
        await expect(page.locator("#who")).to_contain_text(subject)

        await context.set_offline(True)
        assert await offline(page)
        await page.reload()
        await expect(page.get_by_role("heading", name="Linli · shopping")).to_be_visible()
        await expect(page.locator("#who")).to_contain_text(subject)
    finally:
        await context.close()


async def test_the_rider_app_reopens_offline_with_its_delivery_and_queue(
    system: System, browser: Any, make_shop: Any
) -> None:
    rider_id = f"rider-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    async with system.client("dispatch", Role.DISPATCHER, "desk-1") as desk:
        r = await desk.put(f"/riders/{rider_id}", json={"name": "Rider Zhou", "vehicle": "e_bike", "capacity": 3})
        assert r.status_code in (200, 201), r.text
        shift = {"starts_at": (now - timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=3)).isoformat()}
        r = await desk.put(f"/riders/{rider_id}/shifts", json={"shifts": [shift]})
        assert r.status_code == 200, r.text
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    context = await new_context(
        browser, mobile=True, permissions=["geolocation"], geolocation={"latitude": 32.0400, "longitude": 118.7900}
    )
    await context.add_init_script(CAMERA_AND_DETECTOR)
    try:
        page = await signed_in_page(context, system, "dispatch", Role.RIDER, rider_id, path="/app/rider/")
        await expect(page.locator("#shift")).to_contain_text("Today's shift")
        await installable(page, "/app/rider/manifest.webmanifest", "Linli rider")
        await page.get_by_role("button", name="Go online").click()
        await expect(page.locator("#state")).to_have_text("Online")

        async with shopper(system) as me:
            order_id = await place_delivery(me, shop.store_id, shop.products["water"])
            delivery_code = (await wait_status(me, order_id, "CONFIRMED"))["delivery_code"]
            async with dispatchers_view(system, order_id) as seen:
                await shop_packs(system, shop.store_id, order_id)
                offer = page.locator(f"#offer-list .offer[data-order='{order_id}']")  # not another test's
                await expect(offer).to_contain_text("1 bag(s)", timeout=30_000)
                await offer.get_by_role("button", name="Accept").click()
                card = page.locator(f"li.delivery[data-order='{order_id}']")
                await expect(card).to_contain_text("Going to pick up")

                # No network, and the app closed and opened again: the shell, the rider and the bag are all there.
                await context.set_offline(True)
                assert await offline(page)
                await page.reload()
                await expect(page.get_by_role("heading", name="Linli · rider")).to_be_visible()
                await expect(page.locator("#who")).to_contain_text(rider_id)
                await expect(card).to_contain_text("Going to pick up")
                await card.get_by_role("button", name="At the pickup point").click()
                await expect(page.locator("#outbox")).to_contain_text("waiting to send")
                assert "RiderAtShop" not in seen

                await context.set_offline(False)
                # Sent when the network returns, or at the latest by the app's next retry (every 4 s).
                await expect(page.locator("#outbox")).to_be_hidden(timeout=15_000)
                await eventually(lambda: _has(seen, "RiderAtShop"))

                # The counter's QR code, scanned, takes the bag as the typed code would.
                handover = await told_by_the_counter(system, shop.store_id, order_id)
                await page.evaluate("(qr) => { window.__qr = qr; }", f"linli:pickup:{order_id}:{handover}")
                await card.get_by_role("button", name="Scan").click()
                await expect(card).to_contain_text("On the way")
                await wait_status(me, order_id, "OUT_FOR_DELIVERY")
                await eventually(lambda: _has(seen, "DeliveryPickedUp"))
            assert seen.count("RiderAtShop") == 1, seen
            # Leave no rider on the road for the next test's orders: deliver, then go off duty.
            async with system.client("dispatch", Role.RIDER, rider_id) as phone:
                for step, body in (("at-door", {}), ("delivered", {"code": delivery_code})):
                    r = await phone.post(f"/deliveries/{order_id}/{step}", json=body)
                    assert r.status_code == 200, r.text
                r = await phone.post("/riders/me/state", json={"state": "offline"})
                assert r.status_code == 200, r.text
            await wait_status(me, order_id, "DELIVERED")
    finally:
        await context.close()


async def _has(seen: list[str], name: str) -> bool:
    return name in seen
