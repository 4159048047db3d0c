"""The transactional outbox: events are rows first and Kafka messages second.

`record()` writes an event in the caller's transaction, so the event exists if and only if the
state change it describes was committed. `Relay` publishes pending rows in id order and marks
them sent only after the broker confirmed them. A crash in between re-sends the batch on the
next start: delivery is at-least-once, and consumers' inboxes make that harmless.

Only one relay per database publishes at a time (a PostgreSQL advisory lock): two relays
claiming rows with SKIP LOCKED could send one order's events out of order.

A broker may lose everything (the embedded one keeps nothing across a restart). The leading
relay looks at the broker's epoch (`shared.kafka_admin`) when it starts and every
`BrokerCheck.every_s`: declaring the topics again if they are gone, and, when the epoch is younger
than rows it marked published, marking those rows pending again. They go out once more in id
order, before anything newer, and the consumers' inboxes drop the ones already applied. Rows
housekeeping has deleted (published longer ago than the outbox retention) cannot be re-sent:
/health says when that may have lost something.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.background import BackgroundLoop
from shared.events.envelope import Envelope, Event
from shared.events.topics import Topic, declared_topics
from shared.kafka_admin import Epoch, broker_epoch

log = logging.getLogger(__name__)


def channel(service: str) -> str:
    return f"outbox_{service}"


async def record(conn: asyncpg.Connection, env: Envelope[Any], service: str) -> None:
    """Add an event to the outbox inside the caller's open transaction."""
    await record_many(conn, [env], service)


async def record_many(conn: asyncpg.Connection, envs: Sequence[Envelope[Any]], service: str) -> None:
    """Add events to the outbox in this order (the relay sends them in id order), in one statement.

    The relay is woken once; a NOTIFY is delivered on commit only, which is exactly when the rows
    become visible.
    """
    if not envs:
        return
    for env in envs:
        if not isinstance(env.payload, Event):
            raise TypeError("only registered Event payloads can be recorded in the outbox")
    await conn.execute(
        "WITH added AS (INSERT INTO outbox (event_id, topic, key, event_type, envelope) "
        "SELECT e.event_id, e.topic, e.key, e.event_type, e.envelope::jsonb "
        "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY "
        "AS e(event_id, topic, key, event_type, envelope, n) ORDER BY e.n RETURNING 1) "
        "SELECT pg_notify($6, '') FROM (SELECT count(*) FROM added) AS done",
        [env.event_id for env in envs],
        [type(env.payload).topic.name for env in envs],
        [env.key for env in envs],
        [env.type for env in envs],
        [env.model_dump_json() for env in envs],
        channel(service),
    )


@dataclass
class OutboxLag:
    pending: int
    oldest_age_s: float
    failing: int

    def as_dict(self) -> dict[str, float | int]:
        return {"pending": self.pending, "oldest_age_s": round(self.oldest_age_s, 3), "failing": self.failing}


async def lag(pool: asyncpg.Pool) -> OutboxLag:
    row = await pool.fetchrow(
        "SELECT count(*) AS pending, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age, "
        "count(*) FILTER (WHERE attempts > 0) AS failing FROM outbox WHERE published_at IS NULL"
    )
    assert row is not None
    return OutboxLag(int(row["pending"]), float(row["age"]), int(row["failing"]))


@dataclass(frozen=True)
class BrokerCheck:
    """How the leading relay watches for a broker that lost everything."""

    every_s: float = 10.0
    topics: list[Topic] | None = None  # what to declare again; None: every declared topic
    # Clocks differ between hosts: rows published this long after the epoch began are re-sent too.
    margin_s: float = 5.0


@dataclass(frozen=True)
class BrokerLoss:
    """What a relay did about a broker that lost what it had been sent."""

    detected_at: datetime
    epoch_since: datetime  # when the broker's present life began
    resent: int  # rows marked published before that, marked pending again
    resent_from: datetime | None  # the oldest of them (when it was recorded)
    older_may_be_lost: bool  # housekeeping had deleted published rows: those cannot be re-sent

    def as_dict(self) -> dict[str, Any]:
        horizon = (self.resent_from or self.detected_at).isoformat()
        return {
            "detected_at": self.detected_at.isoformat(),
            "epoch_since": self.epoch_since.isoformat(),
            "resent": self.resent,
            "resent_from": self.resent_from.isoformat() if self.resent_from else None,
            "older_may_be_lost": self.older_may_be_lost,
            "unrecoverable": (
                f"events published before {horizon} are no longer in the outbox: any of them not yet consumed "
                "when the broker lost it is lost, as are the dead letters the broker held"
            )
            if self.older_may_be_lost
            else "nothing: every event the outbox ever published is re-sent (dead letters the broker held are gone)",
        }


