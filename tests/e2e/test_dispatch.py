"""Dispatch follows orders from their events, so it can plan riders for them."""

from __future__ import annotations

import uuid

import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import place_ok, shopper, wait_status
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_dispatch_records_the_events_of_a_placed_order(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    water = shop.products["water"]
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {water: 2})
        await wait_status(client, order_id, "CONFIRMED")

    async with system.client("dispatch", Role.DISPATCHER, "dispatcher-1") as dispatch:

        async def both_recorded() -> list[dict] | None:
            response = await dispatch.get(f"/orders/{order_id}/events")
            if response.status_code == 404:
                return None
            assert response.status_code == 200, response.text
            events = response.json()
            return events if {"OrderPlaced", "OrderConfirmed"} <= {e["type"] for e in events} else None

        events = await eventually(both_recorded)
        tracked = {o["order_id"]: o for o in (await dispatch.get("/orders")).json()}

    assert [e["type"] for e in events] == ["OrderPlaced", "OrderConfirmed"]
    assert all(e["payload"]["order_id"] == order_id for e in events)
    placed = events[0]["payload"]
    assert placed["store_id"] == shop.store_id
    assert [(ln["product_id"], ln["quantity"]) for ln in placed["lines"]] == [(water, 2)]
    assert tracked[order_id]["status"] == "CONFIRMED"


async def test_dispatch_order_events_are_for_dispatchers_only(system) -> None:
    async with system.client("dispatch", Role.SHOPPER, "curious") as nosy:
        response = await nosy.get(f"/orders/{uuid.uuid4()}/events")
        assert response.status_code == 403, response.text
        assert "dispatcher" in response.json()["detail"]
    async with system.client("dispatch", Role.DISPATCHER, "dispatcher-1") as dispatch:
        unknown = str(uuid.uuid4())
        response = await dispatch.get(f"/orders/{unknown}/events")
        assert response.status_code == 404, response.text
        assert unknown in response.json()["detail"]
