"""Deadlines and Idempotency-Key against real PostgreSQL, under concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from shared.deadlines import Deadline, DeadlineScheduler
from shared.errors import Conflict, Invalid
from shared.idempotency import change_once
from tests.fakes import FakeClock
from tests.integration.conftest import ParcelUnitOfWork


def scheduler(pool: asyncpg.Pool, clock: FakeClock, handlers: dict) -> DeadlineScheduler:
    return DeadlineScheduler(lambda: ParcelUnitOfWork(pool, clock=clock), handlers, clock)


async def test_each_due_deadline_fires_once_across_two_schedulers(pool) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with ParcelUnitOfWork(pool, clock=clock) as uow:
        for i in range(30):
            await uow.schedule("accept", f"order-{i}", clock.now() - timedelta(seconds=1))
        await uow.schedule("accept", "later", clock.now() + timedelta(minutes=3))
    fired: list[str] = []

    async def fire(uow: ParcelUnitOfWork, deadline: Deadline) -> None:
        await uow.effects.pause(0.01)
        fired.append(deadline.key)

    a = scheduler(pool, clock, {"accept": fire})
    b = scheduler(pool, clock, {"accept": fire})
    counts = await asyncio.gather(a.run_due(), b.run_due())
    assert sum(counts) == 30
    assert sorted(fired) == sorted(f"order-{i}" for i in range(30))
    assert "later" not in fired
    clock.advance(180)
    assert await a.run_due() == 1


async def test_a_deadline_cancelled_with_the_awaited_action_never_fires(pool) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with ParcelUnitOfWork(pool, clock=clock) as uow:
        await uow.schedule("accept", "o1", clock.now() + timedelta(seconds=5))
    async with ParcelUnitOfWork(pool, clock=clock) as uow:
        assert await uow.cancel_deadline("accept", "o1")  # the shop accepted, in this transaction
    clock.advance(10)
    fired: list[str] = []

    async def fire(uow: ParcelUnitOfWork, deadline: Deadline) -> None:
        fired.append(deadline.key)

    assert await scheduler(pool, clock, {"accept": fire}).run_due() == 0
    assert fired == []


async def test_a_failing_handler_leaves_the_deadline_to_fire_again_with_none_of_its_effects(pool) -> None:
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    clock = FakeClock(datetime.now(UTC))
    async with ParcelUnitOfWork(pool, clock=clock) as uow:
        await uow.schedule("accept", "o1", clock.now())
    attempts = []

    async def fire(uow: ParcelUnitOfWork, deadline: Deadline) -> None:
        attempts.append(deadline.key)
        await uow.effects.note(deadline.key)
        if len(attempts) == 1:
            raise ConnectionError("lost the database mid-way")

    s = scheduler(pool, clock, {"accept": fire})
    with pytest.raises(ConnectionError):
        await s.run_due()
    assert await s.run_due() == 1
    assert attempts == ["o1", "o1"]
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1, "the failed attempt's effect rolled back"


async def test_a_deadline_rescheduled_by_its_own_handler_fires_again_later(pool) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with ParcelUnitOfWork(pool, clock=clock) as uow:
        await uow.schedule("remind", "o1", clock.now())
    fired: list[datetime] = []

    async def remind(uow: ParcelUnitOfWork, deadline: Deadline) -> None:
        fired.append(uow.now())
        if len(fired) == 1:
            await uow.schedule("remind", "o1", uow.now() + timedelta(minutes=1))

    s = scheduler(pool, clock, {"remind": remind})
    assert await s.run_due() == 1
    clock.advance(61)
    assert await s.run_due() == 1, "the handler's new due time survived its own firing"
    assert len(fired) == 2


async def test_a_retried_request_is_answered_not_repeated(pool) -> None:
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    clock = FakeClock(datetime.now(UTC))
    made = 0

    async def make_order(uow: ParcelUnitOfWork) -> dict:
        nonlocal made
        made += 1
        await uow.effects.note(f"order-{made}")
        await asyncio.sleep(0.05)  # let the duplicates pile up on the claim
        return {"id": made}

    def once(principal: str, fingerprint: str) -> Any:
        return change_once(
            lambda: ParcelUnitOfWork(pool, clock=clock), principal, "key-1", fingerprint, make_order, 201
        )

    answers = await asyncio.gather(*(once("shopper:li", "hash-a") for _ in range(8)))
    assert len({a[1]["id"] for a in answers}) == 1
    assert all(a[0] == 201 for a in answers)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 1
    with pytest.raises(Conflict, match="different request"):
        await once("shopper:li", "hash-b")
    other = await once("shopper:wang", "hash-a")
    assert other[1]["id"] != answers[0][1]["id"], "keys belong to the caller"


async def test_a_refused_request_frees_its_key_and_leaves_nothing(pool) -> None:
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    clock = FakeClock(datetime.now(UTC))

    async def fail(uow: ParcelUnitOfWork) -> dict:
        await uow.effects.note("half-written")
        raise Invalid("unknown product")

    async def succeed(uow: ParcelUnitOfWork) -> dict:
        return {"ok": True}

    def once(change: Any) -> Any:
        return change_once(lambda: ParcelUnitOfWork(pool, clock=clock), "shopper:li", "k", "h", change, 201)

    with pytest.raises(Invalid):
        await once(fail)
    assert await pool.fetchval("SELECT count(*) FROM effects") == 0
    assert await once(succeed) == (201, {"ok": True})
