"""Consumers apply what a fetch hands over in batches, against real PostgreSQL and the broker:
a poison message costs only itself, duplicates inside a batch have one effect, one order's
events keep their order across event types, a failed transaction is tried again whole, and a
partition's run is one transaction instead of one per message."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared.events.envelope import Event, RawEnvelope, envelope, register
from shared.events.topics import Topic
from shared.fetch_pacing import FetchPacer, FetchPacing, PacedFetches
from shared.inbox import Consumer, PermanentError, Record, RetryPolicy
from tests.fakes import FakeClock, to_json
from tests.integration.conftest import PARCEL_TOPIC, ParcelNoted, ParcelUnitOfWork
from tests.runtime import RecordedDeadLetters
from tests.waiting import eventually


@register
class ParcelWeighed(Event):
    """A second test event on the same topic, to see two types of one parcel keep their order."""

    topic: ClassVar[Topic] = PARCEL_TOPIC
    parcel_id: str
    grams: int

    def key(self) -> str:
        return self.parcel_id


class World:
    """A consumer whose effects are rows in `effects`, in the order they were applied."""

    def __init__(self, pool: asyncpg.Pool, topic: Topic = PARCEL_TOPIC) -> None:
        self.pool = pool
        self.letters = RecordedDeadLetters()
        self.poison: set[str] = set()
        self.fail_next_batches = 0
        self.batch_calls: list[int] = []
        self.consumer = Consumer(
            f"batch-test-{topic.name}",
            topic,
            {ParcelNoted: self.note, ParcelWeighed: self.weigh},
            lambda env: ParcelUnitOfWork(pool, clock=FakeClock(), cause=env),
            lambda: self.letters,  # type: ignore[arg-type, return-value]
            RetryPolicy(window_s=0.2, initial_s=0.05, max_s=0.1),
            batch_handlers={ParcelNoted: self.note_many},
        )

    async def note(self, uow: ParcelUnitOfWork, event: ParcelNoted) -> None:
        if event.parcel_id in self.poison:
            raise PermanentError(f"parcel {event.parcel_id} can never be noted")
        await uow.effects.note(f"noted:{event.parcel_id}")

    async def note_many(self, uow: ParcelUnitOfWork, events: Sequence[tuple[RawEnvelope, ParcelNoted]]) -> None:
        self.batch_calls.append(len(events))
        if self.fail_next_batches > 0:
            self.fail_next_batches -= 1
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        for _, event in events:
            await self.note(uow, event)

    async def weigh(self, uow: ParcelUnitOfWork, event: ParcelWeighed) -> None:
        await uow.effects.note(f"weighed:{event.parcel_id}:{event.grams}")

    async def effects(self) -> list[str]:
        return [r["parcel_id"] for r in await self.pool.fetch("SELECT parcel_id FROM effects ORDER BY id")]


@pytest.fixture
async def world(pool: asyncpg.Pool) -> World:
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    return World(pool)


def rec(event: Event, partition: int = 0, offset: int = 0, raw: bytes | None = None) -> Record:
    return Record(raw if raw is not None else to_json(envelope(event)), b"k", {}, partition, offset)


def records(*events: Event, partition: int = 0) -> list[Record]:
    return [rec(e, partition, i) for i, e in enumerate(events)]


async def test_a_poison_message_in_the_middle_costs_only_itself(world: World) -> None:
    world.poison.add("bad")
    batch = records(*(ParcelNoted(parcel_id=p) for p in ("a", "b", "bad", "c", "d")))
    batch.insert(2, Record(b"\x00 not an event", b"k", {}, 0, 99))  # and a malformed one too
    await world.consumer.handle_batch(batch)
    assert await world.effects() == ["noted:a", "noted:b", "noted:c", "noted:d"]
    assert len(world.letters.sent) == 2
    assert any("malformed" in e for e in world.letters.sent)
    assert any("can never be noted" in e for e in world.letters.sent)


async def test_duplicates_inside_one_batch_and_across_batches_have_one_effect(world: World) -> None:
    first = rec(ParcelNoted(parcel_id="twice"), offset=0)
    batch = [first, rec(ParcelNoted(parcel_id="other"), offset=1), Record(first.raw, b"k", {}, 0, 2)]
    await world.consumer.handle_batch(batch)
    await world.consumer.handle_batch([Record(first.raw, b"k", {}, 0, 3)])  # redelivered later
    assert await world.effects() == ["noted:twice", "noted:other"]
    assert world.consumer.duplicates == 2
    assert world.consumer.applied == 2


async def test_one_parcels_events_of_two_types_keep_their_order_in_a_batch(world: World) -> None:
    batch = records(
        ParcelNoted(parcel_id="p1"),
        ParcelNoted(parcel_id="p2"),
        ParcelWeighed(parcel_id="p1", grams=600),
        ParcelNoted(parcel_id="p3"),
        ParcelWeighed(parcel_id="p3", grams=250),
    )
    await world.consumer.handle_batch(list(reversed(batch)))  # fetched in any order: applied by offset
    assert await world.effects() == ["noted:p1", "noted:p2", "weighed:p1:600", "noted:p3", "weighed:p3:250"]
    assert world.batch_calls == [2], "the run of two notes went to the batch handler; a lone one did not"


async def test_a_batch_whose_transaction_fails_is_retried_whole(world: World) -> None:
    world.fail_next_batches = 1
    await world.consumer.handle_batch(records(*(ParcelNoted(parcel_id=f"p{i}") for i in range(5))))
    assert await world.effects() == [f"noted:p{i}" for i in range(5)]
    assert world.batch_calls == [5, 5], "the same five, twice: the first attempt rolled back whole"
    assert world.consumer.split == 0
    assert world.letters.sent == []


async def test_partitions_are_applied_at_once_each_in_its_own_order(world: World) -> None:
    left = records(*(ParcelNoted(parcel_id=f"L{i}") for i in range(20)), partition=0)
    right = records(*(ParcelNoted(parcel_id=f"R{i}") for i in range(20)), partition=1)
    await world.consumer.handle_batch([r for pair in zip(left, right, strict=True) for r in pair])
    done = await world.effects()
    assert [e for e in done if e.startswith("noted:L")] == [f"noted:L{i}" for i in range(20)]
    assert [e for e in done if e.startswith("noted:R")] == [f"noted:R{i}" for i in range(20)]
    assert world.consumer.batches == 2, "one transaction per partition, not one per message"


async def test_six_partitions_go_in_two_transactions_with_their_like_events_together(world: World) -> None:
    fetched = []
    for partition in range(6):
        fetched += records(
            ParcelNoted(parcel_id=f"{partition}a"),
            ParcelWeighed(parcel_id=f"{partition}a", grams=100 + partition),
            ParcelNoted(parcel_id=f"{partition}b"),
            partition=partition,
        )
    await world.consumer.handle_batch(fetched)
    assert world.consumer.batches == 2, "the fetch's partitions dealt into two runs side by side"
    assert world.batch_calls == [3, 3, 3, 3], "in each run the three partitions' notes went together, twice"
    done = await world.effects()
    for partition in range(6):
        own = [e for e in done if e.split(":")[1].startswith(str(partition))]
        assert own == [f"noted:{partition}a", f"weighed:{partition}a:{100 + partition}", f"noted:{partition}b"]


async def test_through_the_broker_a_burst_is_applied_in_few_transactions(
    pool: asyncpg.Pool, bootstrap: str, private_topic: Topic, producer: AIOKafkaProducer
) -> None:
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    world = World(pool, private_topic)
    for i in range(300):
        env = envelope(ParcelNoted(parcel_id=f"n{i}"))
        raw = to_json(env).replace(PARCEL_TOPIC.name.encode(), private_topic.name.encode())
        await producer.send(private_topic.name, raw, key=b"one-parcel-stream")
    await producer.flush()
    broker = KafkaBroker(bootstrap)
    world.consumer.subscribe(broker, fetch_max_wait_ms=50, max_batch=500)
    await broker.start()
    try:
        await eventually(lambda: _count_is(pool, 300), within=30)
    finally:
        await broker.stop()
    assert await world.effects() == [f"noted:n{i}" for i in range(300)], "one key: applied in the order sent"
    assert world.consumer.batches < 60, f"{world.consumer.batches} transactions for 300 messages"


async def _count_is(pool: asyncpg.Pool, n: int) -> bool:
    return bool(await pool.fetchval("SELECT count(*) FROM effects") == n)


@asynccontextmanager
async def _gone_quiet(pool: asyncpg.Pool, bootstrap: str, world: World) -> AsyncIterator[PacedFetches]:
    """The world's consumer subscribed with pacing and ticked, once it has slowed to the idle wait."""
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    broker = KafkaBroker(bootstrap)
    world.consumer.subscribe(broker, pacing=FetchPacing(busy_wait_ms=20, idle_wait_ms=300, idle_after_s=0.5))
    pacer = FetchPacer([world.consumer.paced] if world.consumer.paced else [], pause_s=0.05)
    await broker.start()
    await pacer.start()
    try:
        paced = world.consumer.paced
        assert paced is not None
        await eventually(lambda: _async(paced.wait_ms == 300), within=10)
        yield paced
    finally:
        await pacer.stop()
        await broker.stop()