async def resend_published_before(conn: asyncpg.Connection, before: datetime, now: datetime) -> BrokerLoss:
    """Mark rows published before `before` pending again, to go out in id order with the rest."""
    async with conn.transaction():
        # Pending again, not failing (`lag().failing`): attempts start over, last_error says why.
        row = await conn.fetchrow(
            "WITH again AS (UPDATE outbox SET published_at = NULL, attempts = 0, last_error = 'the broker lost it' "
            "WHERE published_at < $1 RETURNING created_at) "
            "SELECT count(*) AS n, min(created_at) AS oldest FROM again",
            before,
        )
        swept = await conn.fetchval(
            "SELECT coalesce((SELECT min(id) FROM outbox), "
            "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE 1 END FROM outbox_id_seq)) > 1"
        )
    assert row is not None
    return BrokerLoss(now, before, int(row["n"]), row["oldest"], bool(swept))


def leader_lock_id(service: str) -> int:
    return zlib.crc32(f"linli-outbox-relay:{service}".encode())


# Marks what the broker confirmed ($2, confirmed $3 seconds ago) and reads the next batch, in one
# statement. The read sees the table as it was before the mark, so it leaves out the marked rows.
READ_AND_MARK = (
    "WITH marked AS (UPDATE outbox SET published_at = now() - make_interval(secs => $3), attempts = attempts + 1 "
    "WHERE id = any($2::bigint[])) "
    "SELECT id, topic, key, event_type, event_id, envelope::text AS envelope FROM outbox "
    "WHERE published_at IS NULL AND id <> all($2::bigint[]) ORDER BY id LIMIT $1"
)
MARK = (
    "UPDATE outbox SET published_at = now() - make_interval(secs => $2), attempts = attempts + 1 "
    "WHERE id = any($1::bigint[])"
)


