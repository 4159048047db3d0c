"""Inventory's reservation use case against real PostgreSQL: concurrent orders never oversell."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.inventory.service_layer import reservations
from shared.events.contracts import OrderedLine, OrderPlaced
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit
from tests.integration.inventory.support import add_location, add_product, migrate, run, unit_of_work


@pytest.fixture
async def inventory_pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    await migrate(pool)
    async with unit_of_work(pool) as uow:
        await add_location(uow, "shop", LocationKind.SHOP)
        for pid, on_hand in (("water", 50), ("noodles", 30)):
            await add_product(uow, pid, "shop", on_hand)
    return pool


def basket(order_id: str, lines: list[tuple[str, int]]) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        store_id="shop",
        placed_by="u",
        placed_for="u",
        fulfilment_mode="pickup",
        total_fen=0,
        lines=[
            OrderedLine(line_no=i, product_id=p, location_id="shop", quantity=q, unit=StockUnit.PIECE, stock_quantity=q)
            for i, (p, q) in enumerate(lines, 1)
        ],
    )


async def test_two_hundred_concurrent_baskets_never_oversell(inventory_pool: asyncpg.Pool) -> None:
    # As many baskets in flight as the pool has connections: more would only queue for a connection, and on a
    # loaded machine the 200th would time out waiting behind 199 transactions that all lock the same two rows.
    in_flight = asyncio.Semaphore(inventory_pool.get_max_size())

    async def place(i: int) -> None:
        # Baskets overlap in both products, in both orders, to invite deadlocks.
        lines = [("water", 1), ("noodles", 1)] if i % 2 else [("noodles", 1), ("water", 1)]
        async with in_flight:
            await run(
                inventory_pool,
                lambda uow: reservations.on_order_placed(uow, basket(f"o{i}", lines if i % 3 else lines[:1])),
            )

    await asyncio.gather(*(place(i) for i in range(200)))
    stock = {r["product_id"]: (r["on_hand"], r["reserved"]) for r in await inventory_pool.fetch("SELECT * FROM stock")}
    assert stock["water"][1] <= 50
    assert stock["noodles"][1] <= 30
    live = await inventory_pool.fetch(
        "SELECT rl.product_id, sum(rl.quantity) AS q FROM reservation_lines rl "
        "JOIN reservations r USING (order_id) WHERE r.status = 'held' GROUP BY 1"
    )
    assert {r["product_id"]: r["q"] for r in live} == {pid: reserved for pid, (_, reserved) in stock.items()}
    assert stock["noodles"][1] == 30, "everything that could be sold was"
    rejected = await inventory_pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'StockRejected'")
    reserved = await inventory_pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'StockReserved'")
    assert rejected + reserved == 200


async def test_cancel_releases_exactly_what_was_reserved(inventory_pool: asyncpg.Pool) -> None:
    from shared.events.contracts import OrderCancelled
    from shared.vocabulary.order_status import OrderStatus

    await run(inventory_pool, lambda uow: reservations.on_order_placed(uow, basket("o1", [("water", 7)])))
    async with unit_of_work(inventory_pool) as uow:
        await reservations.on_order_cancelled(
            uow,
            OrderCancelled(order_id="o1", store_id="shop", cancelled_by="u", previous_status=OrderStatus.CONFIRMED),
        )
        await reservations.on_order_cancelled(
            uow,
            OrderCancelled(order_id="o1", store_id="shop", cancelled_by="u", previous_status=OrderStatus.CONFIRMED),
        )
    assert await inventory_pool.fetchval("SELECT reserved FROM stock WHERE product_id = 'water'") == 0
    moves = await inventory_pool.fetch(
        "SELECT reserved_delta, reason FROM stock_movements WHERE product_id = 'water' AND order_id = 'o1' ORDER BY id"
    )
    assert [(m["reserved_delta"], m["reason"]) for m in moves] == [(7, "reserved"), (-7, "released: cancelled")]
