"""Orders confirms a fetched run of reservations set-based, with the effects of confirming them one at a time.

The run's orders are read and locked in one statement and saved in one; their OrderConfirmed
events go to the outbox in the statement the commit sends. However long the run, it costs
the same few statements.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.orders.domain.basket import Wanted
from services.orders.entrypoints.app import SPEC
from services.orders.service_layer import ordering, payments
from shared.auth import Principal
from shared.events.contracts import ShortLine, StockRejected, StockReserved
from shared.events.envelope import Envelope, envelope
from shared.events.topics import INVENTORY
from shared.inbox import Record
from shared.service import Runtime
from shared.vocabulary.roles import Role
from tests.fakes import to_json
from tests.integration.orders.conftest import (
    GRANDMA,
    SETTINGS,
    Conversation,
    corner_shop,
    place,
    run,
    seed,
    shop_product,
    unit_of_work,
)
from tests.runtime import consumer_for, runtime_for

DESK = Principal("cash-desk", Role.ADMIN)
DEADLINE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(orders_pool, corner_shop(), shop_product("water", "水", "Water", "drinks", 200))
    await run(orders_pool, payments.top_up, DESK, GRANDMA.subject, 100_000, None)


async def placed(pool: asyncpg.Pool, count: int) -> list[str]:
    orders = [await place(pool, {"mode": "pickup"}, store_id="shop", wanted=[Wanted("water", 1)]) for _ in range(count)]
    return [o.id for o in orders]


def reserved(order_id: str, minutes: int = 0) -> Envelope[Any]:
    return envelope(
        StockReserved(
            order_id=order_id, store_id="shop", lines=[], accept_deadline=DEADLINE + timedelta(minutes=minutes)
        )
    )


def records(envs: list[Envelope[Any]]) -> list[Record]:
    return [Record(to_json(env), env.key.encode(), {}, 0, n) for n, env in enumerate(envs)]


def run_of(order_ids: list[str]) -> list[Envelope[Any]]:
    """A reservation for each order, a second (late) one for the first, and one for an order never placed."""
    return [*(reserved(i) for i in order_ids), reserved(order_ids[0], minutes=5), reserved("never-placed")]


async def state(pool: asyncpg.Pool, order_id: str) -> dict[str, Any]:
    """The order as stored, and the events it published in reply to what, without times or ids."""
    async with unit_of_work(pool, readonly=True) as uow:
        order = await uow.orders.get(order_id)
    assert order is not None
    published = await pool.fetch(
        "SELECT event_type, envelope FROM outbox WHERE key = $1 AND event_type <> 'OrderPlaced' ORDER BY id", order_id
    )
    return {
        "status": order.status,
        "version": order.version,
        "timeline": [(e.status, e.cause, e.detail) for e in order.timeline],
        "published": [(r["event_type"], r["envelope"]["payload"]) for r in published],
        "causes": [r["envelope"]["causation_id"] for r in published],
    }


def history(state: dict[str, Any], order_id: str) -> dict[str, Any]:
    """The state with the order's own id and its causes' ids left out, to compare two orders' histories."""
    published = [(t, {k: v for k, v in p.items() if v != order_id}) for t, p in state["published"]]
    return {**state, "published": published, "causes": len(state["causes"])}


