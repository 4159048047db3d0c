"""A run of placed orders handed over in one batch reserves exactly what applying them one by one would:
the same stock, holds, movements, reservations, lines, parts, deadlines and events, in the same
order; refusals keep their reasons; runs of several partitions at once never oversell; and a run costs the
same few statements however long it is."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from asyncpg.connection import LoggedQuery

from services.inventory.entrypoints.app import SPEC
from services.inventory.service_layer import reservations
from shared.events.contracts import OrderedLine, OrderPlaced
from shared.events.envelope import Envelope, envelope, parse_envelope
from shared.events.topics import ORDERS
from shared.inbox import Consumer, Record
from shared.vocabulary.units import StockUnit
from tests.fakes import FakeClock, to_json
from tests.integration.inventory.support import SETTINGS, check_books, placed, stock, unit_of_work
from tests.runtime import consumer_for, runtime_for

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # every location of the seed is always open


def consumer(pool: asyncpg.Pool) -> Consumer:
    return consumer_for(runtime_for(SPEC, SETTINGS, pool, clock=FakeClock(AT)), ORDERS)


async def in_one_batch(pool: asyncpg.Pool, envs: Sequence[Envelope[Any]]) -> None:
    applying = consumer(pool)
    await applying.handle_batch([Record(to_json(env), partition=0, offset=n) for n, env in enumerate(envs)])
    assert (applying.batches, applying.split, applying.applied) == (1, 0, len(envs)), "applied as one run"


async def one_by_one(pool: asyncpg.Pool, envs: Sequence[Envelope[Any]]) -> None:
    applying = consumer(pool)
    for env in envs:
        assert await applying.handle(to_json(env), None, {}) == "applied"
    assert applying.batches == 0


async def state(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """Everything placing writes, in the order it was written (events: those the orders caused); not ids,
    event ids nor row timestamps."""
    queries = {
        "stock": "SELECT product_id, on_hand, reserved, low_flagged, published_level FROM stock ORDER BY 1",
        "holds": "SELECT order_id, line_no, product_id, quantity FROM holds ORDER BY 1, 2, 3",
        "movements": "SELECT product_id, on_hand_delta, reserved_delta, reason, order_id, actor FROM stock_movements "
        "WHERE order_id IS NOT NULL ORDER BY id",
        "reservations": "SELECT order_id, store_id, status, accept_deadline, placed_by, placed_for, fulfilment_mode, "
        "flags, shown_fen, note, slot_start, slot_end, release_at, version FROM reservations ORDER BY 1",
        "lines": "SELECT order_id, line_no, product_id, location_id, quantity, unit, ordered_pieces, unit_price_fen, "
        "estimated_fen, substitution, state FROM reservation_lines ORDER BY 1, 2",
        "parts": "SELECT order_id, location_id, status, accept_deadline, version FROM fulfilment_parts ORDER BY 1, 2",
        "deadlines": "SELECT kind, key, due_at, payload, fired_at, cancelled_at FROM deadlines ORDER BY 1, 2",
        "outbox": "SELECT event_type, topic, key, envelope->'payload', envelope->>'causation_id', "
        "envelope->>'correlation_id', envelope->>'occurred_at' FROM outbox "
        "WHERE envelope->>'causation_id' IS NOT NULL ORDER BY id",  # what the orders caused, not the seed
    }
    return {name: [tuple(r.values()) for r in await pool.fetch(sql)] for name, sql in queries.items()}


def outcomes(envs: Sequence[Envelope[Any]], seen: dict[str, list[tuple[Any, ...]]]) -> dict[str, str]:
    """Each order's answer: StockReserved, or StockRejected with its reason."""
    said: dict[str, str] = {}
    for event_type, _, key, payload, *_ in seen["outbox"]:
        if event_type == "StockReserved":
            said[key] = "reserved"
        elif event_type == "StockRejected":
            said[key] = payload["reason"]
    assert set(said) <= {env.payload.order_id for env in envs}
    return said


async def test_a_run_against_the_last_pieces_reserves_exactly_what_one_by_one_would(
    inv: asyncpg.Pool, twin: asyncpg.Pool
) -> None:
    for pool in (inv, twin):  # five waters left, announced as low at three
        await pool.execute("UPDATE stock SET on_hand = 5 WHERE product_id = 'water'")
        await pool.execute("UPDATE products SET low_stock_threshold = 3 WHERE id = 'water'")
    orders = [
        placed("o1", [("water", 2)]),
        placed("o2", [("water", 2), ("juice", 1)]),
        placed("o3", [("juice", 1), ("water", 2)]),  # one water left: none of it, not even the juice
        placed("o4", [("water", 1), ("cola", 1)]),  # the last water
        placed("o5", [("water", 1)]),
        placed("o6", [("carp", 2), ("bokchoy", 3)]),  # a market order: a part per stall
        placed("o7", [("bokchoy", 8)]),  # seven bok choy left after o6
        placed("o8", [("bokchoy", 7)]),
        placed("o1", [("water", 2)]),  # o1 again (another event): decided already, nothing happens
    ]
    envs = [envelope(order, occurred_at=AT) for order in orders]

    await in_one_batch(inv, envs)
    await one_by_one(twin, envs)

    batched, alone = await state(inv), await state(twin)
    assert batched == alone
    assert outcomes(envs, batched) == {
        "o1": "reserved",
        "o2": "reserved",
        "o3": "out_of_stock",
        "o4": "reserved",
        "o5": "out_of_stock",
        "o6": "reserved",
        "o7": "out_of_stock",
        "o8": "reserved",
    }
    assert await stock(inv, "water") == (5, 5), "exactly the stock there is"
    assert await stock(inv, "juice") == (20, 1), "o3's juice was not held: all or nothing"
    assert await stock(inv, "bokchoy") == (10, 10)
    water = [
        (t, payload.get("level"), payload["available"])
        for t, _, _, payload, *_ in batched["outbox"]
        if t in ("StockLevelChanged", "LowStock") and payload["product_id"] == "water"
    ]
    assert water == [("StockLevelChanged", "low", 3), ("LowStock", None, 1), ("StockLevelChanged", "out", 0)], (
        "each level as the water ran out, and LowStock once, under three"
    )
    await check_books(inv)


