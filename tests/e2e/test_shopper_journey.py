"""The shopper's side, whole: from "what is near me" to the bag at the door with the money
settled; a slot order that reaches the shop's queue only when its work must start; a resident
whose helper orders for her, paying the rider in cash; and a cancel refused once picking began."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import SHOPPER_FLOAT_FEN, Rider, System, online, shopper, wait_status
from tests.e2e.test_delivery import shop_packs, told_by_the_counter
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

HOME = {"text": "Building 5, 1-302, Wenchang Lane", "lat": 32.0425, "lon": 118.7870}  # ~400 m from the shops
CARP = {
    "name_zh": "新鲜草鱼",
    "name_en": "Fresh grass carp",
    "unit": "g",
    "grams_per_piece": 600,
    "price_fen": 1800,
    "on_hand": 6000,
}
BOKCHOY = {
    "name_zh": "上海青",
    "name_en": "Bok choy",
    "unit": "g",
    "grams_per_piece": 500,
    "price_fen": 600,
    "on_hand": 5000,
}


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def staff(system: System, store: str) -> httpx.AsyncClient:
    return system.client("inventory", Role.STORE_STAFF, f"staff-{store}", store=store)


async def carry(rider: Rider, system: System, store_id: str, order_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The rider takes the offer, collects the bag with the counter's code and hands it over."""
    offer = await rider.offer_for(order_id)
    await ok(await rider.client.post(f"/offers/{offer['id']}/accept"))
    await rider.step(order_id, "at-shop")
    await rider.step(order_id, "picked-up", {"code": await told_by_the_counter(system, store_id, order_id)})
    await rider.step(order_id, "at-door")
    return dict(await rider.step(order_id, "delivered", body))


async def test_from_the_circle_to_the_door_over_two_stalls_with_the_money_settled(
    system, make_market, dispatcher, riders
) -> None:
    market = await make_market({"fish": {"carp": CARP}, "veg": {"bokchoy": BOKCHOY}}, accept_limit_s=600)
    p = market.products
    rider = await online(system, dispatcher, riders, 32.0415, 118.7885)
    async with shopper(system) as me:
        where = {"lat": HOME["lat"], "lon": HOME["lon"]}
        shops = await ok(await me.get("/circle/shops", params={**where, "mode": "delivery"}))
        found = next(s for s in shops if s["store_id"] == market.store_id)
        assert found["delivers_here"]
        assert found["open_now"]
        assert found["walk_minutes"] <= 15
        assert {s["location_id"] for s in found["stalls"]} == set(market.stalls.values())
        hits = await ok(await me.get("/circle/search", params={**where, "q": "caoyu"}))
        assert p["carp"] in [h["product_id"] for h in hits], "pinyin finds 新鲜草鱼"

        basket = {
            "store_id": market.store_id,
            "fulfilment": {"mode": "delivery", "address": HOME},
            "lines": [{"product_id": p["carp"], "quantity": 1}, {"product_id": p["bokchoy"], "quantity": 1}],
        }

        async def promised() -> dict[str, Any] | None:
            # Dispatch quotes the shop once a rider is free; orders hears it on the circle topic.
            quote = await ok(await me.post("/orders/quote", json=basket))
            return quote if quote["promise_minutes"] else None

        quote = await eventually(promised)
        assert quote["total_fen"] == 1080 + 300  # 600 g of carp at 18/kg, 500 g of bok choy at 6/kg, no fees
        assert quote["promise_minutes"] >= 5, "at least the handover at the door"
        placed = await ok(await me.post("/orders", json=basket, headers=key()), 201)
        order_id, code = placed["id"], placed["delivery_code"]
        assert placed["total_fen"] == quote["total_fen"]
        await wait_status(me, order_id, "CONFIRMED")

        async with staff(system, market.store_id) as counter:
            await ok(await counter.post(f"/stores/{market.store_id}/orders/{order_id}/accept"))
        order = await wait_status(me, order_id, "ACCEPTED")
        weights = {p["carp"]: 590, p["bokchoy"]: 450}  # both a little lighter than estimated
        for stall in market.stalls.values():
            async with staff(system, stall) as stallholder:
                base = f"/stores/{stall}/orders/{order_id}"
                await ok(await stallholder.post(f"{base}/picking"))
                for line in order["lines"]:
                    if line["location_id"] == stall:
                        await ok(
                            await stallholder.post(
                                f"{base}/lines/{line['line_no']}/picked", json={"weight_g": weights[line["product_id"]]}
                            )
                        )
                await ok(await stallholder.post(f"{base}/packed", json={"bags": 1, "weight_g": 600}))
        packed = await wait_status(me, order_id, "PACKED")
        final = 1062 + 270  # 590 g of carp, 450 g of bok choy
        assert packed["final_fen"] == final

        await carry(rider, system, market.store_id, order_id, {"code": code})
        delivered = await wait_status(me, order_id, "DELIVERED")
        moves = [e["status"] for e in delivered["timeline"] if e["status"]]
        assert moves == ["PLACED", "CONFIRMED", "ACCEPTED", "PICKING", "PACKED", "OUT_FOR_DELIVERY", "DELIVERED"]

        ledger = await ok(await me.get(f"/orders/{order_id}/ledger"))
        assert (ledger["payment"], ledger["shown_fen"], ledger["paid_fen"]) == ("balance", 1380, 1380)
        assert (ledger["final_fen"], ledger["refund_fen"]) == (final, 1380 - final)
        assert ledger["settled"]
        assert ledger["reconciles"]
        balance = await ok(await me.get("/balance"))
        assert balance["balance_fen"] == SHOPPER_FLOAT_FEN - final


