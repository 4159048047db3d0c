"""A database that is away is not a bad message: a consumer pauses through an outage longer than
its retry window, dead-letters nothing, says so, and applies every event once when it returns;
a message that fails while the database answers still goes to the dead-letter topic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared import db
from shared.events.envelope import envelope
from shared.inbox import Consumer, Record, RetryPolicy
from tests.fakes import FakeClock, to_json
from tests.integration.conftest import PARCEL_TOPIC, ParcelNoted, ParcelUnitOfWork
from tests.integration.shared.test_outages import proxy_to, through
from tests.proxy import Proxy
from tests.runtime import RecordedDeadLetters
from tests.waiting import eventually

WINDOW = RetryPolicy(window_s=0.3, initial_s=0.05, max_s=0.2)  # far shorter than the outage below


@pytest.fixture
async def proxy(database_url: str) -> AsyncIterator[Proxy]:
    p = await proxy_to(database_url)
    try:
        yield p
    finally:
        await p.cut()


@pytest.fixture
async def proxied_pool(database_url: str, proxy: Proxy) -> AsyncIterator[asyncpg.Pool]:
    admin = await asyncpg.connect(database_url)
    await admin.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    await admin.close()
    p = await db.create_pool(through(database_url, proxy), 1, 4)
    try:
        yield p
    finally:
        p.terminate()


def consumer_on(pool: asyncpg.Pool, letters: RecordedDeadLetters, fail: set[str] | None = None) -> Consumer:
    async def note(uow: ParcelUnitOfWork, event: ParcelNoted) -> None:
        if fail and event.parcel_id in fail:
            raise ConnectionResetError("looks like an outage, but the database answers")
        await uow.effects.note(event.parcel_id)

    async def database_answers(_: str) -> bool:
        try:
            await asyncio.wait_for(pool.fetchval("SELECT 1"), 1.0)
        except Exception:
            return False
        return True

    return Consumer(
        "outage-test",
        PARCEL_TOPIC,
        {ParcelNoted: note},
        lambda env: ParcelUnitOfWork(pool, clock=FakeClock(), cause=env, acquire_timeout_s=0.5),
        lambda: letters,  # type: ignore[arg-type, return-value]
        WINDOW,
        probe=database_answers,
    )


def batch(*parcels: str) -> list[Record]:
    return [Record(to_json(envelope(ParcelNoted(parcel_id=p))), b"k", {}, 0, i) for i, p in enumerate(parcels)]


async def test_an_outage_longer_than_the_retry_window_pauses_and_dead_letters_nothing(
    database_url: str, proxied_pool: asyncpg.Pool, proxy: Proxy
) -> None:
    letters = RecordedDeadLetters()
    consumer = consumer_on(proxied_pool, letters)
    await consumer.handle_batch(batch("before"))

    await proxy.cut()
    applying = asyncio.create_task(consumer.handle_batch(batch("during-1", "during-2", "during-3")))
    await eventually(lambda: _is(consumer.outage is not None), within=5)
    await asyncio.sleep(6 * WINDOW.window_s)  # the outage outlasts the retry window many times
    assert not applying.done(), "the batch is held, its offset with it"
    assert consumer.outage is not None
    assert consumer.outage.dependency == "database"
    assert letters.sent == []

    await proxy.restore()
    await asyncio.wait_for(applying, 15)
    assert consumer.outage is None, "it resumed by itself"
    assert consumer.outages == 1
    assert letters.sent == [], "a database that was away is not a bad message"
    check = await asyncpg.connect(database_url)
    try:
        rows = await check.fetch("SELECT parcel_id FROM effects ORDER BY id")
    finally:
        await check.close()
    assert [r["parcel_id"] for r in rows] == ["before", "during-1", "during-2", "during-3"], "each applied once"


async def test_a_failure_while_the_database_answers_still_goes_to_the_dead_letter_topic(
    proxied_pool: asyncpg.Pool,
) -> None:
    letters = RecordedDeadLetters()
    consumer = consumer_on(proxied_pool, letters, fail={"cursed"})
    await asyncio.wait_for(consumer.handle_batch(batch("fine", "cursed", "also-fine")), 15)
    assert len(letters.sent) == 1
    assert "looks like an outage" in letters.sent[0]
    assert consumer.outages == 0, "the probe found the database answering: no pause"
    rows = await proxied_pool.fetch("SELECT parcel_id FROM effects ORDER BY id")
    assert [r["parcel_id"] for r in rows] == ["fine", "also-fine"]


async def _is(value: bool) -> bool:
    return value
