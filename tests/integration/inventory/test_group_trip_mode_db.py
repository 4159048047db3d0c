"""The consolidated order of a deal dispatch carries is a delivery order (the counter tells the rider its
handover code); when dispatch refuses the one trip, it becomes a pickup order for the leader to collect."""

from __future__ import annotations

import asyncpg

from services.inventory.service_layer import group_buys
from shared.events.contracts import GroupBuyTripRefused
from tests.integration.inventory.support import run
from tests.integration.inventory.test_group_buys_db import accepted, closed


async def test_a_carried_deal_is_a_delivery_until_its_trip_is_refused(inv: asyncpg.Pool) -> None:
    event = closed("gb-t1")
    event = event.model_copy(update={"pickup": event.pickup.model_copy(update={"delivered": True})})
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-t1", {"water": 30, "juice": 10})))
    await run(inv, lambda uow: group_buys.on_group_buy_closed(uow, event))
    mode = "SELECT fulfilment_mode FROM reservations WHERE order_id = 'gb-t1'"
    assert await inv.fetchval(mode) == "delivery"
    refused = GroupBuyTripRefused(deal_id="gb-t1", store_id="shop", reason="too heavy for one trip", bags=2)
    await run(inv, lambda uow: group_buys.on_group_buy_trip_refused(uow, refused))
    assert await inv.fetchval(mode) == "pickup"