async def test_a_slot_order_reaches_the_shops_queue_when_its_work_must_start(system, make_shop, admin) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    # No picking time, so the order is due in the queue one ride before the slot starts.
    await ok(
        await admin.put(
            f"/admin/locations/{shop.store_id}",
            json={
                "kind": "shop",
                "category": "convenience",
                "name_zh": "测试shop",
                "name_en": "Test shop",
                "lat": 32.04,
                "lon": 118.79,
                "picking_minutes": 0,
                "accept_limit_s": 600,
            },
        )
    )
    async with shopper(system) as me:

        async def knows_no_picking() -> dict[str, Any] | None:
            near_home = {"lat": HOME["lat"], "lon": HOME["lon"]}
            offered = await ok(await me.get(f"/stores/{shop.store_id}/slots", params=near_home))
            return offered if offered["picking_minutes"] == 0 else None

        ride = (await eventually(knows_no_picking))["ride_minutes"]
        start = (datetime.now(UTC) + timedelta(minutes=ride, seconds=8)).replace(microsecond=0)
        slot = {"start": start.isoformat(), "end": (start + timedelta(minutes=30)).isoformat()}
        placed = await ok(
            await me.post(
                "/orders",
                headers=key(),
                json={
                    "store_id": shop.store_id,
                    "lines": [{"product_id": shop.products["water"], "quantity": 1}],
                    "fulfilment": {"mode": "delivery", "address": HOME, "slot": slot},
                },
            ),
            201,
        )
        order_id = placed["id"]
        release = datetime.fromisoformat(placed["release_at"])
        assert release == start - timedelta(minutes=ride)
        await wait_status(me, order_id, "CONFIRMED")  # the stock is held at once

        async with staff(system, shop.store_id) as counter:
            queue = await ok(await counter.get(f"/stores/{shop.store_id}/queue"))
            scheduled = await ok(await counter.get(f"/stores/{shop.store_id}/queue/scheduled"))
            assert order_id not in str(queue), "nobody is asked to accept before the release"
            assert [o["order_id"] for o in scheduled] == [order_id]

            async def queued() -> dict[str, Any] | None:
                now = await ok(await counter.get(f"/stores/{shop.store_id}/queue"))
                return next((o for o in now if o["order_id"] == order_id), None)

            entry = await eventually(queued, within=30)
        assert datetime.now(UTC) >= release - timedelta(seconds=1)
        deadline = datetime.fromisoformat(entry["accept_deadline"])
        assert deadline >= release + timedelta(seconds=590), "the accept countdown starts at the release"