async def test_a_run_of_reservations_does_what_they_do_one_at_a_time(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    together, alone = await placed(orders_pool, 5), await placed(orders_pool, 5)
    consumer = consumer_for(orders_runtime, INVENTORY)
    run = run_of(together)
    batch = records(run)
    batch.insert(2, Record(batch[1].raw, batch[1].key, {}, 0, 99))  # a copy inside the run: absorbed by the inbox
    await consumer.handle_batch(batch)
    assert (consumer.batches, consumer.split) == (1, 0), "applied as one run, not split"
    for record in records(run_of(alone)):
        await consumer.handle(record.raw, record.key, record.headers)
        if record.offset == 1:
            assert await consumer.handle(record.raw, record.key, record.headers) == "duplicate"

    for mine, theirs in zip(together, alone, strict=True):
        batched, single = await state(orders_pool, mine), await state(orders_pool, theirs)
        assert history(batched, mine) == history(single, theirs)
    first = await state(orders_pool, together[0])
    assert first["status"].value == "CONFIRMED"
    assert [cause for _, cause, _ in first["timeline"]] == [
        "placed",
        "stock reserved",
        "waiting for the shop to accept",
        "stock reservation arrived after the order was CONFIRMED; nothing changed",
    ]
    assert first["timeline"][2][2] == {"accept_deadline": DEADLINE.isoformat()}
    for order_id, env in zip(together, run, strict=False):
        confirmed = await state(orders_pool, order_id)
        assert confirmed["causes"] == [str(env.event_id)], "each OrderConfirmed names the reservation that caused it"
    inbox = await orders_pool.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'orders'")
    assert inbox == 2 * len(run)


async def reservation_statements(pool: asyncpg.Pool, conversation: Conversation, count: int) -> list[str]:
    """The statements one run of `count` reservations sends in its transaction (BEGIN and COMMIT aside)."""
    consumer = consumer_for(runtime_for(SPEC, SETTINGS, pool), INVENTORY)
    envs = [reserved(i) for i in await placed(pool, count)]
    await asyncio.sleep(0.05)  # the query logger reports on the next turns of the loop
    conversation.clear()
    await consumer.handle_batch(records(envs))
    await asyncio.sleep(0.05)
    [transaction] = conversation.transactions()
    assert transaction[-1] == "COMMIT;"
    async with unit_of_work(pool, readonly=True) as uow:
        confirmed = await uow.orders.get_many([env.payload.order_id for env in envs])
    assert {o.status.value for o in confirmed.values()} == {"CONFIRMED"}
    assert len(confirmed) == count
    return transaction[1:-1]


async def test_a_run_costs_the_same_few_statements_however_long(
    one_connection: tuple[asyncpg.Pool, Conversation],
) -> None:
    pool, conversation = one_connection
    await reservation_statements(pool, conversation, 1)  # asyncpg learns the array types once
    few = await reservation_statements(pool, conversation, 3)
    many = await reservation_statements(pool, conversation, 40)
    assert len(few) == len(many), (few, many)
    # the inbox claim, the orders read and locked, their save, the moments told (text messages), the outbox rows
    assert len(many) <= 5, many


async def test_an_order_changed_while_the_run_waited_for_its_lock_is_read_as_it_was_committed(
    orders_pool: asyncpg.Pool,
) -> None:
    """One statement reads and locks the run's orders; a row another transaction changed meanwhile has
    its lines, timeline and postings read again, so a refund made meanwhile is seen (never paid twice)."""
    [order_id] = await placed(orders_pool, 1)

    async def read_locked() -> dict[str, Any]:
        async with unit_of_work(orders_pool) as uow:
            return await uow.orders.get_many([order_id], for_update=True)

    async with unit_of_work(orders_pool) as uow:
        await ordering.cancel_order(uow, GRANDMA, order_id)
        waiting = asyncio.create_task(read_locked())
        await asyncio.sleep(0.3)
        assert not waiting.done(), "it waits for the lock"
    order = (await waiting)[order_id]
    assert order.status.value == "CANCELLED"
    assert [e.cause for e in order.timeline] == ["placed", "cancelled"]
    assert [p.kind.value for p in order.postings] == ["paid", "refund"]


def rejected(order_id: str) -> Envelope[Any]:
    short = [ShortLine(product_id="water", location_id="shop", requested=1, available=0)]
    return envelope(StockRejected(order_id=order_id, store_id="shop", short_lines=short, reason="out_of_stock"))


async def money(pool: asyncpg.Pool, order_id: str) -> list[tuple[str, str, int]]:
    rows = await pool.fetch(
        "SELECT kind, account, amount_fen FROM ledger_entries WHERE order_id = $1 ORDER BY id", order_id
    )
    return [(r["kind"], r["account"], r["amount_fen"]) for r in rows]


async def test_a_run_of_rejections_refunds_each_once_as_one_at_a_time_would(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    together, alone = await placed(orders_pool, 4), await placed(orders_pool, 4)
    consumer = consumer_for(orders_runtime, INVENTORY)
    run = [*(rejected(i) for i in together), rejected(together[0]), rejected("never-placed")]
    await consumer.handle_batch(records(run))
    assert (consumer.batches, consumer.split) == (1, 0), "applied as one run, not split"
    for record in records([*(rejected(i) for i in alone), rejected(alone[0])]):
        await consumer.handle(record.raw, record.key, record.headers)

    for mine, theirs in zip(together, alone, strict=True):
        batched, single = await state(orders_pool, mine), await state(orders_pool, theirs)
        assert history(batched, mine) == history(single, theirs)
        assert await money(orders_pool, mine) == await money(orders_pool, theirs)
    first = await state(orders_pool, together[0])
    assert first["status"].value == "REJECTED"
    assert first["timeline"][-1][1] == "stock rejection arrived after the order was REJECTED; nothing changed"
    assert await money(orders_pool, together[0]) == [("paid", "balance", -200), ("refund", "balance", 200)]
    async with unit_of_work(orders_pool, readonly=True) as uow:
        balance = await uow.ledger.balance(GRANDMA.subject)
        entries = await uow.ledger.entries(holder=GRANDMA.subject, limit=1000)
    assert balance == sum(e.amount_fen for e in entries if e.account.value == "balance"), "the balance is its entries"
    afters = [e.balance_after_fen for e in reversed(entries) if e.account.value == "balance"]
    amounts = [e.amount_fen for e in reversed(entries) if e.account.value == "balance"]
    assert all(b - a == amount for a, b, amount in zip(afters, afters[1:], amounts[1:], strict=False)), (
        "each entry's balance-after follows from the one before it"
    )


async def rejection_statements(pool: asyncpg.Pool, conversation: Conversation, count: int) -> list[str]:
    consumer = consumer_for(runtime_for(SPEC, SETTINGS, pool), INVENTORY)
    envs = [rejected(i) for i in await placed(pool, count)]
    await asyncio.sleep(0.05)
    conversation.clear()
    await consumer.handle_batch(records(envs))
    await asyncio.sleep(0.05)
    [transaction] = conversation.transactions()
    return transaction[1:-1]


async def test_a_run_of_rejections_costs_the_same_few_statements_however_long(
    one_connection: tuple[asyncpg.Pool, Conversation],
) -> None:
    pool, conversation = one_connection
    await rejection_statements(pool, conversation, 2)  # a run of two or more: asyncpg learns its types once
    few = await rejection_statements(pool, conversation, 3)
    many = await rejection_statements(pool, conversation, 30)
    assert len(few) == len(many), (few, many)
    # the inbox claim, the orders read and locked, the refunds, their save, the moments told, the outbox
    assert len(many) <= 6, many


async def test_saving_an_order_reads_it_by_its_key_however_many_orders_there_are(orders_pool: asyncpg.Pool) -> None:
    """The save joins its changes to the orders table: against a few thousand orders the planner
    once chose a sequential scan of the whole table for every save (4 ms each at 4500 orders)."""
    from services.orders.adapters.repository import SAVE, save_arguments

    [order_id] = await placed(orders_pool, 1)
    async with orders_pool.acquire() as conn, conn.transaction():
        await conn.execute(  # the neighbourhood's first months: thousands of orders with their lines
            "INSERT INTO orders SELECT (jsonb_populate_record(o, jsonb_build_object('id', o.id || '-' || g))).* "
            "FROM orders o, generate_series(1, 5000) g WHERE o.id = $1",
            order_id,
        )
        await conn.execute(
            "INSERT INTO order_lines SELECT (jsonb_populate_record(l, jsonb_build_object('order_id', l.order_id "
            "|| '-' || g))).* FROM order_lines l, generate_series(1, 5000) g WHERE l.order_id = $1",
            order_id,
        )
        await conn.execute("ANALYZE orders")
        await conn.execute("ANALYZE order_lines")
        async with unit_of_work(orders_pool, readonly=True) as uow:
            order = await uow.orders.get(order_id)
        assert order is not None
        order.changed_lines.update(ln.line_no for ln in order.lines)  # the lines' statement planned too
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + SAVE, *save_arguments([order]))
    scans = [
        (n.get("Node Type"), n.get("Relation Name"))
        for n in _nodes((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])
    ]
    assert ("Seq Scan", "orders") not in scans, scans
    assert ("Seq Scan", "order_lines") not in scans, scans


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]
