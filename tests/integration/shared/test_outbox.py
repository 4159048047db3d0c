"""The outbox against real PostgreSQL and the broker: nothing committed is lost, nothing
rolled back is sent, unconfirmed rows are re-sent, and one key's events keep their order."""

from __future__ import annotations

import asyncio
import json

import asyncpg
import pytest

from shared import outbox
from shared.clock import SystemClock
from shared.events.envelope import envelope
from shared.events.topics import Topic
from tests.integration.conftest import ParcelNoted, ParcelUnitOfWork, read_topic
from tests.waiting import eventually

SERVICE = "itest"


def relay(database_url: str, pool: asyncpg.Pool, bootstrap: str, **kw: float) -> outbox.Relay:
    return outbox.Relay(
        SERVICE,
        database_url,
        pool,
        bootstrap,
        poll_interval_s=kw.get("poll", 0.2),
        leader_retry_s=kw.get("leader_retry", 0.2),
        batch_size=int(kw.get("batch", 200)),
    )


async def test_an_event_committed_before_a_crash_is_still_delivered(
    database_url, pool, bootstrap, parcel_topic: Topic
) -> None:
    event = ParcelNoted(parcel_id="crash-1")
    async with pool.acquire() as conn, conn.transaction():
        await outbox.record(conn, envelope(event), SERVICE)
    # The process "crashed" here: committed, never published. A new relay finds the row.
    assert (await outbox.lag(pool)).pending == 1
    r = relay(database_url, pool, bootstrap)
    await r.start()
    try:
        records = await read_topic(bootstrap, parcel_topic.name, 1, key=b"crash-1")
        await eventually(lambda: _pending_is(pool, 0))
    finally:
        await r.stop()
    assert len(records) == 1
    assert json.loads(records[0].value)["payload"]["parcel_id"] == "crash-1"
    assert dict(records[0].headers)["event_type"] == b"ParcelNoted"


async def _pending_is(pool: asyncpg.Pool, n: int) -> bool:
    return (await outbox.lag(pool)).pending == n


async def test_a_rolled_back_unit_of_work_publishes_nothing(database_url, pool, bootstrap, parcel_topic) -> None:
    async def change_then_fail() -> None:
        async with ParcelUnitOfWork(pool, clock=SystemClock()) as uow:
            await uow.publish(ParcelNoted(parcel_id="rolled-back"))
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await change_then_fail()
    assert (await outbox.lag(pool)).pending == 0


async def test_a_committed_unit_of_work_publishes_its_events_with_one_time_and_cause(pool) -> None:
    cause = envelope(ParcelNoted(parcel_id="cause"))
    async with ParcelUnitOfWork(pool, clock=SystemClock(), cause=cause) as uow:  # type: ignore[arg-type]
        first = await uow.publish(ParcelNoted(parcel_id="a", seq=1))
        second = await uow.publish(ParcelNoted(parcel_id="a", seq=2))
    assert first.occurred_at == second.occurred_at == uow.now()
    assert first.correlation_id == cause.correlation_id
    assert first.causation_id == str(cause.event_id)
    rows = await pool.fetch("SELECT envelope FROM outbox ORDER BY id")
    assert [r["envelope"]["payload"]["seq"] for r in rows] == [1, 2]


async def test_a_publish_never_marked_sent_is_sent_again(database_url, pool, bootstrap, parcel_topic) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await outbox.record(conn, envelope(ParcelNoted(parcel_id="resend-1")), SERVICE)
    r = relay(database_url, pool, bootstrap)
    await r.start()
    await eventually(lambda: _pending_is(pool, 0))
    await r.stop()
    # Simulate a crash after the broker confirmed but before the row was marked.
    await pool.execute("UPDATE outbox SET published_at = NULL")
    r = relay(database_url, pool, bootstrap)
    await r.start()
    try:
        await eventually(lambda: _pending_is(pool, 0))
    finally:
        await r.stop()
    copies = await read_topic(bootstrap, parcel_topic.name, 2, key=b"resend-1")
    assert len(copies) == 2, "at-least-once: the same event id twice, for the inbox to absorb"
    assert len({json.loads(c.value)["event_id"] for c in copies}) == 1


async def test_one_keys_events_keep_their_order_across_batches(database_url, pool, bootstrap, parcel_topic) -> None:
    for seq in range(40):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.record(conn, envelope(ParcelNoted(parcel_id="ordered-1", seq=seq)), SERVICE)
            await outbox.record(conn, envelope(ParcelNoted(parcel_id=f"other-{seq % 5}", seq=seq)), SERVICE)
    r = relay(database_url, pool, bootstrap, batch=7)
    await r.start()
    try:
        records = await read_topic(bootstrap, parcel_topic.name, 40, key=b"ordered-1")
    finally:
        await r.stop()
    assert [json.loads(rec.value)["payload"]["seq"] for rec in records] == list(range(40))


