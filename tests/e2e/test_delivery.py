"""Dispatch, whole: an order delivered to the door with its code, an unanswered offer passed to
the next rider, a silent rider's order reassigned, no rider at all (pickup offered, no answer,
cancelled with the stock back), and a locker delivery collected with its code."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import System, online, shopper, wait_available, wait_status
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

HOME = {"text": "3-201 Wenchang Lane", "lat": 32.0425, "lon": 118.7870}


async def place_delivery(
    me: httpx.AsyncClient, store_id: str, product_id: str, fulfilment: dict[str, Any] | None = None
) -> str:
    r = await me.post(
        "/orders",
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "store_id": store_id,
            "lines": [{"product_id": product_id, "quantity": 2}],
            "fulfilment": fulfilment or {"mode": "delivery", "address": HOME},
            "contact_phone": "+86 138 0000 0000",
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def shop_packs(system: System, store_id: str, order_id: str) -> None:
    async with system.client("inventory", Role.STORE_STAFF, "counter", store=store_id) as staff:
        base = f"/stores/{store_id}/orders/{order_id}"
        for path, body in (
            (f"{base}/accept", None),
            (f"{base}/picking", None),
            (f"{base}/lines/1/picked", {}),
            (f"{base}/packed", {"bags": 1, "weight_g": 1200}),
        ):
            r = await staff.post(path, json=body)
            assert r.status_code == 200, f"{path}: {r.text}"


async def test_an_order_is_delivered_to_the_door_with_the_shoppers_code(system, make_shop, dispatcher, riders) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    rider = await online(system, dispatcher, riders, 32.0415, 118.7855)
    async with shopper(system) as me:
        order_id = await place_delivery(me, shop.store_id, shop.products["water"])
        placed = await wait_status(me, order_id, "CONFIRMED")
        code = placed["delivery_code"]
        assert code
        assert len(code) == 6
        await shop_packs(system, shop.store_id, order_id)
        offer = await rider.offer_for(order_id)
        assert offer["bags"] == 1
        assert "address" not in offer, "no address before the rider carries it"
        r = await rider.client.post(f"/offers/{offer['id']}/accept")
        assert r.status_code == 200, r.text
        assigned = await eventually(lambda: _rider_named(me, order_id))
        assert assigned["rider"]["name"]
        await rider.step(order_id, "at-shop")
        wrong = await rider.client.post(f"/deliveries/{order_id}/picked-up", json={"code": "000000"})
        assert wrong.status_code == 422
        handover = await told_by_the_counter(system, shop.store_id, order_id)
        await rider.step(order_id, "picked-up", {"code": handover})
        await wait_status(me, order_id, "OUT_FOR_DELIVERY")
        carrying = await rider.client.get("/riders/me/deliveries")
        assert HOME["text"] in carrying.text, "the address is shown while carrying"
        await rider.step(order_id, "at-door")
        refused = await rider.client.post(
            f"/deliveries/{order_id}/delivered", json={"code": "999999" if code != "999999" else "0"}
        )
        assert refused.status_code == 422
        await rider.step(order_id, "delivered", {"code": code})
        delivered = await wait_status(me, order_id, "DELIVERED")
    causes = " ".join(e["cause"] for e in delivered["timeline"]).lower()
    for step in ("assigned", "shop", "picked", "door"):
        assert step in causes, step
    after = await rider.client.get("/riders/me/deliveries")
    assert HOME["text"] not in after.text, "the address is gone once delivered"


async def _rider_named(me: httpx.AsyncClient, order_id: str) -> dict[str, Any] | None:
    order = (await me.get(f"/orders/{order_id}")).json()
    return order if order.get("rider") else None


async def told_by_the_counter(system: System, store_id: str, order_id: str) -> str:
    """The shop's handover code, which the counter tells the rider with the bag."""
    async with system.client("inventory", Role.STORE_STAFF, "counter", store=store_id) as staff:
        queue = (await staff.get(f"/stores/{store_id}/queue")).json()
    part = next(p for p in queue if p["order_id"] == order_id)
    return str(part["handover_code"])


async def test_an_unanswered_offer_goes_to_the_next_rider(system, make_shop, dispatcher, riders) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    near = await online(system, dispatcher, riders, 32.0401, 118.7901)
    async with shopper(system) as me:
        order_id = await place_delivery(me, shop.store_id, shop.products["water"])
        await wait_status(me, order_id, "CONFIRMED")
        await shop_packs(system, shop.store_id, order_id)
        await near.offer_for(order_id)
        far = await online(system, dispatcher, riders, 32.0470, 118.7960)
        offer = await far.offer_for(order_id, within=30)  # after the near rider's offer ran out
        assert (await far.client.post(f"/offers/{offer['id']}/accept")).status_code == 200
        order = await eventually(lambda: _rider_named(me, order_id))
    assert far.id in str(order["rider"]) or order["rider"]["name"] == f"Rider {far.id}"


