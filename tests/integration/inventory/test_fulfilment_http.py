"""The staff routes over HTTP against real PostgreSQL (no broker): who may act where, and bad input as 4xx."""

from __future__ import annotations

import asyncpg
import httpx

from services.inventory.service_layer import reservations
from shared.vocabulary.roles import Role
from tests.integration.inventory.support import as_, events, placed, run, stock

FISH, VEG, MARKET, SHOP = (
    as_(Role.STORE_STAFF, "fish"),
    as_(Role.STORE_STAFF, "veg"),
    as_(Role.STORE_STAFF, "market"),
    as_(Role.STORE_STAFF, "shop"),
)


async def test_staff_act_only_where_they_work(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    await run(pool, lambda uow: reservations.on_order_placed(uow, placed("o1", [("carp", 1), ("bokchoy", 2)])))
    # A stallholder cannot touch the neighbour's part, nor the market's whole order, nor another shop.
    assert (await client.post("/stores/veg/orders/o1/accept", headers=FISH)).status_code == 403
    assert (await client.post("/stores/market/orders/o1/accept", headers=FISH)).status_code == 403
    assert (await client.get("/stores/veg/queue", headers=FISH)).status_code == 403
    assert (await client.get("/stores/market/queue", headers=SHOP)).status_code == 403
    assert (await client.post("/products/bokchoy/restock", json={"quantity": 5}, headers=FISH)).status_code == 403
    assert (await client.get("/stores/fish/queue", headers=as_(Role.SHOPPER))).status_code == 403
    # The fish stall sees its own part; the market counter sees every stall's.
    mine = (await client.get("/stores/fish/queue", headers=FISH)).json()
    assert [(p["order_id"], p["location_id"], p["status"]) for p in mine] == [("o1", "fish", "waiting")]
    assert mine[0]["seconds_left"] > 500
    assert mine[0]["lines"][0]["product_id"] == "carp"
    market = (await client.get("/stores/market/queue", headers=MARKET)).json()
    assert sorted(p["location_id"] for p in market) == ["fish", "veg"]

    assert (await client.post("/stores/fish/orders/o1/accept", headers=FISH)).status_code == 200
    assert (await client.post("/stores/veg/orders/o1/accept", headers=MARKET)).status_code == 200
    picked = await client.post("/stores/fish/orders/o1/lines/1/picked", json={}, headers=FISH)
    assert picked.status_code == 422
    assert "weight_g" in picked.json()["detail"]
    zero = await client.post("/stores/fish/orders/o1/lines/1/picked", json={"weight_g": 0}, headers=FISH)
    assert zero.status_code == 422
    assert (await client.post("/stores/fish/orders/o1/lines/2/picked", json={}, headers=FISH)).status_code == 404
    ok = await client.post("/stores/fish/orders/o1/lines/1/picked", json={"weight_g": 610}, headers=FISH)
    assert ok.status_code == 200
    assert ok.json()["price_fen"] == 1098
    again = await client.post("/stores/fish/orders/o1/lines/1/picked", json={"weight_g": 610}, headers=FISH)
    assert again.status_code == 409

    early = await client.post("/stores/veg/orders/o1/packed", json={"bags": 1, "weight_g": 500}, headers=VEG)
    assert early.status_code == 409
    assert "line 2" in early.json()["detail"]
    other_stall = await client.post(
        "/stores/veg/orders/o1/lines/2/substitute", json={"product_id": "carp", "quantity": 1}, headers=VEG
    )
    assert other_stall.status_code == 422
    assert "veg" in other_stall.json()["detail"]
    negative = await client.post(
        "/stores/veg/orders/o1/lines/2/substitute", json={"product_id": "tomato", "quantity": -1}, headers=VEG
    )
    assert negative.status_code == 422
    key = {"Idempotency-Key": "sub-1", **VEG}
    first = await client.post(
        "/stores/veg/orders/o1/lines/2/substitute", json={"product_id": "tomato", "quantity": 2}, headers=key
    )
    replay = await client.post(
        "/stores/veg/orders/o1/lines/2/substitute", json={"product_id": "tomato", "quantity": 2}, headers=key
    )
    assert first.status_code == replay.status_code == 200
    assert first.json() == replay.json()
    assert first.json()["needs_approval"] is True  # the default preference is "none"

    pick_list = (await client.get("/stores/market/orders/o1/pick-list", headers=MARKET)).json()
    assert [s["location_id"] for s in pick_list["stalls"]] == ["fish", "veg"]
    assert (await client.get("/stores/fish/orders/o1/pick-list", headers=VEG)).status_code == 403
    assert [t for t, _ in await events(pool, "o1")].count("SubstitutionProposed") == 1


async def test_staff_keep_their_location_and_products(client: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    hours = {
        "windows": [{"day": 0, "opens": "06:00", "closes": "12:00"}, {"day": 0, "opens": "16:00", "closes": "19:00"}],
        "closures": [{"on": "2026-02-17", "reason": "Spring Festival"}],
        "paused": True,
    }
    changed = await client.patch("/locations/veg", json=hours, headers=MARKET)
    assert changed.status_code == 200, changed.text
    assert changed.json()["paused"] is True
    assert len(changed.json()["windows"]) == 2
    backwards = await client.patch(
        "/locations/veg", json={"windows": [{"day": 0, "opens": "12:00", "closes": "06:00"}]}, headers=VEG
    )
    assert backwards.status_code == 422
    assert (await client.patch("/locations/fish", json={"paused": True}, headers=VEG)).status_code == 403
    stores = (await client.get("/stores", headers=as_(Role.SHOPPER))).json()
    veg = next(s for m in stores if m["id"] == "market" for s in m["stalls"] if s["id"] == "veg")
    assert veg["open_now"] is False
    assert "busy" in veg["why_closed"]

    made = await client.post(
        "/locations/veg/products",
        headers=VEG,
        json={
            "name_zh": "韭菜",
            "name_en": "Chinese chives",
            "category": "vegetables",
            "unit": "g",
            "price_fen": 900,
            "grams_per_piece": 250,
            "barcode": "6901234567892",
            "low_stock_threshold": 500,
            "on_hand": 3000,
        },
    )
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    assert (
        await client.post(
            "/locations/market/products",
            headers=MARKET,
            json={"name_zh": "x", "name_en": "x", "category": "x", "unit": "piece", "price_fen": 1},
        )
    ).status_code == 422
    assert (await client.patch(f"/products/{pid}", json={"price_fen": -5}, headers=VEG)).status_code == 422
    assert (await client.patch(f"/products/{pid}", json={"unit": "piece"}, headers=VEG)).status_code == 422
    assert (await client.patch(f"/products/{pid}", json={"price_fen": 950}, headers=VEG)).status_code == 200
    assert (await client.post(f"/products/{pid}/restock", json={"quantity": 0}, headers=VEG)).status_code == 422
    assert (
        await client.post(f"/products/{pid}/restock", json={"quantity": 1000, "reason": "farm"}, headers=VEG)
    ).json()["on_hand"] == 4000
    assert (
        await client.post(f"/products/{pid}/adjust", json={"delta": -3800, "reason": "wilted"}, headers=MARKET)
    ).json()["available"] == 200
    assert (
        await client.post(f"/products/{pid}/adjust", json={"delta": -300, "reason": "x"}, headers=VEG)
    ).status_code == 422
    assert (await client.post("/products/no-such/restock", json={"quantity": 1}, headers=VEG)).status_code == 404
    history = (await client.get(f"/products/{pid}/history", headers=VEG)).json()
    assert [h["change"] for h in history][:2] == ["created", "counted"]
    assert {"updated", "restocked: farm", "adjusted: wilted"} <= {h["change"] for h in history}
    assert all(h["actor"] and h["at"] for h in history)
    assert (await client.get(f"/products/{pid}/history", headers=FISH)).status_code == 403
    assert [t for t, _ in await events(pool) if t == "LowStock"] == ["LowStock"]
    assert await stock(pool, pid) == (200, 0)
