"""Helpers for integration tests: private topics, a test event, and reading a topic directly."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.events.envelope import Event, register
from shared.events.topics import Topic
from shared.kafka_admin import ensure_topics
from shared.stack import Infrastructure
from shared.unit_of_work import PostgresUnitOfWork

PARCEL_TOPIC = Topic(f"test.parcels.{uuid.uuid4().hex[:8]}", 3)


@register
class ParcelNoted(Event):
    """A test-only event on a private topic, so integration tests never touch the services' topics."""

    topic: ClassVar[Topic] = PARCEL_TOPIC
    parcel_id: str
    seq: int = 0

    def key(self) -> str:
        return self.parcel_id


class Effects:
    """A test table of parcel ids, standing for a use case's effects."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def note(self, parcel_id: str) -> None:
        await self.conn.execute("INSERT INTO effects (parcel_id) VALUES ($1)", parcel_id)

    async def pause(self, seconds: float) -> None:
        await self.conn.execute("SELECT pg_sleep($1)", seconds)


class ParcelUnitOfWork(PostgresUnitOfWork):
    """The shared mechanisms' own unit of work in tests: the effects table and the outbox."""

    service = "itest"
    effects: Effects

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.effects = Effects(conn)


@pytest.fixture
async def bootstrap(infra: Infrastructure) -> str:
    return infra.kafka_bootstrap_servers


@pytest.fixture
async def parcel_topic(bootstrap: str) -> Topic:
    await ensure_topics(bootstrap, [PARCEL_TOPIC, PARCEL_TOPIC.dlq])
    return PARCEL_TOPIC


@pytest.fixture
async def private_topic(bootstrap: str) -> Topic:
    """A fresh one-partition topic (and its DLQ) for one test."""
    topic = Topic(f"test.private.{uuid.uuid4().hex[:8]}", 1)
    await ensure_topics(bootstrap, [topic, topic.dlq])
    return topic


@pytest.fixture
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def read_topic(
    bootstrap: str,
    topic: str,
    expected: int,
    timeout: float = 20.0,  # noqa: ASYNC109
    key: bytes | None = None,
) -> list[Any]:
    """Everything on `topic` from the start, waiting until at least `expected` records arrived."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(r for r in recs if key is None or r.key == key)
            if len(records) >= expected:
                await asyncio.sleep(0.3)  # and make sure nothing more is coming
                for recs in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(r for r in recs if key is None or r.key == key)
                break
    finally:
        await consumer.stop()
    return records