class Relay(BackgroundLoop):
    """Publishes one service's outbox to Kafka, as the single leader for that database."""

    name = "outbox relay"

    def __init__(  # noqa: PLR0913 (a relay's timings and its broker check, each by name)
        self,
        service: str,
        database_url: str,
        pool: asyncpg.Pool,
        bootstrap_servers: str,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        retry_backoff_s: float = 0.5,
        leader_retry_s: float = 2.0,
        mark_within_s: float = 0.05,
        broker_check: BrokerCheck | None = None,
    ) -> None:
        super().__init__(leader_retry_s)
        self.service = service
        self.database_url = database_url
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retry_backoff_s = retry_backoff_s
        self.leader_retry_s = leader_retry_s
        self.mark_within_s = mark_within_s
        self.is_leader = False
        self.published = 0
        self.check = broker_check or BrokerCheck()
        self.epoch: Epoch | None = None
        self.broker_loss: BrokerLoss | None = None
        self._checked_at = float("-inf")
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        # Rows the broker confirmed that are not yet marked published, and when it confirmed them:
        # they are marked by the next read of the outbox (one statement instead of two a round).
        self._unmarked: list[int] = []
        self._confirmed_at = 0.0
        self.marked_alone = 0  # times the marks found no read to ride with (a quiet outbox)

    def broker_health(self) -> dict[str, Any]:
        """For /health: the broker's epoch as this relay last saw it, and the last loss it re-sent for."""
        return {
            "epoch": self.epoch.id if self.epoch else None,
            "epoch_since": self.epoch.created_at.isoformat() if self.epoch else None,
            "lost_and_resent": self.broker_loss.as_dict() if self.broker_loss else None,
        }

    async def watch_broker(self, conn: asyncpg.Connection, *, now: bool = False) -> None:
        """Every `check.every_s` (or `now`): topics declared again if gone, rows re-sent if the broker lost them.

        On the leader's own connection, as `publish_pending`: the first look always marks rows, and
        waiting for a pooled connection behind a rush of requests held up every publish after it.
        """
        if not now and time.monotonic() - self._checked_at < self.check.every_s:
            return
        self._checked_at = time.monotonic()
        try:
            epoch = await broker_epoch(self.bootstrap_servers, self.check.topics or declared_topics())
        except Exception as e:  # the broker away: publishing fails too, and says so
            log.info("outbox relay for %s: could not read the broker's epoch (%r)", self.service, e)
            return
        if self.epoch is not None and epoch.id == self.epoch.id:
            return
        first_look, self.epoch = self.epoch is None, epoch
        # Confirmed by the broker that lost them: not marked, they are read and sent again.
        self._unmarked = []
        # On a first look only rows older than the epoch; a change seen happen allows for clock skew.
        before = epoch.created_at + timedelta(seconds=0 if first_look else self.check.margin_s)
        loss = await resend_published_before(conn, before, datetime.now(UTC))
        if loss.resent or not first_look:
            self.broker_loss = loss
            log.warning(
                "outbox relay for %s: the broker lost what it had been sent (a new life since %s); "
                "re-sending %d published events%s",
                self.service,
                epoch.created_at.isoformat(),
                loss.resent,
                "; older ones were deleted by housekeeping and cannot be re-sent" if loss.older_may_be_lost else "",
            )
            self._wake.set()

    def on_failure(self) -> None:
        self.is_leader = False

    async def round(self) -> None:
        """Hold the leader lock on a dedicated connection, listen for commits and publish."""
        conn = await asyncpg.connect(self.database_url)
        try:
            lock = leader_lock_id(self.service)
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock):  # noqa: ASYNC110
                await asyncio.sleep(self.leader_retry_s)  # the lock lives in PostgreSQL: poll it
            self.is_leader = True
            await conn.add_listener(channel(self.service), lambda *_: self._wake.set())
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers, acks="all", linger_ms=0, request_timeout_ms=15000
            )
            await producer.start()
            self._producer = producer
            try:
                await self.watch_broker(conn, now=True)
                while True:
                    self._wake.clear()
                    await self.watch_broker(conn)
                    sent = await self.publish_pending(conn)
                    if sent >= self.batch_size:
                        continue
                    if self._unmarked:
                        # Under load the next commit comes first and its read carries the marks; a
                        # quiet outbox has them written alone, so it does not look behind for long.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self.mark_within_s)
                        if self._wake.is_set():
                            continue
                        await self.mark_published(conn)
                    # LISTEN/NOTIFY wakes us at once; the timeout is the fallback for a lost NOTIFY.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            finally:
                self._producer = None
                with contextlib.suppress(Exception):  # unmarked rows would be sent again: harmless, but spare it
                    await asyncio.wait_for(self.mark_published(conn), 1.0)
                await producer.stop()
        finally:
            self.is_leader = False
            # A close that waits on a connection cancelled mid-query must not hold up shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 3.0)
            conn.terminate()

    def _take_unmarked(self) -> tuple[list[int], float]:
        """The rows to mark and how long ago the broker confirmed them, in seconds."""
        ids, self._unmarked = self._unmarked, []
        return ids, max(0.0, time.monotonic() - self._confirmed_at) if ids else 0.0

    async def mark_published(self, conn: asyncpg.Connection | None = None) -> None:
        """Mark alone what the broker confirmed, when no read came to carry the marks."""
        ids, ago_s = self._take_unmarked()
        if not ids:
            return
        db: asyncpg.Connection | asyncpg.Pool = conn if conn is not None else self.pool
        try:
            await db.execute(MARK, ids, ago_s)
        except BaseException:
            self._unmarked = ids + self._unmarked
            raise
        self.marked_alone += 1

    async def publish_pending(self, conn: asyncpg.Connection | None = None) -> int:
        """Send one batch in id order; rows stay pending (and are retried) until confirmed.

        The leading relay reads and marks on its own connection (the one holding the leader lock),
        never queueing for the pool behind the requests: under a rush of `POST /orders` a pooled
        read waited its turn, and events sat in the outbox for a second or more. The rows the last
        batch sent are marked in the same statement that reads the next: one transaction a round
        instead of two, where the relays are a large share of a busy database's commits. Their
        `published_at` is when the broker confirmed them, however much later the mark is written.
        A crash before the mark re-sends them, as a crash before any mark always did.
        """
        assert self._producer is not None
        db: asyncpg.Connection | asyncpg.Pool = conn if conn is not None else self.pool
        marks, ago_s = self._take_unmarked()
        try:
            rows = await db.fetch(READ_AND_MARK, self.batch_size, marks, ago_s)
        except BaseException:
            self._unmarked = marks + self._unmarked
            raise
        if not rows:
            return 0
        futures = []
        for row in rows:
            headers = [("event_id", str(row["event_id"]).encode()), ("event_type", row["event_type"].encode())]
            futures.append(
                await self._producer.send(
                    row["topic"], value=row["envelope"].encode(), key=row["key"].encode(), headers=headers
                )
            )
        results = await asyncio.gather(*futures, return_exceptions=True)
        # Only the prefix before the first failure counts as sent: everything after it is sent
        # again behind the failed row, so a key's events reach consumers in order at least once.
        first_failure = next((i for i, r in enumerate(results) if isinstance(r, BaseException)), len(rows))
        confirmed = [row["id"] for row in rows[:first_failure]]
        failed = [
            (row["id"], repr(result))
            for row, result in zip(rows, results, strict=True)
            if isinstance(result, BaseException)
        ]
        if confirmed:
            self._unmarked, self._confirmed_at = confirmed, time.monotonic()
        if failed:
            await self.mark_published(conn)
            await db.executemany("UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", failed)
            log.warning(
                "outbox relay for %s: %d of %d events not confirmed; retrying", self.service, len(failed), len(rows)
            )
            self._checked_at = float("-inf")  # a topic gone? look at the broker before the next try
            await asyncio.sleep(self.retry_backoff_s)
        self.published += len(confirmed)
        return len(confirmed)
