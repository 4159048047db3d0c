"""A broker that lost everything: the embedded one (tansu, memory storage) restarted under a relay
and a consumer. The relay declares the topics again (with their partitions), re-sends what it had
published, the consumer's inbox drops what it had applied, and every event is applied once; when
housekeeping had deleted published rows, the relay says older events may be lost.

It runs on a broker of its own: restarting the session's would take every other test's topics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from shared import outbox
from shared.clock import SystemClock
from shared.events.envelope import RawEnvelope
from shared.kafka_admin import EPOCH_TOPIC
from shared.stack import Process, broker_process, free_port, wait_for_port
from tests.integration.conftest import PARCEL_TOPIC, ParcelNoted, ParcelUnitOfWork
from tests.waiting import eventually

GROUP = "itest-parcels"


class Broker:
    """A tansu of this test's own on a fixed port; `restart()` brings it back with nothing."""

    def __init__(self, home: Path) -> None:
        self.port, self.home = free_port(), home
        self.process: Process | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = broker_process(self.port, self.home)
        self.process.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def broker(tmp_path: Path) -> AsyncIterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
async def relay(database_url: str, pool: asyncpg.Pool, broker: Broker) -> AsyncIterator[outbox.Relay]:
    r = outbox.Relay(
        "itest",
        database_url,
        pool,
        broker.bootstrap,
        poll_interval_s=0.2,
        leader_retry_s=0.2,
        retry_backoff_s=0.2,
        broker_check=outbox.BrokerCheck(every_s=0.5, topics=[PARCEL_TOPIC, PARCEL_TOPIC.dlq]),
    )
    await r.start()
    try:
        yield r
    finally:
        await r.stop()


async def record(pool: asyncpg.Pool, *parcels: str) -> None:
    async with ParcelUnitOfWork(pool, clock=SystemClock()) as uow:
        for parcel in parcels:
            await uow.publish(ParcelNoted(parcel_id=parcel))


async def all_published(pool: asyncpg.Pool) -> bool:
    return (await outbox.lag(pool)).pending == 0


