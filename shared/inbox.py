"""Consuming events exactly once in effect: inbox, retries in place, and dead letters.

Kafka delivers at least once. A handler here runs inside a unit of work that also records the
event id in the `inbox` table; a redelivered event finds its id and changes nothing. The
offset is committed only after that unit of work commits.

Failures come in two kinds. A message that cannot be parsed or validated will never succeed,
so it goes straight to `<topic>.dlq` with the error in its headers. Anything else (a lost
database connection, a deadlock) is retried in place with growing pauses for a bounded time,
then dead-lettered too, so that one bad message never blocks its partition for good.

A dependency that is away is not a bad message. When a failure shows PostgreSQL, Redis or the
broker missing (shared/dependencies.py) and a probe confirms it does not answer, the consumer
pauses instead: it holds its batch, fetches nothing more, keeps its offset, and tries again
with capped backoff for as long as the outage lasts, saying so on /health and in the logs. The
retry window only counts failures that happen while the dependencies answer.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage

from shared.dependencies import away
from shared.events.envelope import Event, MalformedEvent, RawEnvelope, parse_envelope, validate_payload
from shared.events.topics import Topic
from shared.fetch_pacing import FetchPacing, PacedFetches, without_empty_nap

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

# A use case applied to one event: `handler(unit_of_work, event)`; the cause is `unit_of_work.cause`.
Handler = Callable[[Any, Any], Awaitable[None]]
# A use case applied to a run of events of one type, in offset order, in one unit of work:
# `handler(unit_of_work, [(envelope, event), ...])`; it sets `unit_of_work.cause` per event it answers.
BatchHandler = Callable[[Any, Sequence[tuple[RawEnvelope, Any]]], Awaitable[None]]


class PermanentError(Exception):
    """A well-formed event that this consumer can never apply: retrying would only delay the DLQ."""


T = TypeVar("T")

# Whether a named dependency ("database", "redis", "broker") answers right now.
Probe = Callable[[str], Awaitable[bool]]


async def _assume_it_answers(_: str) -> bool:
    return True  # without a probe every failure counts against the message, as before outages paused


@dataclass
class Outage:
    """What a paused consumer waits for, since when, and the failure that showed it."""

    dependency: str
    since: float  # time.time()
    error: str
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "waiting_for": self.dependency,
            "since": datetime.fromtimestamp(self.since, UTC).isoformat(),
            "for_s": round(time.time() - self.since, 1),
            "attempts": self.attempts,
            "error": self.error[:300],
        }


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

    async def claim_many(self, consumer: str, envs: Sequence[RawEnvelope], topic: str) -> set[uuid.UUID]:
        """Record many events in one statement; returns the ids not applied before."""


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

    async def claim_many(self, consumer: str, envs: Sequence[RawEnvelope], topic: str) -> set[uuid.UUID]:
        rows = await self.conn.fetch(
            "INSERT INTO inbox (consumer, event_id, topic, event_type) "
            "SELECT $1, e.id, $3, e.type FROM unnest($2::uuid[], $4::text[]) AS e(id, type) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            [env.event_id for env in envs],
            topic,
            [env.type for env in envs],
        )
        return {row["event_id"] for row in rows}


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


@dataclass(frozen=True)
class Record:
    """One message as fetched: its bytes, key, headers, and where it sits in its partition."""

    raw: bytes
    key: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    partition: int = 0
    offset: int = 0


@dataclass(frozen=True)
class _Parsed:
    record: Record
    env: RawEnvelope
    event: Event


@dataclass
class Consumer:
    """One consumer group's handling of one topic, with the inbox and dead-letter rules above.

    Messages arrive in batches. A partition's messages are applied in offset order; the
    partitions of a fetch are dealt into a few runs applied side by side, each run in one unit
    of work: one inbox statement claims them all (a duplicate, even inside the batch, has no
    effect) and every effect commits with it. Runs of one event type go to its batch handler
    where the subscription has one. If the unit of work fails it is tried again whole; if it
    fails again, the run is applied one message at a time, so a message that cannot be applied
    goes to the dead-letter topic alone and its neighbours are applied. The offsets are
    committed only after all of that.
    """

    name: str  # the consumer group, and the inbox's consumer column
    topic: Topic
    handlers: Mapping[type[Event], Handler]
    unit_of_work: Callable[[RawEnvelope], UnitOfWork]
    dead_letters_getter: Callable[[], DeadLetters]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    batch_handlers: Mapping[type[Event], BatchHandler] = field(default_factory=dict)
    whole_batch_attempts: int = 2
    concurrent_runs: int = 2  # units of work one fetch is applied in, side by side (partitions dealt among them)
    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    batches: int = 0  # runs applied together in one unit of work
    split: int = 0  # runs applied one at a time after their unit of work failed
    paced: PacedFetches | None = None  # set by subscribe(pacing=...)
    probe: Probe = _assume_it_answers
    outage: Outage | None = None  # set while paused for a missing dependency
    outages: int = 0  # how many times it paused

    @functools.cached_property
    def _types(self) -> dict[str, type[Event]]:
        return {cls.__name__: cls for cls in self.handlers}

    async def handle(self, raw: bytes, key: bytes | None, headers: Mapping[str, str]) -> str:
        """Apply one message; returns what happened: applied, duplicate, ignored or dead-lettered."""
        parsed = await self._parse(Record(raw, key, headers))
        if isinstance(parsed, str):
            return parsed
        return await self._apply_alone(parsed)

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Apply what one fetch handed over: each partition in offset order, `concurrent_runs` at once.

        The partitions are dealt into at most `concurrent_runs` runs, each one unit of work that
        applies its partitions' messages interleaved, every partition's own order kept and events
        of one type brought together for their batch handler. One transaction per partition
        costs a commit, an inbox statement and a handler's statements for each; at 150 orders/s a
        fetch held one or two messages per partition, so that overhead was most of the work.
        """
        by_partition: dict[int, list[_Parsed]] = {}
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            parsed = await self._parse(record)
            if not isinstance(parsed, str):
                by_partition.setdefault(record.partition, []).append(parsed)
        groups: dict[int, list[list[_Parsed]]] = {}
        for partition, messages in by_partition.items():
            groups.setdefault(partition % max(1, self.concurrent_runs), []).append(messages)
        await asyncio.gather(*(self._apply_run(_interleaved(group)) for group in groups.values()))

    def _not_ours(self, record: Record) -> bool:
        """The relay names each message's event type in a header: one this group has no handler for
        is skipped unread (a message without the header is read to find out)."""
        kind = record.headers.get("event_type")
        return kind is not None and kind not in self._types

    async def _parse(self, record: Record) -> _Parsed | str:
        if self._not_ours(record):
            self.ignored += 1
            return "ignored"
        try:
            env = parse_envelope(record.raw)
            wanted = self._types.get(env.type)
            if wanted is None:  # not ours: other groups on this topic judge it for themselves
                self.ignored += 1
                return "ignored"
            return _Parsed(record, env, validate_payload(env, wanted))
        except MalformedEvent as e:
            log.warning("%s: malformed message on %s sent to DLQ: %s", self.name, self.topic.name, e)
            await self._dead_letter(record, f"malformed: {e}")
            return "dead-lettered"

    async def _through_outages(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run `attempt`; while it fails because a dependency is away, wait for it and run it again.

        A failure counts against the message (and is raised) only when the dependency it points
        at answers the probe: a dropped connection to a database that is back is an ordinary retry.
        """
        pause = self.retry.initial_s
        while True:
            try:
                result = await attempt()
            except Exception as e:
                dependency = away(e)
                if dependency is None or await self._answers(dependency):
                    self._resume()
                    raise
                self._pause(dependency, e)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.retry.max_s)
                continue
            self._resume()
            return result

    async def _answers(self, dependency: str) -> bool:
        try:
            return await asyncio.wait_for(self.probe(dependency), 3.0)
        except Exception:
            return False

    def _pause(self, dependency: str, error: Exception) -> None:
        if self.outage is None or self.outage.dependency != dependency:
            self.outage = Outage(dependency, time.time(), repr(error))
            self.outages += 1
            log.warning(
                "%s: paused, %s is away (%r); holding the offset and retrying until it answers",
                self.name,
                dependency,
                error,
            )
        self.outage.attempts += 1
        if self.outage.attempts % 20 == 0:
            log.warning(
                "%s: still paused after %.0fs, %s is away", self.name, time.time() - self.outage.since, dependency
            )

    def _resume(self) -> None:
        if self.outage is not None:
            log.warning(
                "%s: %s answers again after %.1fs; resumed",
                self.name,
                self.outage.dependency,
                time.time() - self.outage.since,
            )
            self.outage = None

    async def _apply_run(self, run: list[_Parsed]) -> None:
        for attempt in range(1, self.whole_batch_attempts + 1):
            try:
                await self._through_outages(lambda: self._apply_together(run))
                return
            except Exception as e:
                log.warning(
                    "%s: a run of %d messages on %s failed (%r, attempt %d)",
                    self.name,
                    len(run),
                    self.topic.name,
                    e,
                    attempt,
                )
                if isinstance(e, PermanentError):
                    break
                if attempt < self.whole_batch_attempts:
                    await asyncio.sleep(self.retry.initial_s)
        self.split += 1
        for parsed in run:
            await self._apply_alone(parsed)

    async def _apply_together(self, run: list[_Parsed]) -> None:
        first_of: dict[uuid.UUID, _Parsed] = {}
        for parsed in run:
            first_of.setdefault(parsed.env.event_id, parsed)
        async with self.unit_of_work(run[0].env) as uow:
            fresh = await uow.inbox.claim_many(self.name, [p.env for p in first_of.values()], self.topic.name)
            todo = [p for p in first_of.values() if p.env.event_id in fresh]
            for same_type in _runs_of_one_type(todo):
                batch = self.batch_handlers.get(type(same_type[0].event))
                if batch is not None and len(same_type) > 1:
                    await batch(uow, [(p.env, p.event) for p in same_type])
                    continue
                for parsed in same_type:
                    uow.cause = parsed.env
                    await self.handlers[type(parsed.event)](uow, parsed.event)
        self.batches += 1
        self.applied += len(todo)
        self.duplicates += len(run) - len(todo)

    async def _apply_alone(self, parsed: _Parsed) -> str:
        handler = self.handlers[type(parsed.event)]
        pauses = self.retry.pauses()
        attempt = 0
        while True:
            try:
                return await self._through_outages(lambda: self._apply(parsed.env, parsed.event, handler))
            except PermanentError as e:
                error = f"refused: {e}"
                break
            except Exception as e:
                if attempt >= len(pauses):
                    error = f"failed after {attempt + 1} attempts: {e!r}"
                    break
                log.warning(
                    "%s: %s %s failed (%r); retrying in %.2fs",
                    self.name,
                    parsed.env.type,
                    parsed.env.event_id,
                    e,
                    pauses[attempt],
                )
                await asyncio.sleep(pauses[attempt])
                attempt += 1
        log.error("%s: %s %s sent to DLQ: %s", self.name, parsed.env.type, parsed.env.event_id, error)
        await self._dead_letter(parsed.record, error)
        return "dead-lettered"

    async def _dead_letter(self, record: Record, error: str) -> None:
        await self.dead_letters_getter().send(self.topic, record.raw, record.key, record.headers, error)

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
        max_batch: int = 500,
        batch_timeout_ms: int = 20,
        pacing: FetchPacing | None = None,
    ) -> None:
        """Register on the broker for batches with manual acks: the offsets move only after our commits.

        With `pacing`, the fetch wait starts at its busy value and slows while the group is quiet.
        """

        applies = ", ".join(c.__name__ for c in self.handlers)
        if pacing is not None:
            self.paced = PacedFetches(pacing)
            fetch_max_wait_ms = pacing.busy_wait_ms

        subscriber = broker.subscriber(
            self.topic.name,
            group_id=self.name,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            title=f"{self.topic.name}:{self.name}",
            description=description or f"{self.name} applies {applies}",
            decoder=_undecoded,
            fetch_max_wait_ms=fetch_max_wait_ms,
            batch=True,
            max_records=max_batch,
            batch_timeout_ms=batch_timeout_ms,
            # Static membership: a restarted instance takes its old place in the group at once
            # instead of waiting for the dead member's session to expire.
            group_instance_id=f"{self.name}-{instance_id}" if instance_id else None,
            session_timeout_ms=session_timeout_ms,
            heartbeat_interval_ms=max(500, session_timeout_ms // 4),
        )
        without_empty_nap(subscriber)
        if self.paced is not None:
            self.paced.subscriber = subscriber

        @subscriber
        async def on_batch(body: list[bytes], msg: KafkaMessage) -> None:
            raw = msg.raw_message
            fetched = raw if isinstance(raw, tuple) else (raw,)
            records = [
                Record(
                    r.value or b"",
                    r.key,
                    {k: v.decode(errors="replace") for k, v in (r.headers or ())},
                    r.partition,
                    r.offset,
                )
                for r in fetched
            ]
            # Only work of its own keeps a group fetching at the busy wait: a topic's other events
            # (StockReserved, to dispatch) are skipped unread and leave it at the idle pace.
            if self.paced is not None and not all(self._not_ours(r) for r in records):
                self.paced.busy()
            try:
                await self.handle_batch(records)
            except Exception:
                # Never skip silently: nothing above should escape, but if it did the batch is
                # fetched again rather than committed unapplied.
                log.exception(
                    "%s: unexpected failure on a batch from %s; it will be fetched again", self.name, self.topic.name
                )
                await msg.nack()
                return
            await msg.ack()


def _interleaved(partitions: list[list[_Parsed]]) -> list[_Parsed]:
    """One sequence of several partitions' messages: each partition's order kept, like types together.

    Messages of different partitions have different keys, so only each partition's own order
    matters. Greedily, the type at the head of the most partitions goes next, with every head run
    of that type, so a batch handler sees one long run instead of one per partition.
    """
    queues = [deque(messages) for messages in partitions if messages]
    merged: list[_Parsed] = []
    while queues:
        heads = Counter(type(q[0].event) for q in queues)
        kind = max(heads, key=lambda k: heads[k])
        for q in queues:
            while q and type(q[0].event) is kind:
                merged.append(q.popleft())
        queues = [q for q in queues if q]
    return merged


def _runs_of_one_type(items: list[_Parsed]) -> list[list[_Parsed]]:
    """Consecutive messages of one event type, so a batch handler never reorders two types."""
    runs: list[list[_Parsed]] = []
    for item in items:
        if runs and type(runs[-1][0].event) is type(item.event):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


async def _undecoded(msg: Any) -> Any:
    """Hand the handler the raw bytes: parsing and validation are ours, so failures can be dead-lettered."""
    return msg.body
