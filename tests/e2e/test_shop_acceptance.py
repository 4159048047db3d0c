"""A confirmed order waits for the shop: accepted in time it keeps its stock, otherwise it lapses."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import available, place_ok, shopper, wait_available, wait_status
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

SHORT_LIMIT_S = 2
ACCEPT_LIMIT_S = 3  # a little longer where the test must act in time, so a busy machine does not fail it


async def test_order_the_shop_does_not_accept_in_time_is_rejected_and_its_stock_returns(system, make_shop) -> None:
    shop = await make_shop({"water": 5}, accept_limit_s=SHORT_LIMIT_S)
    water = shop.products["water"]
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {water: 3})
        order = await wait_status(client, order_id, "REJECTED", within=SHORT_LIMIT_S + 15)
    assert order["reject_reason"] == "shop_timeout"
    moves = [e for e in order["timeline"] if e["status"]]
    assert [e["status"] for e in moves] == ["PLACED", "CONFIRMED", "REJECTED"]  # reserved, then lapsed
    waited = datetime.fromisoformat(moves[2]["at"]) - datetime.fromisoformat(moves[0]["at"])
    assert waited.total_seconds() >= SHORT_LIMIT_S  # not before the shop's time was up
    await wait_available(system, shop.store_id, {water: 5})


async def test_order_the_shop_accepts_in_time_keeps_its_stock(system, make_shop) -> None:
    shop = await make_shop({"water": 5}, accept_limit_s=ACCEPT_LIMIT_S)
    water = shop.products["water"]
    async with (
        shopper(system) as client,
        system.client("inventory", Role.STORE_STAFF, "shopkeeper", store=shop.store_id) as staff,
    ):
        order_id = await place_ok(client, shop.store_id, {water: 3})

        async def accept() -> httpx.Response | None:  # as soon as the order reaches the shop
            response = await staff.post(f"/stores/{shop.store_id}/orders/{order_id}/accept")
            return None if response.status_code == 404 else response

        accepted = await eventually(accept)
        assert accepted.status_code == 200, accepted.text
        order = await wait_status(client, order_id, "ACCEPTED")
        assert [e["status"] for e in order["timeline"] if e["status"]] == ["PLACED", "CONFIRMED", "ACCEPTED"]

        await asyncio.sleep(ACCEPT_LIMIT_S + 2)  # past the accept limit: nothing may lapse now
        order = (await client.get(f"/orders/{order_id}")).json()
        assert order["status"] == "ACCEPTED"
        assert order["reject_reason"] is None
        assert await available(system, shop.store_id) == {water: 2}

        again = await staff.post(f"/stores/{shop.store_id}/orders/{order_id}/accept")
        assert again.status_code == 409, again.text
        assert "accepted" in again.json()["detail"]


async def test_an_accepted_order_can_still_be_cancelled_and_its_stock_returns(system, make_shop) -> None:
    shop = await make_shop({"water": 5}, accept_limit_s=600)
    water = shop.products["water"]
    async with (
        shopper(system) as client,
        system.client("inventory", Role.STORE_STAFF, "shopkeeper", store=shop.store_id) as staff,
    ):
        order_id = await place_ok(client, shop.store_id, {water: 3})
        await wait_status(client, order_id, "CONFIRMED")
        accepted = await staff.post(f"/stores/{shop.store_id}/orders/{order_id}/accept")
        assert accepted.status_code == 200, accepted.text
        await wait_status(client, order_id, "ACCEPTED")

        cancelled = await client.post(f"/orders/{order_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        await wait_available(system, shop.store_id, {water: 5})


async def test_the_shop_can_refuse_an_order_with_a_reason(system, make_shop) -> None:
    shop = await make_shop({"water": 5}, accept_limit_s=600)
    water = shop.products["water"]
    async with (
        shopper(system) as client,
        system.client("inventory", Role.STORE_STAFF, "shopkeeper", store=shop.store_id) as staff,
    ):
        order_id = await place_ok(client, shop.store_id, {water: 3})
        await wait_status(client, order_id, "CONFIRMED")
        refused = await staff.post(
            f"/stores/{shop.store_id}/orders/{order_id}/reject", json={"note": "the fridge broke"}
        )
        assert refused.status_code == 200, refused.text
        order = await wait_status(client, order_id, "REJECTED")
        assert order["reject_reason"] == "shop_rejected"
        assert order["reject_details"] == {"note": "the fridge broke"}
        await wait_available(system, shop.store_id, {water: 5})

        too_late = await staff.post(f"/stores/{shop.store_id}/orders/{order_id}/accept")
        assert too_late.status_code == 409, too_late.text
