"""A code locked after too many wrong tries, by dispatch or at the counter, is on the order's timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from services.orders.domain.basket import Wanted
from services.orders.service_layer import codes, payments
from shared.auth import Principal
from shared.events.contracts import CodeLockedOut, HandoverCodeLockedOut
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import GRANDMA, HOME, corner_shop, handle, place, run, seed, shop_product, view

UNTIL = datetime(2026, 1, 1, 8, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(orders_pool, corner_shop(), shop_product("water", "水", "Water", "drinks", 200))


async def test_lockouts_are_on_the_timeline_the_orderer_sees(orders_pool: asyncpg.Pool) -> None:
    await run(orders_pool, payments.top_up, Principal("ops", Role.ADMIN), GRANDMA.subject, 10_000, "float")
    order = await place(
        orders_pool, {"mode": "delivery", "address": HOME}, store_id="shop", wanted=[Wanted("water", 1)]
    )
    base = {"order_id": order.id, "store_id": "shop"}
    await handle(
        orders_pool,
        codes.on_handover_code_locked_out,
        HandoverCodeLockedOut(**base, by="store_staff:counter-1", wrong_tries=5, until=UNTIL),
    )
    await handle(
        orders_pool,
        codes.on_code_locked_out,
        CodeLockedOut(**base, code="delivery", by="rider-1", wrong_tries=5, until=UNTIL),
    )
    timeline = (await view(orders_pool, order.id))["timeline"]
    locked = [e for e in timeline if "wrong codes" in e["cause"]]
    assert [e["cause"] for e in locked] == [
        "5 wrong codes for the handover at the counter: further tries refused until 08:15 UTC",
        "5 wrong codes for the delivery at the door: further tries refused until 08:15 UTC",
    ]
    assert all(e["status"] is None for e in locked), "a fact: the order did not move"