async def test_a_helper_orders_for_a_resident_who_pays_the_rider_in_cash(system, make_shop, dispatcher, riders) -> None:
    shop = await make_shop({"rice": 10}, price_fen=2500, accept_limit_s=600)
    rider = await online(system, dispatcher, riders, 32.0415, 118.7885)
    helper = f"centre-{uuid.uuid4().hex[:6]}"
    async with system.client("orders", Role.HELPER, helper) as centre:
        resident = await ok(
            await centre.post(
                "/residents",
                json={
                    "name": "Chen Yeye",
                    "address": HOME,
                    "phone": "+86 139 0000 0002",
                    "call_before_delivery": True,
                    "pay_on_delivery": True,
                },
            ),
            201,
        )
        placed = await ok(
            await centre.post(
                "/orders",
                headers=key(),
                json={
                    "store_id": shop.store_id,
                    "on_behalf_of": resident["resident_id"],
                    "fulfilment": {"mode": "delivery"},
                    "lines": [{"product_id": shop.products["rice"], "quantity": 2}],
                },
            ),
            201,
        )
        order_id, code = placed["id"], placed["delivery_code"]
        assert placed["payment"] == "on_delivery"
        assert placed["flags"] == {"call_before_delivery": True, "pay_on_delivery": True}
        await wait_status(centre, order_id, "CONFIRMED")
        await shop_packs(system, shop.store_id, order_id)

        offer = await rider.offer_for(order_id)
        assert offer["call_first"]
        assert offer["pay_on_delivery"]
        assert offer["due_at_door_fen"] == 5000
        await ok(await rider.client.post(f"/offers/{offer['id']}/accept"))
        await rider.step(order_id, "at-shop")
        await rider.step(order_id, "picked-up", {"code": await told_by_the_counter(system, shop.store_id, order_id)})
        await rider.step(order_id, "at-door")
        no_cash = await rider.client.post(f"/deliveries/{order_id}/delivered", json={"code": code})
        assert no_cash.status_code == 422
        assert "¥50.00" in no_cash.text
        await rider.step(order_id, "delivered", {"code": code, "cash_collected_fen": 5000})
        await wait_status(centre, order_id, "DELIVERED")

        async def settled() -> dict[str, Any] | None:
            ledger = await ok(await centre.get(f"/orders/{order_id}/ledger"))
            return ledger if ledger["cash_collected_fen"] is not None else None

        ledger = await eventually(settled)
        assert (ledger["payment"], ledger["paid_fen"], ledger["due_at_door_fen"]) == ("on_delivery", 0, 5000)
        assert ledger["cash_collected_fen"] == 5000
        assert ledger["reconciles"]
        balance = await ok(await centre.get("/balance", params={"resident": resident["resident_id"]}))
        assert balance["balance_fen"] == 0, "cash at the door never touches the balance"


async def test_a_cancel_is_refused_once_picking_has_started_and_says_why(system, make_shop) -> None:
    shop = await make_shop({"tofu": 5}, accept_limit_s=600)
    async with shopper(system) as me:
        placed = await ok(
            await me.post(
                "/orders",
                headers=key(),
                json={
                    "store_id": shop.store_id,
                    "fulfilment": {"mode": "pickup"},
                    "lines": [{"product_id": shop.products["tofu"], "quantity": 1}],
                },
            ),
            201,
        )
        order_id = placed["id"]
        await wait_status(me, order_id, "CONFIRMED")
        async with staff(system, shop.store_id) as counter:
            await ok(await counter.post(f"/stores/{shop.store_id}/orders/{order_id}/accept"))
            await ok(await counter.post(f"/stores/{shop.store_id}/orders/{order_id}/picking"))
        await wait_status(me, order_id, "PICKING")
        refused = await me.post(f"/orders/{order_id}/cancel")
        assert refused.status_code == 409
        assert "picking" in refused.json()["detail"]
        assert "contact the shop" in refused.json()["detail"]
        ledger = await ok(await me.get(f"/orders/{order_id}/ledger"))
        assert ledger["paid_fen"] == 500, "nothing moves on a refused cancel"
        assert ledger["refund_fen"] == 0, "nothing moves on a refused cancel"
