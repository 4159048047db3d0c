"""Placing an order: stock is reserved for it or it is rejected, and cancelling gives the stock back."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.e2e.conftest import (
    available,
    eventually,
    place,
    place_ok,
    shopper,
    wait_available,
    wait_status,
)

pytestmark = pytest.mark.e2e


async def test_confirmed_order_reserves_its_stock_and_shows_its_timeline(system, make_shop) -> None:
    shop = await make_shop({"water": 10, "bread": 4})
    water, bread = shop.products["water"], shop.products["bread"]
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {water: 3, bread: 1})
        order = await wait_status(client, order_id, "CONFIRMED")

    moves = [e for e in order["timeline"] if e["status"]]
    assert [e["status"] for e in moves] == ["PLACED", "CONFIRMED"]
    placed_at, confirmed_at = (datetime.fromisoformat(e["at"]) for e in moves)
    assert placed_at <= confirmed_at
    assert order["total_fen"] == 4 * 500
    assert await available(system, shop.store_id) == {water: 7, bread: 3}


async def test_weighed_goods_are_priced_per_kg_and_reserved_in_grams(system, make_market) -> None:
    market = await make_market(
        {"fish-stall": {"carp": {"unit": "g", "grams_per_piece": 600, "price_fen": 1800, "on_hand": 5000}}}
    )
    carp = market.products["carp"]
    async with shopper(system) as client:
        order_id = await place_ok(client, market.store_id, {carp: 2})
        order = await wait_status(client, order_id, "CONFIRMED")

    [line] = order["lines"]
    assert line["unit"] == "g"
    assert line["quantity"] == 2
    assert line["stock_quantity"] == 1200
    assert line["location_id"] == market.stalls["fish-stall"]
    assert line["estimated_fen"] == 2160  # 1.2 kg at 18.00 yuan/kg
    assert order["total_fen"] == 2160
    assert await available(system, market.store_id) == {carp: 5000 - 1200}


async def test_a_market_basket_is_reserved_across_stalls_together_or_not_at_all(system, make_market) -> None:
    market = await make_market(
        {
            "fish-stall": {"carp": {"unit": "g", "grams_per_piece": 600, "price_fen": 1800, "on_hand": 5000}},
            "veg-stall": {"bokchoy": {"on_hand": 3, "price_fen": 300}},
        }
    )
    carp, bokchoy = market.products["carp"], market.products["bokchoy"]
    async with shopper(system) as client:
        too_much = await place_ok(client, market.store_id, {carp: 1, bokchoy: 4})
        order = await wait_status(client, too_much, "REJECTED")
        assert order["reject_reason"] == "out_of_stock"
        [short] = order["reject_details"]["short_lines"]
        assert (short["product_id"], short["location_id"], short["requested"], short["available"]) == (
            bokchoy,
            market.stalls["veg-stall"],
            4,
            3,
        )
        assert await available(system, market.store_id) == {carp: 5000, bokchoy: 3}

        enough = await place_ok(client, market.store_id, {carp: 1, bokchoy: 3})
        order = await wait_status(client, enough, "CONFIRMED")
        assert {ln["product_id"]: ln["location_id"] for ln in order["lines"]} == {
            carp: market.stalls["fish-stall"],
            bokchoy: market.stalls["veg-stall"],
        }
        assert order["total_fen"] == 1080 + 900
        assert await available(system, market.store_id) == {carp: 4400, bokchoy: 0}

        at_the_stall = await place(client, market.stalls["veg-stall"], {bokchoy: 1})
        assert at_the_stall.status_code == 422, at_the_stall.text
        assert market.store_id in at_the_stall.json()["detail"]  # order from the market instead


async def test_order_beyond_stock_is_rejected_naming_every_short_line(system, make_shop) -> None:
    shop = await make_shop({"water": 10, "eggs": 2, "milk": 1})
    water, eggs, milk = shop.products["water"], shop.products["eggs"], shop.products["milk"]
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {water: 4, eggs: 5, milk: 3})
        order = await wait_status(client, order_id, "REJECTED")

    assert order["reject_reason"] == "out_of_stock"
    short = {s["product_id"]: s for s in order["reject_details"]["short_lines"]}
    assert set(short) == {eggs, milk}  # water could be had, so it is not short
    assert (short[eggs]["requested"], short[eggs]["available"]) == (5, 2)
    assert (short[milk]["requested"], short[milk]["available"]) == (3, 1)
    assert [e["status"] for e in order["timeline"] if e["status"]] == ["PLACED", "REJECTED"]
    # All or nothing: the water that was there is not held for an order that cannot be met.
    assert await available(system, shop.store_id) == {water: 10, eggs: 2, milk: 1}


async def test_cancelling_gives_the_stock_back_and_cannot_happen_twice(system, make_shop) -> None:
    shop = await make_shop({"water": 6})
    water = shop.products["water"]
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {water: 4})
        await wait_status(client, order_id, "CONFIRMED")
        assert await available(system, shop.store_id) == {water: 2}

        cancelled = await client.post(f"/orders/{order_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "CANCELLED"
        await wait_available(system, shop.store_id, {water: 6})

        again = await client.post(f"/orders/{order_id}/cancel")
        assert again.status_code == 409, again.text
        assert "CANCELLED" in again.json()["detail"]

        async def release_noted() -> dict | None:
            order = (await client.get(f"/orders/{order_id}")).json()
            return order if any(e["cause"] == "stock released" for e in order["timeline"]) else None

        order = await eventually(release_noted)
    assert order["status"] == "CANCELLED"
    assert [e["status"] for e in order["timeline"] if e["status"]] == ["PLACED", "CONFIRMED", "CANCELLED"]


async def test_cancelling_before_the_stock_is_reserved_still_gives_it_back(system, make_shop) -> None:
    shop = await make_shop({"water": 6})
    water = shop.products["water"]
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {water: 5})
        cancelled = await client.post(f"/orders/{order_id}/cancel")  # before inventory has seen the order
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "CANCELLED"

        async def released() -> dict | None:  # inventory reserved, then released on the cancellation
            order = (await client.get(f"/orders/{order_id}")).json()
            return order if any(e["cause"] == "stock released" for e in order["timeline"]) else None

        order = await eventually(released)
    assert order["status"] == "CANCELLED"
    assert [e["status"] for e in order["timeline"] if e["status"]][-1] == "CANCELLED"
    assert await available(system, shop.store_id) == {water: 6}
