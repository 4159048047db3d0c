"""Consumers against the real broker: duplicates have one effect, poison goes to the DLQ while
the partition moves on, transient failures retry, and a replayed dead letter applies once."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from shared import dead_letters
from shared.events.envelope import envelope
from shared.events.topics import Topic
from shared.inbox import Consumer, DeadLetters, PermanentError, RetryPolicy
from tests.fakes import FakeClock, to_json
from tests.integration.conftest import ParcelNoted, ParcelUnitOfWork, read_topic
from tests.waiting import eventually


@dataclass
class Harness:
    consumer: Consumer
    pool: asyncpg.Pool
    topic: Topic
    failures: dict[str, int]

    async def effects(self) -> list[str]:
        return [r["parcel_id"] for r in await self.pool.fetch("SELECT parcel_id FROM effects ORDER BY id")]


@pytest.fixture
async def harness(
    pool: asyncpg.Pool, bootstrap: str, private_topic: Topic, producer: AIOKafkaProducer
) -> AsyncIterator[Callable[..., Any]]:
    await pool.execute("CREATE TABLE effects (id serial PRIMARY KEY, parcel_id text NOT NULL)")
    brokers: list[KafkaBroker] = []

    async def start(retry: RetryPolicy | None = None) -> Harness:
        failures: dict[str, int] = {}

        async def note(uow: ParcelUnitOfWork, event: Any) -> None:
            left = failures.get(event.parcel_id, 0)
            if left == -1:
                raise PermanentError("this parcel can never be noted")
            if left > 0:
                failures[event.parcel_id] = left - 1
                raise ConnectionError("database went away for a moment")
            await uow.effects.note(event.parcel_id)

        letters = DeadLetters(producer)
        consumer = Consumer(
            f"itest-{private_topic.name}",
            private_topic,
            {ParcelNoted: note},
            lambda env: ParcelUnitOfWork(pool, clock=FakeClock(), cause=env),
            lambda: letters,
            retry or RetryPolicy(2.0, 0.05, 0.5),
        )
        broker = KafkaBroker(bootstrap)
        consumer.subscribe(broker)
        await broker.start()
        brokers.append(broker)
        return Harness(consumer, pool, private_topic, failures)

    yield start
    for broker in brokers:
        await broker.stop()


def parcel(pid: str) -> bytes:
    return to_json(envelope(ParcelNoted(parcel_id=pid)))


async def test_an_event_delivered_twice_has_its_effect_once(harness, producer, private_topic) -> None:
    h = await harness()
    raw = parcel("twice")
    await producer.send_and_wait(private_topic.name, raw, key=b"twice")
    await producer.send_and_wait(private_topic.name, raw, key=b"twice")
    await producer.send_and_wait(private_topic.name, parcel("after"), key=b"after")
    await eventually(lambda: _has(h, "after"))
    assert await h.effects() == ["twice", "after"]
    assert h.consumer.duplicates == 1


async def _has(h: Harness, pid: str) -> bool:
    return pid in await h.effects()


async def test_poison_goes_to_the_dlq_and_the_next_message_is_processed(
    harness, producer, bootstrap, private_topic
) -> None:
    h = await harness()
    await producer.send_and_wait(private_topic.name, b"\x00not an event at all", key=b"k")
    bad_payload = json.loads(parcel("x"))
    bad_payload["payload"] = {"parcel": "missing the parcel_id field"}
    await producer.send_and_wait(private_topic.name, json.dumps(bad_payload).encode(), key=b"k")
    await producer.send_and_wait(private_topic.name, parcel("good"), key=b"k")
    await eventually(lambda: _has(h, "good"))
    dead = await read_topic(bootstrap, private_topic.dlq.name, 2)
    assert dead[0].value == b"\x00not an event at all"
    errors = [dict(d.headers)["x-dlq-error"].decode() for d in dead]
    assert "not JSON" in errors[0]
    assert "parcel_id" in errors[1]
    assert all(dict(d.headers)["x-dlq-original-topic"] == private_topic.name.encode() for d in dead)


async def test_a_transient_failure_is_retried_in_place(harness, producer, bootstrap, private_topic) -> None:
    h = await harness()
    h.failures["flaky"] = 3
    await producer.send_and_wait(private_topic.name, parcel("flaky"), key=b"k")
    await producer.send_and_wait(private_topic.name, parcel("next"), key=b"k")
    await eventually(lambda: _has(h, "next"))
    assert await h.effects() == ["flaky", "next"], "retried in place: order kept, applied once"
    assert await read_topic(bootstrap, private_topic.dlq.name, 0, timeout=1) == []


async def test_a_refused_event_is_dead_lettered_at_once(harness, producer, bootstrap, private_topic) -> None:
    h = await harness(RetryPolicy(window_s=60, initial_s=1, max_s=5))
    h.failures["refused"] = -1
    await producer.send_and_wait(private_topic.name, parcel("refused"), key=b"k")
    await producer.send_and_wait(private_topic.name, parcel("next"), key=b"k")
    await eventually(lambda: _has(h, "next"), within=10)
    dead = await read_topic(bootstrap, private_topic.dlq.name, 1)
    assert "refused" in dict(dead[0].headers)["x-dlq-error"].decode()


async def test_a_replayed_dead_letter_is_applied_once(harness, producer, bootstrap, private_topic) -> None:
    h = await harness(RetryPolicy(window_s=0.3, initial_s=0.1, max_s=0.1))
    h.failures["stuck"] = 10_000
    await producer.send_and_wait(private_topic.name, parcel("stuck"), key=b"k")
    await producer.send_and_wait(private_topic.name, parcel("behind-it"), key=b"k")
    await eventually(lambda: _has(h, "behind-it"))
    assert "stuck" not in await h.effects(), "gave up after the retry window"
    letters = await dead_letters.read(bootstrap, private_topic.name)
    assert [(letter.replayed, "failed after" in letter.error) for letter in letters] == [(False, True)]

    h.failures["stuck"] = 0  # the cause is fixed; the operator replays
    assert await dead_letters.replay(bootstrap, private_topic.name) == 1
    await eventually(lambda: _has(h, "stuck"))
    assert await dead_letters.replay(bootstrap, private_topic.name) == 0, "already replayed"
    assert await dead_letters.replay(bootstrap, private_topic.name, only_offset=letters[0].offset) == 1
    await eventually(lambda: _duplicates_at_least(h, 1))
    assert (await h.effects()).count("stuck") == 1
    assert [letter.replayed for letter in await dead_letters.read(bootstrap, private_topic.name)] == [True]


async def _duplicates_at_least(h: Harness, n: int) -> bool:
    return h.consumer.duplicates >= n
