"""Orders' copy of inventory's staff registry on real PostgreSQL: the newest report wins, and a shop's order
is shown to its registered staff only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.orders.domain.basket import Wanted
from services.orders.service_layer import payments, reading
from shared.auth import Principal
from shared.errors import Forbidden
from shared.events.contracts import StaffRegistryChanged
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import GRANDMA, HOME, corner_shop, place, run, seed, shop_product, unit_of_work

T = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_a_shop_order_is_shown_to_registered_staff_only_and_an_older_report_changes_nothing(
    orders_pool: asyncpg.Pool,
) -> None:
    await seed(orders_pool, corner_shop(), shop_product("water", "水", "Water", "drinks", 200))
    await run(orders_pool, payments.top_up, Principal("ops", Role.ADMIN), GRANDMA.subject, 10_000, "float")
    order = await place(
        orders_pool, {"mode": "delivery", "address": HOME}, store_id="shop", wanted=[Wanted("water", 1)]
    )
    wang, li = Principal("wang", Role.STORE_STAFF, store="shop"), Principal("li", Role.STORE_STAFF, store="shop")
    assert (await run(orders_pool, reading.get_order, li, order.id)).id == order.id

    async with unit_of_work(orders_pool) as uow:
        await uow.catalog.record_staff_registry(StaffRegistryChanged(location_id="shop", subjects=["wang"]), T)
        # A redelivered older report (both still registered then) arrives late and is ignored.
        older = StaffRegistryChanged(location_id="shop", subjects=["li", "wang"])
        await uow.catalog.record_staff_registry(older, T - timedelta(minutes=5))
    assert (await run(orders_pool, reading.get_order, wang, order.id)).id == order.id
    with pytest.raises(Forbidden, match="'li' is not on the staff registry of shop"):
        await run(orders_pool, reading.get_order, li, order.id)
