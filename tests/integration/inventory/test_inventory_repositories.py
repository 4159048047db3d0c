"""The fulfilment repositories against real PostgreSQL: many aggregates in one statement, and a stale
save refused whole, so the next issue can apply events in batches through them."""

from __future__ import annotations

import copy

import asyncpg
import pytest

from services.inventory.adapters.fulfilment_repository import StaleVersion
from services.inventory.domain.fulfilment import PartStatus
from services.inventory.domain.reservation import ReservationStatus
from services.inventory.service_layer import reservations
from tests.integration.inventory.support import placed, run, unit_of_work


async def test_many_reservations_and_parts_load_and_save_at_once(inv: asyncpg.Pool) -> None:
    for order_id in ("b1", "b2", "b3"):
        await run(
            inv, lambda uow, o=order_id: reservations.on_order_placed(uow, placed(o, [("carp", 1), ("tomato", 1)]))
        )
    async with unit_of_work(inv) as uow:
        orders = await uow.reservations.get_many(["b3", "b1", "b2", "nope"], for_update=True)
        parts = await uow.parts.get_many(list(orders))
        assert sorted(orders) == ["b1", "b2", "b3"]
        assert [(p.order_id, p.location_id) for p in parts] == [
            (o, loc) for o in ("b1", "b2", "b3") for loc in ("fish", "veg")
        ]
        for part in parts:
            part.accept("market-counter", uow.now())
        await uow.parts.save_many(parts)
        for res in orders.values():
            res.accept()
        await uow.reservations.save_many(list(orders.values()))
        lines = await uow.lines.get_many(list(orders))
    assert len(lines) == 6
    assert {p.version for p in parts} == {1}
    rows = await inv.fetch("SELECT status, version FROM fulfilment_parts ORDER BY order_id, location_id")
    assert {(r["status"], r["version"]) for r in rows} == {("accepted", 1)}
    assert await inv.fetchval("SELECT array_agg(DISTINCT status) FROM reservations") == ["accepted"]


async def test_a_stale_save_is_refused_and_saves_nothing_of_its_batch(inv: asyncpg.Pool) -> None:
    for order_id in ("s1", "s2"):
        await run(inv, lambda uow, o=order_id: reservations.on_order_placed(uow, placed(o, [("water", 1)])))
    async with unit_of_work(inv) as uow:
        first = await uow.reservations.get_many(["s1", "s2"])
        stale = copy.deepcopy(first["s1"])
        first["s1"].accept()
        await uow.reservations.save(first["s1"])  # someone else's write, meanwhile
    async with unit_of_work(inv) as uow:
        fresh = await uow.reservations.get("s2")
        assert fresh is not None
        fresh.release("cancelled")
        stale.release("cancelled")
        with pytest.raises(StaleVersion, match="order\\(s\\) s1 changed meanwhile"):
            await uow.reservations.save_many([fresh, stale])
    statuses = dict(await inv.fetch("SELECT order_id, status FROM reservations ORDER BY order_id"))
    assert statuses == {"s1": ReservationStatus.ACCEPTED.value, "s2": ReservationStatus.HELD.value}

    async with unit_of_work(inv) as uow:
        (part,) = await uow.parts.of_order("s2")
        old = copy.deepcopy(part)
        part.accept("keeper", uow.now())
        await uow.parts.save(part)
        old.reject("shop_rejected", None, "keeper", uow.now())
        with pytest.raises(StaleVersion, match="shop's part of order s2 changed meanwhile"):
            await uow.parts.save(old)
    assert await inv.fetchval("SELECT status FROM fulfilment_parts WHERE order_id = 's2'") == PartStatus.ACCEPTED.value