async def test_a_quiet_group_fetches_at_the_idle_wait_and_wakes_on_its_next_message(
    pool: asyncpg.Pool, bootstrap: str, private_topic: Topic, producer: AIOKafkaProducer
) -> None:
    world = World(pool, private_topic)
    async with _gone_quiet(pool, bootstrap, world) as paced:
        env = envelope(ParcelNoted(parcel_id="after-the-quiet"))
        raw = to_json(env).replace(PARCEL_TOPIC.name.encode(), private_topic.name.encode())
        await producer.send_and_wait(private_topic.name, raw, key=b"k")
        await eventually(lambda: _count_is(pool, 1), within=10)
        assert paced.wait_ms == 20, "a batch puts the group back to the busy wait"
    assert await world.effects() == ["noted:after-the-quiet"]


async def test_a_group_sent_only_events_it_does_not_handle_stays_at_the_idle_wait(
    pool: asyncpg.Pool, bootstrap: str, private_topic: Topic, producer: AIOKafkaProducer
) -> None:
    """Dispatch's group on the inventory topic sees every StockReserved and handles none of them:
    those must not keep it fetching every 20 ms, and they are skipped without being read."""
    world = World(pool, private_topic)
    async with _gone_quiet(pool, bootstrap, world) as paced:
        for n in range(5):  # another service's events on the topic: not JSON this group could even read
            await producer.send_and_wait(
                private_topic.name, b"not for this group", key=b"k", headers=[("event_type", b"ParcelLost")]
            )
            await eventually(lambda n=n: _async(world.consumer.ignored == n + 1), within=10)
            assert paced.wait_ms == 300, "events of no concern keep a quiet group quiet"
        env = envelope(ParcelNoted(parcel_id="ours"))
        raw = to_json(env).replace(PARCEL_TOPIC.name.encode(), private_topic.name.encode())
        await producer.send_and_wait(private_topic.name, raw, key=b"k", headers=[("event_type", b"ParcelNoted")])
        await eventually(lambda: _count_is(pool, 1), within=10)
        assert paced.wait_ms == 20, "its own event puts it back to the busy wait"
    assert await world.effects() == ["noted:ours"]
    assert world.letters.sent == [], "skipped unread, not dead-lettered as malformed"


async def _async(value: bool) -> bool:
    return value
