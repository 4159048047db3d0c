"""A retried POST /orders (a flaky mobile network) must not order twice."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.e2e.conftest import available, order_body, place, shopper, wait_status

pytestmark = pytest.mark.e2e


async def test_retry_with_the_same_key_returns_the_same_order(system, make_shop) -> None:
    shop = await make_shop({"water": 10})
    water = shop.products["water"]
    key = str(uuid.uuid4())
    async with shopper(system) as client:
        first = await place(client, shop.store_id, {water: 2}, key=key)
        assert first.status_code == 201, first.text
        retries = await asyncio.gather(*(place(client, shop.store_id, {water: 2}, key=key) for _ in range(3)))
        assert [r.status_code for r in retries] == [201, 201, 201]
        assert {r.json()["id"] for r in retries} == {first.json()["id"]}

        await wait_status(client, first.json()["id"], "CONFIRMED")
        mine = (await client.get("/orders")).json()
    assert [o["id"] for o in mine] == [first.json()["id"]]
    assert await available(system, shop.store_id) == {water: 8}  # reserved once, not four times


async def test_concurrent_duplicates_make_one_order(system, make_shop) -> None:
    shop = await make_shop({"water": 10})
    water = shop.products["water"]
    key = str(uuid.uuid4())
    async with shopper(system) as client:
        responses = await asyncio.gather(*(place(client, shop.store_id, {water: 1}, key=key) for _ in range(5)))
        assert [r.status_code for r in responses] == [201] * 5, [r.text for r in responses]
        assert len({r.json()["id"] for r in responses}) == 1
        assert len((await client.get("/orders")).json()) == 1


async def test_same_key_for_a_different_basket_is_refused(system, make_shop) -> None:
    shop = await make_shop({"water": 10})
    water = shop.products["water"]
    key = str(uuid.uuid4())
    async with shopper(system) as client:
        first = await place(client, shop.store_id, {water: 2}, key=key)
        assert first.status_code == 201, first.text
        different = await place(client, shop.store_id, {water: 3}, key=key)
        assert different.status_code == 409, different.text
        assert "Idempotency-Key" in different.json()["detail"]
        assert [o["id"] for o in (await client.get("/orders")).json()] == [first.json()["id"]]


async def test_same_key_from_another_shopper_is_their_own_order(system, make_shop) -> None:
    shop = await make_shop({"water": 10})
    water = shop.products["water"]
    key = str(uuid.uuid4())
    async with shopper(system) as alice, shopper(system) as bob:
        mine = await place(alice, shop.store_id, {water: 1}, key=key)
        theirs = await place(bob, shop.store_id, {water: 1}, key=key)
        assert (mine.status_code, theirs.status_code) == (201, 201), theirs.text
        assert mine.json()["id"] != theirs.json()["id"]
        assert theirs.json()["placed_by"] != mine.json()["placed_by"]


async def test_order_without_a_key_is_refused(system, make_shop) -> None:
    shop = await make_shop({"water": 10})
    async with shopper(system) as client:
        response = await client.post("/orders", json=order_body(shop.store_id, {shop.products["water"]: 1}))
        assert response.status_code == 400, response.text
        assert "Idempotency-Key" in response.json()["detail"]
        assert (await client.get("/orders")).json() == []
