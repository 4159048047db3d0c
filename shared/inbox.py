"""Consuming events exactly once in effect: inbox, retries in place, and dead letters.

Kafka delivers at least once. A handler here runs inside a unit of work that also records the
event id in the `inbox` table; a redelivered event finds its id and changes nothing. The
offset is committed only after that unit of work commits.

Failures come in two kinds. A message that cannot be parsed or validated will never succeed,
so it goes straight to `<topic>.dlq` with the error in its headers. Anything else (a lost
database connection, a deadlock) is retried in place with growing pauses for a bounded time,
then dead-lettered too, so that one bad message never blocks its partition for good.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from shared.events.envelope import Event, MalformedEvent, RawEnvelope, parse_envelope, validate_payload
from shared.events.topics import Topic

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# A use case applied to one event: `handler(unit_of_work, event)`; the cause is `unit_of_work.cause`.
Handler = Callable[[Any, Any], Awaitable[None]]


class PermanentError(Exception):
    """A well-formed event that this consumer can never apply: retrying would only delay the DLQ."""


@dataclass
class RetryPolicy:
    window_s: float = 30.0
    initial_s: float = 0.1
    max_s: float = 5.0

    def pauses(self) -> list[float]:
        """The pauses between attempts: doubling, capped, until the window is spent."""
        pauses, pause, total = [], self.initial_s, 0.0
        while total + pause <= self.window_s:
            pauses.append(pause)
            total += pause
            pause = min(pause * 2, self.max_s)
        return pauses


class Inbox(Protocol):
    """The inbox repository of one unit of work."""

    async def claim(self, consumer: str, env: RawEnvelope, topic: str) -> bool:
        """Record the event as applied by `consumer`; False means it already was."""


class PostgresInbox:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, consumer: str, env: RawEnvelope, topic: str) -> bool:
        row = await self.conn.fetchval(
            "INSERT INTO inbox (consumer, event_id, topic, event_type) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            env.event_id,
            topic,
            env.type,
        )
        return bool(row)


@dataclass
class DeadLetters:
    """Publishes what could not be applied to `<topic>.dlq`, keeping the original bytes and key."""

    producer: AIOKafkaProducer
    sent: int = 0

    async def send(self, topic: Topic, raw: bytes, key: bytes | None, headers: Mapping[str, str], error: str) -> None:
        dlq_headers = [(k, v.encode()) for k, v in headers.items() if not k.startswith("x-dlq-")]
        dlq_headers += [
            ("x-dlq-error", error[:2000].encode()),
            ("x-dlq-original-topic", topic.name.encode()),
            ("x-dlq-failed-at", str(time.time()).encode()),
        ]
        pause = 0.1
        while True:  # a dead letter must not be lost: hold the partition until the broker takes it
            try:
                await self.producer.send_and_wait(topic.dlq.name, value=raw, key=key, headers=dlq_headers)
                break
            except Exception as e:
                log.error("could not dead-letter a message from %s (%r); retrying", topic.name, e)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 5.0)
        self.sent += 1


@dataclass
class Consumer:
    """One consumer group's handling of one topic, with the inbox and dead-letter rules above."""

    name: str  # the consumer group, and the inbox's consumer column
    topic: Topic
    handlers: Mapping[type[Event], Handler]
    unit_of_work: Callable[[RawEnvelope], UnitOfWork]
    dead_letters_getter: Callable[[], DeadLetters]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0

    @property
    def _types(self) -> dict[str, type[Event]]:
        return {cls.__name__: cls for cls in self.handlers}

    async def handle(self, raw: bytes, key: bytes | None, headers: Mapping[str, str]) -> str:
        """Apply one message; returns what happened: applied, duplicate, ignored or dead-lettered."""
        try:
            env = parse_envelope(raw)
            wanted = self._types.get(env.type)
            if wanted is None:  # not ours: other groups on this topic judge it for themselves
                self.ignored += 1
                return "ignored"
            event = validate_payload(env, wanted)
        except MalformedEvent as e:
            log.warning("%s: malformed message on %s sent to DLQ: %s", self.name, self.topic.name, e)
            await self.dead_letters_getter().send(self.topic, raw, key, headers, f"malformed: {e}")
            return "dead-lettered"
        handler = self.handlers[wanted]
        pauses = self.retry.pauses()
        attempt = 0
        while True:
            try:
                return await self._apply(env, event, handler)
            except PermanentError as e:
                error = f"refused: {e}"
                break
            except Exception as e:
                if attempt >= len(pauses):
                    error = f"failed after {attempt + 1} attempts: {e!r}"
                    break
                log.warning(
                    "%s: %s %s failed (%r); retrying in %.2fs", self.name, env.type, env.event_id, e, pauses[attempt]
                )
                await asyncio.sleep(pauses[attempt])
                attempt += 1
        log.error("%s: %s %s sent to DLQ: %s", self.name, env.type, env.event_id, error)
        await self.dead_letters_getter().send(self.topic, raw, key, headers, error)
        return "dead-lettered"

    async def _apply(self, env: RawEnvelope, event: Event, handler: Handler) -> str:
        async with self.unit_of_work(env) as uow:
            if not await uow.inbox.claim(self.name, env, self.topic.name):
                self.duplicates += 1
                return "duplicate"
            await handler(uow, event)
        self.applied += 1
        return "applied"

    def subscribe(
        self,
        broker: KafkaBroker,
        *,
        description: str | None = None,
        fetch_max_wait_ms: int = 500,
        instance_id: str | None = None,
        session_timeout_ms: int = 10_000,
    ) -> None:
        """Register on the broker with manual acks: the offset moves only after our commit."""

        applies = ", ".join(c.__name__ for c in self.handlers)

        @broker.subscriber(
            self.topic.name,
            group_id=self.name,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            title=f"{self.topic.name}:{self.name}",
            description=description or f"{self.name} applies {applies}",
            decoder=_undecoded,
            fetch_max_wait_ms=fetch_max_wait_ms,
            # Static membership: a restarted instance takes its old place in the group at once
            # instead of waiting for the dead member's session to expire.
            group_instance_id=f"{self.name}-{instance_id}" if instance_id else None,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(500, session_timeout_ms // 4),
        )
        async def on_message(body: bytes, msg: KafkaMessage) -> None:
            raw = msg.raw_message
            record = raw[0] if isinstance(raw, tuple) else raw
            headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
            try:
                await self.handle(record.value or b"", record.key, headers)
            except Exception as e:
                # Never skip silently: whatever escaped the rules above is a dead letter too.
                log.exception("%s: unexpected failure on %s", self.name, self.topic.name)
                await self.dead_letters_getter().send(
                    self.topic, record.value or b"", record.key, headers, f"unexpected: {e!r}"
                )
            await msg.ack()


async def _undecoded(msg: Any) -> bytes:
    """Hand the handler the raw bytes: parsing and validation are ours, so failures can be dead-lettered."""
    return bytes(msg.body)