async def test_a_closed_stall_or_an_unknown_product_refuses_only_that_order(
    inv: asyncpg.Pool, twin: asyncpg.Pool
) -> None:
    for pool in (inv, twin):
        await pool.execute("UPDATE locations SET paused = true WHERE id = 'veg'")
    ghost = OrderPlaced(
        order_id="a3",
        store_id="shop",
        placed_by="u",
        placed_for="u",
        fulfilment_mode="pickup",
        total_fen=0,
        lines=[
            OrderedLine(
                line_no=1, product_id="water", location_id="shop", quantity=1, unit=StockUnit.PIECE, stock_quantity=1
            ),
            OrderedLine(
                line_no=2, product_id="ghost", location_id="shop", quantity=1, unit=StockUnit.PIECE, stock_quantity=1
            ),
        ],
    )
    orders = [
        placed("a1", [("water", 3)]),
        placed("a2", [("carp", 1), ("bokchoy", 1)]),  # the veg stall is paused
        ghost,
        placed("a4", [("carp", 1)]),  # the fish stall of the same market is open
        placed("a5", [("water", 2)]),
    ]
    envs = [envelope(order, occurred_at=AT) for order in orders]

    await in_one_batch(inv, envs)
    await one_by_one(twin, envs)

    batched = await state(inv)
    assert batched == await state(twin)
    assert outcomes(envs, batched) == {
        "a1": "reserved",
        "a2": "shop_closed",
        "a3": "unknown_product",
        "a4": "reserved",
        "a5": "reserved",
    }
    rejected = {key: payload for t, _, key, payload, *_ in batched["outbox"] if t == "StockRejected"}
    assert "Veg (veg)" in rejected["a2"]["note"], "the refusal says which stall is closed"
    assert [s["product_id"] for s in rejected["a3"]["short_lines"]] == ["ghost"]
    assert await stock(inv, "water") == (50, 5)
    await check_books(inv)


async def statements_placing(pool: asyncpg.Pool, orders: Sequence[OrderPlaced]) -> list[str]:
    """The SQL the batch use case sends for these orders (besides BEGIN and COMMIT)."""
    sent: list[str] = []

    def record(query: LoggedQuery) -> None:
        sent.append(query.query)

    run = [(parse_envelope(to_json(envelope(o, occurred_at=AT))), o) for o in orders]
    async with unit_of_work(pool, FakeClock(AT)) as uow:
        conn = uow.stock.conn
        conn.add_query_logger(record)
        try:
            await reservations.on_orders_placed(uow, run)
        finally:
            conn.remove_query_logger(record)
    return sent


async def test_a_run_costs_the_same_few_statements_however_long(inv: asyncpg.Pool) -> None:
    await statements_placing(inv, [placed("warm", [("cola", 1)])])  # asyncpg learns the array types once
    few = await statements_placing(inv, [placed(f"f{i}", [("water", 1), ("juice", 1)]) for i in range(3)])
    many = await statements_placing(
        inv,
        [placed(f"m{i}", [("water", 1), ("juice", 1)]) for i in range(30)]
        + [placed(f"k{i}", [("carp", 1), ("bokchoy", 1)]) for i in range(5)],
    )
    assert len(few) == len(many), (few, many)
    assert len(many) <= 10, many
    assert await stock(inv, "juice") == (20, 20), "the juice ran out at the 17th order of the long run"
    assert await stock(inv, "water") == (50, 20), "and the orders after it held no water either"
    assert await stock(inv, "bokchoy") == (10, 5)
    await check_books(inv)


async def test_partitions_applied_at_once_never_oversell(inv: asyncpg.Pool) -> None:
    await inv.execute("UPDATE stock SET on_hand = 5 WHERE product_id = 'water'")
    orders = [
        placed(f"p{i}", [("water", 1), ("juice", 1)] if i % 2 else [("juice", 1), ("water", 1)]) for i in range(24)
    ]
    records = [
        Record(to_json(envelope(order, occurred_at=AT)), partition=i % 3, offset=i // 3)
        for i, order in enumerate(orders)
    ]
    applying = consumer(inv)
    applying.concurrent_runs = 3  # each partition its own transaction, all three at the same time
    await applying.handle_batch(records)
    assert (applying.batches, applying.applied) == (3, 24)
    assert await stock(inv, "water") == (5, 5)
    assert await stock(inv, "juice") == (20, 5), "no juice held for an order that got no water"
    decided = await inv.fetch("SELECT event_type, count(*) AS n FROM outbox WHERE key ~ '^p[0-9]+$' GROUP BY 1")
    assert {r["event_type"]: r["n"] for r in decided} == {"StockReserved": 5, "StockRejected": 19}
    await check_books(inv)
