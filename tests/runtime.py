"""A service's Runtime for integration tests: real pool and Redis, a broker that is never started."""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as aioredis
from faststream.kafka import KafkaBroker

from shared.clock import Clock, SystemClock
from shared.events.topics import Topic
from shared.inbox import Consumer, RetryPolicy
from shared.service import Runtime, ServiceSpec
from shared.settings import Settings


class RecordedDeadLetters:
    """Keeps what would have gone to a dead-letter topic, to assert on."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.raw: list[bytes] = []

    async def send(self, topic: Topic, raw: bytes, key: bytes | None, headers: Any, error: str) -> None:
        self.sent.append(error)
        self.raw.append(raw)


def runtime_for(
    spec: ServiceSpec,
    settings: Settings,
    pool: asyncpg.Pool,
    redis: aioredis.Redis | None = None,
    clock: Clock | None = None,
) -> Runtime:
    runtime = Runtime(
        spec=spec,
        settings=settings,
        clock=clock or SystemClock(),
        pool=pool,
        redis=redis or aioredis.from_url(settings.redis_url, decode_responses=True),
        broker=KafkaBroker(settings.kafka_bootstrap_servers),
        dead_letters=RecordedDeadLetters(),  # type: ignore[arg-type]
        consumers=[],
    )
    runtime.consumers = [
        Consumer(
            name=sub.group,
            topic=sub.topic,
            handlers=sub.handlers,
            unit_of_work=lambda env: runtime.unit_of_work(cause=env),
            dead_letters_getter=lambda: runtime.dead_letters,
            retry=RetryPolicy(window_s=0.0),
            batch_handlers=sub.batch_handlers,
        )
        for sub in spec.subscriptions
    ]
    return runtime


runtime_for.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def consumer_for(runtime: Runtime, topic: Topic) -> Consumer:
    return next(c for c in runtime.consumers if c.topic == topic)