async def test_only_one_relay_leads_and_another_takes_over(database_url, pool, bootstrap, parcel_topic) -> None:
    first, second = relay(database_url, pool, bootstrap), relay(database_url, pool, bootstrap)
    await first.start()
    await eventually(lambda: _true(first.is_leader))
    await second.start()
    await asyncio.sleep(0.6)
    assert first.is_leader
    assert not second.is_leader
    await first.stop()
    await eventually(lambda: _true(second.is_leader), within=5)
    async with pool.acquire() as conn, conn.transaction():
        await outbox.record(conn, envelope(ParcelNoted(parcel_id="after-failover")), SERVICE)
    try:
        assert await read_topic(bootstrap, parcel_topic.name, 1, key=b"after-failover")
    finally:
        await second.stop()


async def _true(value: bool) -> bool:
    return value


async def _leading(r: outbox.Relay) -> outbox.Relay:
    await r.start()
    await eventually(lambda: _true(r.is_leader))
    return r


async def _commit(pool: asyncpg.Pool, event: ParcelNoted) -> None:
    """One event in a transaction of its own, as a use case commits it."""
    async with pool.acquire() as conn, conn.transaction():
        await outbox.record(conn, envelope(event), SERVICE)


async def test_lag_shows_how_far_behind_the_relay_is(pool) -> None:
    for i in range(3):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.record(conn, envelope(ParcelNoted(parcel_id=f"lag-{i}")), SERVICE)
    await asyncio.sleep(0.2)
    lag = await outbox.lag(pool)
    assert lag.pending == 3
    assert lag.oldest_age_s >= 0.2
    assert lag.failing == 0


async def test_the_leading_relay_publishes_while_every_pooled_connection_is_busy(
    database_url, bootstrap, parcel_topic: Topic
) -> None:
    """Requests may hold every pooled connection under a rush; the relay reads and marks on its own."""
    from shared import db

    small = await db.create_pool(database_url, 1, 1)
    r = relay(database_url, small, bootstrap)
    try:
        # The pool's only connection, held by "a request" throughout: from before the relay's
        # first look at the broker, which marks rows too and once waited for the pool.
        async with small.acquire():
            await r.start()
            await eventually(lambda: _true(r.is_leader))
            writer = await asyncpg.connect(database_url)
            try:
                async with writer.transaction():
                    await outbox.record(writer, envelope(ParcelNoted(parcel_id="rush-1")), SERVICE)
            finally:
                await writer.close()
            records = await read_topic(bootstrap, parcel_topic.name, 1, key=b"rush-1")
            assert len(records) == 1
            check = await asyncpg.connect(database_url)
            try:
                # The relay marks the row after the broker's ack, so the mark may trail the record a moment.
                async def marked() -> bool:
                    return bool(await check.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0)

                await eventually(marked)  # on the relay's own connection too: the pool's one is held
            finally:
                await check.close()
    finally:
        await r.stop()
        await small.close()


async def test_a_quiet_outbox_is_marked_published_as_of_when_the_broker_confirmed(
    database_url, pool, bootstrap, parcel_topic
) -> None:
    # The relay marks what it sent with its next read; with no next commit it marks it alone
    # soon after, and `published_at` says when the broker confirmed, not when the mark was written.
    r = await _leading(outbox.Relay(SERVICE, database_url, pool, bootstrap, poll_interval_s=5.0, mark_within_s=1.5))
    try:
        await _commit(pool, ParcelNoted(parcel_id="quiet-1"))
        assert await read_topic(bootstrap, parcel_topic.name, 1, key=b"quiet-1")
        await eventually(lambda: _pending_is(pool, 0), within=5)
        row = await pool.fetchrow(
            "SELECT extract(epoch FROM published_at - created_at) AS lag_s, "
            "extract(epoch FROM now() - published_at) AS since_s FROM outbox"
        )
    finally:
        await r.stop()
    assert row["lag_s"] < 1.0, "published as of the broker's confirmation"
    assert row["since_s"] >= 0.0


async def test_rows_sent_one_after_another_are_marked_by_the_next_read(
    database_url, pool, bootstrap, parcel_topic
) -> None:
    # A steady stream: each round's read carries the marks of the round before, so marking
    # costs no statement of its own but the last one, once the stream stops.
    r = await _leading(outbox.Relay(SERVICE, database_url, pool, bootstrap, poll_interval_s=0.2, mark_within_s=1.0))
    try:
        for seq in range(30):
            await _commit(pool, ParcelNoted(parcel_id="stream-1", seq=seq))
            await asyncio.sleep(0.01)
        records = await read_topic(bootstrap, parcel_topic.name, 30, key=b"stream-1")
        await eventually(lambda: _pending_is(pool, 0))
    finally:
        await r.stop()
    assert [json.loads(rec.value)["payload"]["seq"] for rec in records] == list(range(30))
    attempts = await pool.fetch("SELECT attempts FROM outbox")
    assert [a["attempts"] for a in attempts] == [1] * 30, "each row marked once, none sent twice"
    assert r.published == 30
    assert r.marked_alone <= 2, f"{r.marked_alone} rounds marked alone"
