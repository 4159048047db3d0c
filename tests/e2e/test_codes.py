"""Codes as QR images and bag labels, over HTTP: each QR goes to exactly those who may see the
code itself, and the labels name every bag of the order with the handling marks."""

from __future__ import annotations

import uuid

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import System, shopper, wait_status

pytestmark = pytest.mark.e2e

HOME = {"text": "3-201 Wenchang Lane", "lat": 32.0425, "lon": 118.7870}


def staff(system: System, store: str) -> httpx.AsyncClient:
    return system.client("inventory", Role.STORE_STAFF, f"staff-{store}", store=store)


def is_qr(response: httpx.Response) -> bool:
    return (
        response.status_code == 200
        and response.headers["content-type"].startswith("image/svg+xml")
        and response.text.startswith("<svg ")
        and "no-store" in response.headers["cache-control"]
    )


async def place(me: httpx.AsyncClient, store_id: str, product_id: str, fulfilment: dict) -> str:
    placed = await me.post(
        "/orders",
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "store_id": store_id,
            "lines": [{"product_id": product_id, "quantity": 2}],
            "fulfilment": fulfilment,
            "contact_phone": "+86 138 0000 0000",
            "flags": {"call_before_delivery": True},
        },
    )
    assert placed.status_code == 201, placed.text
    return str(placed.json()["id"])


async def pack(counter: httpx.AsyncClient, store_id: str, order_id: str, bags: int) -> None:
    base = f"/stores/{store_id}/orders/{order_id}"
    for path, body in (
        (f"{base}/accept", None),
        (f"{base}/picking", None),
        (f"{base}/lines/1/picked", {}),
        (f"{base}/packed", {"bags": bags, "weight_g": 1200}),
    ):
        r = await counter.post(path, json=body)
        assert r.status_code == 200, f"{path}: {r.text}"


async def test_a_delivery_orders_codes_show_as_qr_only_to_those_who_may_see_them(system, make_shop) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    other = await make_shop({"water": 10})
    water = shop.products["water"]
    async with shopper(system) as me, shopper(system) as stranger, staff(system, shop.store_id) as counter:
        order_id = await place(me, shop.store_id, water, {"mode": "delivery", "address": HOME})
        await wait_status(me, order_id, "CONFIRMED")
        # The shopper holds the delivery code from the start; nobody else sees it, not even the shop.
        assert is_qr(await me.get(f"/orders/{order_id}/codes/delivery.svg"))
        assert (await stranger.get(f"/orders/{order_id}/codes/delivery.svg")).status_code == 404
        async with system.client("orders", Role.STORE_STAFF, "staff", store=shop.store_id) as shop_on_orders:
            assert (await shop_on_orders.get(f"/orders/{order_id}/codes/delivery.svg")).status_code == 404
        # No handover code before packing, no locker code for a door delivery, no such kind at all.
        assert (await me.get(f"/orders/{order_id}/codes/pickup.svg")).status_code == 404
        assert (await me.get(f"/orders/{order_id}/codes/locker.svg")).status_code == 404
        assert (await me.get(f"/orders/{order_id}/codes/secret.svg")).status_code == 422
        assert (await counter.get(f"/stores/{shop.store_id}/orders/{order_id}/handover-code.svg")).status_code == 404
        labels = await counter.get(f"/stores/{shop.store_id}/orders/{order_id}/labels")
        assert labels.status_code == 409, "no labels before the bags are packed"

        await pack(counter, shop.store_id, order_id, bags=2)
        order = await wait_status(me, order_id, "PACKED")
        code = order["handover_code"]
        # The counter tells the rider the handover code: its QR is the counter's to show, and the labels carry it.
        assert is_qr(await counter.get(f"/stores/{shop.store_id}/orders/{order_id}/handover-code.svg"))
        async with staff(system, other.store_id) as elsewhere:
            refused = await elsewhere.get(f"/stores/{shop.store_id}/orders/{order_id}/handover-code.svg")
            assert refused.status_code == 403
            assert (await elsewhere.get(f"/stores/{other.store_id}/orders/{order_id}/labels")).status_code == 404
        labels = await counter.get(f"/stores/{shop.store_id}/orders/{order_id}/labels")
        assert labels.status_code == 200, labels.text
        printed = labels.json()
        assert printed["qr_payload"] == f"linli:pickup:{order_id}:{code}"
        assert printed["call_before_delivery"] is True
        assert [(label["location_id"], label["bag"], label["bags"]) for label in printed["labels"]] == [
            (shop.store_id, 1, 2),
            (shop.store_id, 2, 2),
        ]


async def test_a_pickup_code_stays_the_shoppers_to_show(system, make_shop) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    async with shopper(system) as me, staff(system, shop.store_id) as counter:
        order_id = await place(me, shop.store_id, shop.products["water"], {"mode": "pickup"})
        await wait_status(me, order_id, "CONFIRMED")
        await pack(counter, shop.store_id, order_id, bags=1)
        await wait_status(me, order_id, "READY_FOR_PICKUP")
        assert is_qr(await me.get(f"/orders/{order_id}/codes/pickup.svg"))
        # Staff must ask for the shopper's code, never read it: no QR for them, and labels without it.
        assert (await counter.get(f"/stores/{shop.store_id}/orders/{order_id}/handover-code.svg")).status_code == 404
        printed = (await counter.get(f"/stores/{shop.store_id}/orders/{order_id}/labels")).json()
        assert printed["qr_payload"] is None
        assert [(label["bag"], label["bags"]) for label in printed["labels"]] == [(1, 1)]