async def test_a_silent_riders_order_is_reassigned(system, make_shop, dispatcher, riders) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    first = await online(system, dispatcher, riders, 32.0401, 118.7901)
    async with shopper(system) as me:
        order_id = await place_delivery(me, shop.store_id, shop.products["water"])
        await wait_status(me, order_id, "CONFIRMED")
        await shop_packs(system, shop.store_id, order_id)
        offer = await first.offer_for(order_id)
        assert (await first.client.post(f"/offers/{offer['id']}/accept")).status_code == 200
        first.quiet = True  # the phone died
        second = await online(system, dispatcher, riders, 32.0470, 118.7960)
        offer = await second.offer_for(order_id, within=40)
        assert (await second.client.post(f"/offers/{offer['id']}/accept")).status_code == 200

        async def reassigned() -> dict[str, Any] | None:
            order = (await me.get(f"/orders/{order_id}")).json()
            return order if "silent" in str(order["timeline"]).lower() and order.get("rider") else None

        order = await eventually(reassigned)
    assert order["rider"]["name"] == f"Rider {second.id}"


async def test_no_rider_means_pickup_offered_then_cancelled_with_stock_back(system, make_shop) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    async with shopper(system) as me:
        order_id = await place_delivery(me, shop.store_id, shop.products["water"])
        await wait_status(me, order_id, "CONFIRMED")
        async with system.client("inventory", Role.STORE_STAFF, "counter", store=shop.store_id) as staff:
            assert (await staff.post(f"/stores/{shop.store_id}/orders/{order_id}/accept")).status_code == 200

        async def offered() -> dict[str, Any] | None:
            order = (await me.get(f"/orders/{order_id}")).json()
            return order if order.get("pickup_offer") else None

        order = await eventually(offered, within=40)
        assert order["pickup_offer"]["answer_by"]
        cancelled = await wait_status(me, order_id, "CANCELLED", within=40)
    assert "no_rider" in str(cancelled["timeline"])
    await wait_available(system, shop.store_id, {shop.products["water"]: 10})


async def test_a_locker_delivery_is_collected_with_its_code(system, make_shop, dispatcher, riders, admin) -> None:
    site = f"locker-{uuid.uuid4().hex[:6]}"
    async with system.client("dispatch", Role.ADMIN, "ops") as ops:
        r = await ops.put(
            f"/lockers/{site}",
            json={
                "name": "Wenchang Lane lockers",
                "lat": 32.0427,
                "lon": 118.7872,
                "compartments": [{"id": "A1", "size": "M"}],
            },
        )
        assert r.status_code in (200, 201), r.text
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    rider = await online(system, dispatcher, riders, 32.0415, 118.7855)
    resident = f"resident-{uuid.uuid4().hex[:6]}"
    async with shopper(system, resident) as me:
        order_id = await place_delivery(
            me, shop.store_id, shop.products["water"], {"mode": "locker", "site_id": site, "address": HOME}
        )
        await wait_status(me, order_id, "CONFIRMED")
        await shop_packs(system, shop.store_id, order_id)
        offer = await rider.offer_for(order_id)
        assert (await rider.client.post(f"/offers/{offer['id']}/accept")).status_code == 200
        handover = await told_by_the_counter(system, shop.store_id, order_id)
        await rider.step(order_id, "at-shop")
        await rider.step(order_id, "picked-up", {"code": handover})
        await wait_status(me, order_id, "OUT_FOR_DELIVERY")
        await rider.step(order_id, "locker-deposit")
        in_locker = await wait_status(me, order_id, "IN_LOCKER")
        code = in_locker["locker"]["code"]
        async with system.client("dispatch", Role.SHOPPER, "someone-else") as stranger:
            wrong = await stranger.post(f"/lockers/{site}/open", json={"code": "000000" if code != "000000" else "1"})
            assert wrong.status_code == 422
        async with system.client("dispatch", Role.SHOPPER, resident) as at_locker:
            assert (await at_locker.post(f"/lockers/{site}/open", json={"code": code})).status_code == 200
        await wait_status(me, order_id, "COLLECTED")
