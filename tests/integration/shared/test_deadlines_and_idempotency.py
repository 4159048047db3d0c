"""Deadlines and Idempotency-Key against real PostgreSQL, under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import HTTPException

from shared.deadlines import Deadline, DeadlineScheduler, FakeClock, PostgresDeadlineStore
from shared.idempotency import run_once


async def test_each_due_deadline_fires_once_across_two_schedulers(pool) -> None:
    store = PostgresDeadlineStore(pool)
    clock = FakeClock(datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        for i in range(30):
            await store.schedule(conn, Deadline("accept", f"order-{i}", clock.now() - timedelta(seconds=1)))
        await store.schedule(conn, Deadline("accept", "later", clock.now() + timedelta(minutes=3)))
    fired: list[str] = []

    async def fire(conn, deadline: Deadline) -> None:
        await conn.execute("SELECT pg_sleep(0.01)")
        fired.append(deadline.key)

    a = DeadlineScheduler(store, {"accept": fire}, clock, batch=4)
    b = DeadlineScheduler(store, {"accept": fire}, clock, batch=4)
    counts = await asyncio.gather(a.run_due(), b.run_due())
    assert sum(counts) == 30
    assert sorted(fired) == sorted(f"order-{i}" for i in range(30))
    assert "later" not in fired
    clock.advance(180)
    assert await a.run_due() == 1


async def test_a_deadline_cancelled_with_the_awaited_action_never_fires(pool) -> None:
    store = PostgresDeadlineStore(pool)
    clock = FakeClock(datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        await store.schedule(conn, Deadline("accept", "o1", clock.now() + timedelta(seconds=5)))
    async with pool.acquire() as conn, conn.transaction():
        assert await store.cancel(conn, "accept", "o1")  # the shop accepted, in this transaction
    clock.advance(10)
    fired: list[str] = []

    async def fire(conn, deadline: Deadline) -> None:
        fired.append(deadline.key)

    assert await DeadlineScheduler(store, {"accept": fire}, clock).run_due() == 0
    assert fired == []


async def test_a_failing_handler_leaves_the_deadline_to_fire_again(pool) -> None:
    store = PostgresDeadlineStore(pool)
    clock = FakeClock(datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        await store.schedule(conn, Deadline("accept", "o1", clock.now()))
    attempts = []

    async def fire(conn, deadline: Deadline) -> None:
        attempts.append(deadline.key)
        if len(attempts) == 1:
            raise ConnectionError("lost the database mid-way")

    scheduler = DeadlineScheduler(store, {"accept": fire}, clock)
    with pytest.raises(ConnectionError):
        await scheduler.run_due()
    assert await scheduler.run_due() == 1
    assert attempts == ["o1", "o1"]


async def test_a_retried_request_is_answered_not_repeated(pool) -> None:
    await pool.execute("CREATE TABLE orders_made (id serial PRIMARY KEY)")

    async def make_order(conn) -> tuple[int, dict]:
        order_id = await conn.fetchval("INSERT INTO orders_made DEFAULT VALUES RETURNING id")
        await asyncio.sleep(0.05)  # let the duplicates pile up on the claim
        return 201, {"id": order_id}

    answers = await asyncio.gather(*(run_once(pool, "shopper:li", "key-1", "hash-a", make_order) for _ in range(8)))
    assert len({a[1]["id"] for a in answers}) == 1
    assert all(a[0] == 201 for a in answers)
    assert await pool.fetchval("SELECT count(*) FROM orders_made") == 1
    with pytest.raises(HTTPException) as conflict:
        await run_once(pool, "shopper:li", "key-1", "hash-b", make_order)
    assert conflict.value.status_code == 409
    other = await run_once(pool, "shopper:wang", "key-1", "hash-a", make_order)
    assert other[1]["id"] != answers[0][1]["id"], "keys belong to the caller"


async def test_a_failed_request_frees_its_key(pool) -> None:
    async def fail(conn) -> tuple[int, dict]:
        raise HTTPException(422, "unknown product")

    async def succeed(conn) -> tuple[int, dict]:
        return 201, {"ok": True}

    with pytest.raises(HTTPException):
        await run_once(pool, "shopper:li", "k", "h", fail)
    assert await run_once(pool, "shopper:li", "k", "h", succeed) == (201, {"ok": True})
