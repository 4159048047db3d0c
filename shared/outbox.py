"""The transactional outbox: events are rows first and Kafka messages second.

`record()` writes an event in the caller's transaction, so the event exists if and only if the
state change it describes was committed. `Relay` publishes pending rows in id order and marks
them sent only after the broker confirmed them. A crash in between re-sends the batch on the
next start: delivery is at-least-once, and consumers' inboxes make that harmless.

Only one relay per database publishes at a time (a PostgreSQL advisory lock): two relays
claiming rows with SKIP LOCKED could send one order's events out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from shared.background import BackgroundLoop
from shared.events.envelope import Envelope, Event

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


def leader_lock_id(service: str) -> int:
    return zlib.crc32(f"linli-outbox-relay:{service}".encode())


class Relay(BackgroundLoop):
    """Publishes one service's outbox to Kafka, as the single leader for that database."""

    name = "outbox relay"

    def __init__(
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
        self.is_leader = False
        self.published = 0
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None

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
                while True:
                    self._wake.clear()
                    sent = await self.publish_pending()
                    if sent >= self.batch_size:
                        continue
                    # LISTEN/NOTIFY wakes us at once; the timeout is the fallback for a lost NOTIFY.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
            finally:
                self._producer = None
                await producer.stop()
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.close()

    async def publish_pending(self) -> int:
        """Send one batch in id order; rows stay pending (and are retried) until confirmed."""
        assert self._producer is not None
        rows = await self.pool.fetch(
            "SELECT id, topic, key, event_type, event_id, envelope::text AS envelope FROM outbox "
            "WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self.batch_size,
        )
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
            await self.pool.execute(
                "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = any($1::bigint[])",
                confirmed,
            )
        if failed:
            await self.pool.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1", failed
            )
            log.warning(
                "outbox relay for %s: %d of %d events not confirmed; retrying", self.service, len(failed), len(rows)
            )
            await asyncio.sleep(self.retry_backoff_s)
        self.published += len(confirmed)
        return len(confirmed)
