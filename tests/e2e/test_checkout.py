"""Checkout and money, whole: prepaid and refunded when packed lighter, pay on delivery, a balance too
small, delivery slots, and a quote that matches what placing charges."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import ShopperApp, System, shopper, top_up, wait_for_catalog, wait_status

pytestmark = pytest.mark.e2e

HOME = {"text": "3-201 Wenchang Lane", "lat": 32.0425, "lon": 118.787}
CARP = {"unit": "g", "grams_per_piece": 600, "price_fen": 1800, "on_hand": 6000}  # 18 yuan/kg


async def fish_shop(system: System, admin: httpx.AsyncClient, fee_fen: int = 300) -> tuple[str, str]:
    """A shop that delivers for `fee_fen` and sells carp by weight; returns (store id, carp id)."""
    store_id = f"shop-{uuid.uuid4().hex[:8]}"
    r = await admin.put(
        f"/admin/locations/{store_id}",
        json={
            "kind": "shop",
            "category": "fish",
            "name_zh": "鱼店",
            "name_en": "Fish shop",
            "lat": 32.04,
            "lon": 118.79,
            "delivery_fee_fen": fee_fen,
            "accept_limit_s": 600,
        },
    )
    assert r.status_code in (200, 201), r.text
    carp = f"{store_id}-carp"
    r = await admin.put(
        f"/admin/products/{carp}",
        json={"location_id": store_id, "name_zh": "草鱼", "name_en": "Carp", "category": "fish", **CARP},
    )
    assert r.status_code in (200, 201), r.text
    await wait_for_catalog(system, [carp], store_id)
    return store_id, carp


def body(store_id: str, carp: str, **extra: Any) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "lines": [{"product_id": carp, "quantity": 1}],
        "fulfilment": {"mode": "delivery", "address": HOME},
        **extra,
    }


async def post(client: httpx.AsyncClient, path: str, json: dict[str, Any]) -> httpx.Response:
    return await client.post(path, json=json, headers={"Idempotency-Key": str(uuid.uuid4())})


async def test_a_prepaid_order_packed_lighter_gets_the_difference_back(system, admin) -> None:
    store_id, carp = await fish_shop(system, admin)
    async with shopper(system, balance_fen=0) as me:
        await top_up(system, _subject(me), 2000)
        quoted = (await me.post("/orders/quote", json=body(store_id, carp))).json()
        assert (quoted["goods_fen"], quoted["delivery_fee_fen"], quoted["total_fen"], quoted["balance_enough"]) == (
            1080,
            300,
            1380,
            True,
        )
        placed = await post(me, "/orders", body(store_id, carp))
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert (order["shown_fen"], order["payment"], order["ledger"]["paid_fen"]) == (
            quoted["total_fen"],
            "balance",
            1380,
        )
        assert (await me.get("/balance")).json()["balance_fen"] == 2000 - 1380
        await wait_status(me, order["id"], "CONFIRMED")

        async with system.client("inventory", Role.STORE_STAFF, "fishmonger", store=store_id) as counter:
            for step, json in (("accept", None), ("picking", None)):
                r = await counter.post(f"/stores/{store_id}/orders/{order['id']}/{step}", json=json)
                assert r.status_code == 200, r.text
            await wait_status(me, order["id"], "PICKING")
            r = await counter.post(f"/stores/{store_id}/orders/{order['id']}/lines/1/picked", json={"weight_g": 540})
            assert r.status_code == 200, r.text
            r = await counter.post(f"/stores/{store_id}/orders/{order['id']}/packed", json={"bags": 1, "weight_g": 560})
            assert r.status_code == 200, r.text
        await wait_status(me, order["id"], "PACKED")

        money = (await me.get(f"/orders/{order['id']}/ledger")).json()
        assert {k: money[k] for k in ("paid_fen", "final_fen", "refund_fen", "settled", "reconciles")} == {
            "paid_fen": 1380,
            "final_fen": 972 + 300,
            "refund_fen": 108,
            "settled": True,
            "reconciles": True,
        }
        mine = (await me.get("/balance")).json()
        assert mine["balance_fen"] == 2000 - 1272
        assert [e["kind"] for e in mine["entries"]] == ["refund", "paid", "top_up"], "newest first"
    async with shopper(system) as stranger:
        assert (await stranger.get(f"/orders/{order['id']}/ledger")).status_code == 404


async def test_pay_on_delivery_leaves_the_balance_alone_and_is_for_the_door_only(system, admin) -> None:
    store_id, carp = await fish_shop(system, admin)
    async with shopper(system, balance_fen=0) as me:
        placed = await post(me, "/orders", body(store_id, carp, payment="on_delivery"))
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["payment"] == "on_delivery"
        assert order["flags"]["pay_on_delivery"] is True
        assert order["ledger"]["paid_fen"] == 0
        assert order["ledger"]["reconciles"] is True
        assert (await me.get("/balance")).json()["balance_fen"] == 0
        pickup = await post(
            me, "/orders", {**body(store_id, carp, payment="on_delivery"), "fulfilment": {"mode": "pickup"}}
        )
        assert pickup.status_code == 422
        assert "delivery to the door only" in pickup.text


async def test_a_balance_too_small_is_402_saying_what_to_do(system, admin) -> None:
    store_id, carp = await fish_shop(system, admin)
    async with shopper(system, balance_fen=500) as me:
        for path in ("/orders", "/orders/quote"):
            refused = await post(me, path, body(store_id, carp))
            assert refused.status_code == 402, refused.text
            assert "balance is ¥5.00 but this order costs ¥13.80; top up or pay on delivery" in refused.json()["detail"]
        assert (await me.get("/orders")).json() == []
        nope = await post(me, "/balance/top-ups", {"holder": _subject(me), "amount_fen": 1000})
        assert nope.status_code == 403, "money comes in at the cash desk, not from the shopper's own app"
    async with system.client("orders", Role.ADMIN, "desk") as desk:
        no_key = await desk.post("/balance/top-ups", json={"holder": "x", "amount_fen": 1})
        assert no_key.status_code == 400
        assert "Idempotency-Key" in no_key.text


async def test_slots_are_offered_and_checked(system, admin) -> None:
    store_id, carp = await fish_shop(system, admin)
    async with shopper(system) as me:
        offered = (await me.get(f"/stores/{store_id}/slots", params={"lat": HOME["lat"], "lon": HOME["lon"]})).json()
        assert offered["delivers_here"]
        assert len(offered["slots"]) >= 95
        chosen = next(s for s in offered["slots"] if s["available"])
        now = datetime.now(UTC)
        for start, minutes, why in (
            (now - timedelta(hours=1), 30, "in the past"),
            (now + timedelta(minutes=3), 30, "too soon"),
            (now + timedelta(hours=2), 180, "at most 2 hours"),
        ):
            slot = {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}
            refused = await post(
                me,
                "/orders",
                {**body(store_id, carp), "fulfilment": {"mode": "delivery", "address": HOME, "slot": slot}},
            )
            assert refused.status_code == 422, refused.text
            assert why in refused.text, refused.text
            assert (
                await me.post(
                    "/orders/quote",
                    json={**body(store_id, carp), "fulfilment": {"mode": "delivery", "address": HOME, "slot": slot}},
                )
            ).status_code == 422
        slot = {"start": chosen["start"], "end": chosen["end"]}
        placed = await post(
            me, "/orders", {**body(store_id, carp), "fulfilment": {"mode": "delivery", "address": HOME, "slot": slot}}
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert datetime.fromisoformat(order["slot"]["start"]) == datetime.fromisoformat(chosen["start"])
        assert datetime.fromisoformat(order["release_at"]) == datetime.fromisoformat(chosen["release_at"])

        far = {"text": "across the river", "lat": 32.10, "lon": 118.70}
        outside = await post(
            me, "/orders", {**body(store_id, carp), "fulfilment": {"mode": "delivery", "address": far}}
        )
        assert outside.status_code == 422
        assert "delivers only within 1500 m; choose pickup at the shop or a nearer shop" in outside.text


async def test_remembered_substitution_is_used_when_a_line_omits_it(system, admin) -> None:
    store_id, carp = await fish_shop(system, admin)
    async with shopper(system) as me:
        first = body(store_id, carp)
        first["lines"][0]["substitution"] = {"mode": "best_match"}
        assert (await post(me, "/orders", first)).status_code == 201
        again = await post(me, "/orders", body(store_id, carp))
        assert again.status_code == 201, again.text
        assert again.json()["lines"][0]["substitution"]["mode"] == "best_match", "remembered from the last order"


def _subject(client: httpx.AsyncClient) -> str:
    assert isinstance(client, ShopperApp)
    return client.subject