async def consume(pool: asyncpg.Pool, bootstrap: str, at_most: int, within: float = 20.0) -> tuple[int, int]:
    """Apply up to `at_most` records as a consumer does (inbox claim and effect in one transaction,
    then the offset committed); returns (applied, dropped as already applied)."""
    consumer = AIOKafkaConsumer(
        PARCEL_TOPIC.name,
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    applied = dropped = 0
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while applied + dropped < at_most and loop.time() < deadline:
            for records in (await consumer.getmany(timeout_ms=300, max_records=at_most - applied - dropped)).values():
                for rec in records:
                    env = RawEnvelope.model_validate_json(rec.value or b"")
                    async with ParcelUnitOfWork(pool, clock=SystemClock(), cause=env) as uow:
                        if await uow.inbox.claim(GROUP, env, PARCEL_TOPIC.name):
                            await uow.effects.note(env.payload["parcel_id"])
                            applied += 1
                        else:
                            dropped += 1
            await consumer.commit()
    finally:
        await consumer.stop()
    return applied, dropped


async def partitions(bootstrap: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([PARCEL_TOPIC.name])
        return len(described["partitions"])
    finally:
        await admin.close()


async def test_a_broker_that_lost_everything_gets_its_topics_and_events_back_once(
    pool: asyncpg.Pool, broker: Broker, relay: outbox.Relay
) -> None:
    await pool.execute("CREATE TABLE effects (parcel_id text NOT NULL)")
    await record(pool, *(f"p{i}" for i in range(10)))
    await eventually(lambda: all_published(pool))
    assert await consume(pool, broker.bootstrap, 6) == (6, 0)
    assert relay.broker_health()["lost_and_resent"] is None, "nothing lost yet"
    first_epoch = relay.epoch

    broker.restart()  # topics, messages and the group's committed offsets: all gone

    await eventually(lambda: asyncio.sleep(0, relay.broker_loss is not None), within=30)
    assert relay.epoch != first_epoch
    assert await partitions(broker.bootstrap) == PARCEL_TOPIC.partitions, "declared again with its partitions"
    await record(pool, "p10", "p11", "p12")  # and the service carries on
    await eventually(lambda: all_published(pool), within=30)
    applied, dropped = await consume(pool, broker.bootstrap, 13)
    assert (applied, dropped) == (7, 6), "the six applied before are dropped by the inbox, the rest applied"
    effects = [r["parcel_id"] for r in await pool.fetch("SELECT parcel_id FROM effects")]
    assert sorted(effects) == sorted(f"p{i}" for i in range(13)), "each exactly once"
    health = relay.broker_health()
    lost = health["lost_and_resent"]
    assert lost["resent"] == 10
    assert lost["older_may_be_lost"] is False, "the outbox still held every event it had published"
    assert health["epoch"] == relay.epoch.id  # type: ignore[union-attr]

    # Housekeeping deletes what was published long ago; a loss after that cannot recover those.
    await pool.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT 2)")
    broker.restart()
    await eventually(lambda: asyncio.sleep(0, relay.broker_loss is not None and relay.broker_loss.resent == 11))
    lost = relay.broker_health()["lost_and_resent"]
    assert lost["older_may_be_lost"] is True
    assert "lost" in lost["unrecoverable"]
    oldest_kept = await pool.fetchval("SELECT min(created_at) FROM outbox")
    assert lost["resent_from"] == oldest_kept.isoformat(), "the horizon re-sent is the oldest row still kept"
    await eventually(lambda: all_published(pool), within=30)
    assert await consume(pool, broker.bootstrap, 11) == (0, 11), "nothing applied twice"


async def test_a_broker_from_before_epochs_is_not_taken_for_one_that_lost_everything(
    pool: asyncpg.Pool, broker: Broker, database_url: str
) -> None:
    """Topics that exist without an epoch (a Kafka cluster running since before this release): the
    epoch written then reaches back to the beginning, so nothing already published is sent again."""

    def relay() -> outbox.Relay:
        return outbox.Relay(
            "itest",
            database_url,
            pool,
            broker.bootstrap,
            poll_interval_s=0.2,
            broker_check=outbox.BrokerCheck(every_s=0.5, topics=[PARCEL_TOPIC, PARCEL_TOPIC.dlq]),
        )

    r = relay()
    await r.start()
    await record(pool, "a", "b")
    await eventually(lambda: all_published(pool))
    await r.stop()
    # The epoch topic goes (as if it had never been there); the topics and the messages stay.
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([EPOCH_TOPIC.name])
    finally:
        await admin.close()
    r = relay()  # a service started afresh
    await r.start()
    try:
        await eventually(lambda: asyncio.sleep(0, r.epoch is not None))
        assert r.epoch is not None
        assert r.epoch.created_at.year == 1970
        assert r.broker_loss is None
        assert await all_published(pool)
    finally:
        await r.stop()


async def test_events_sent_but_not_yet_marked_when_the_broker_is_lost_are_sent_again(
    database_url: str, pool: asyncpg.Pool, broker: Broker
) -> None:
    # The relay marks what the broker confirmed with its next read. A broker that lost its log
    # meanwhile lost those events too: they must be read and sent again, not marked.
    await pool.execute("CREATE TABLE effects (parcel_id text NOT NULL)")
    r = outbox.Relay(
        "itest",
        database_url,
        pool,
        broker.bootstrap,
        poll_interval_s=60.0,
        leader_retry_s=0.2,
        mark_within_s=60.0,  # no mark is written alone during the test
        broker_check=outbox.BrokerCheck(every_s=0.5, topics=[PARCEL_TOPIC, PARCEL_TOPIC.dlq]),
    )
    await r.start()
    try:
        await record(pool, "confirmed-unmarked")
        await eventually(lambda: asyncio.sleep(0, r.published == 1), within=30)
        assert (await outbox.lag(pool)).pending == 1, "confirmed by the broker, not yet marked"

        broker.restart()
        await record(pool, "after-the-loss")  # wakes the relay, which finds the broker's new life

        assert await consume(pool, broker.bootstrap, 2) == (2, 0)
    finally:
        await r.stop()
    effects = sorted(row["parcel_id"] for row in await pool.fetch("SELECT parcel_id FROM effects"))
    assert effects == ["after-the-loss", "confirmed-unmarked"]
