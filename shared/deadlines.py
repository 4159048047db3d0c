"""Persisted deadlines: "if nothing has happened by then, do this" that survive a restart.

A deadline is a row (kind, key, due_at). The scheduler fires due rows in due order, each in a
transaction with its handler's effects, so a fired deadline is never fired twice and a
deadline cancelled in the same transaction as the awaited action never fires. The clock is
injected: tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg

from shared.background import BackgroundLoop

log = logging.getLogger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Deadline:
    kind: str
    key: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


class DeadlineStore(Protocol):
    """Where deadlines live; `tx` is whatever transaction handle the store's handlers share."""

    async def schedule(self, tx: Any, deadline: Deadline) -> None: ...
    async def cancel(self, tx: Any, kind: str, key: str) -> bool: ...
    async def fire_due(self, now: datetime, limit: int, fire: Callable[[Any, Deadline], Awaitable[None]]) -> int: ...


DeadlineHandler = Callable[[Any, Deadline], Awaitable[None]]


class UnknownDeadline(Exception):
    pass


class InMemoryDeadlineStore:
    """The store for unit tests: same rules, no database."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], Deadline] = {}
        self.fired: list[Deadline] = []

    async def schedule(self, tx: Any, deadline: Deadline) -> None:
        self.pending[(deadline.kind, deadline.key)] = deadline

    async def cancel(self, tx: Any, kind: str, key: str) -> bool:
        return self.pending.pop((kind, key), None) is not None

    async def fire_due(self, now: datetime, limit: int, fire: DeadlineHandler) -> int:
        due = sorted((d for d in self.pending.values() if d.due_at <= now), key=lambda d: d.due_at)[:limit]
        for deadline in due:
            await fire(None, deadline)
            del self.pending[(deadline.kind, deadline.key)]
            self.fired.append(deadline)
        return len(due)


class PostgresDeadlineStore:
    """Deadlines in the service's own database; handlers get the asyncpg connection in a transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def schedule(self, tx: asyncpg.Connection, deadline: Deadline) -> None:
        await tx.execute(
            "INSERT INTO deadlines (kind, key, due_at, payload) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, "
            "fired_at = NULL, cancelled_at = NULL",
            deadline.kind,
            deadline.key,
            deadline.due_at,
            dict(deadline.payload),
        )

    async def cancel(self, tx: asyncpg.Connection, kind: str, key: str) -> bool:
        result = await tx.execute(
            "UPDATE deadlines SET cancelled_at = now() WHERE kind = $1 AND key = $2 "
            "AND fired_at IS NULL AND cancelled_at IS NULL",
            kind,
            key,
        )
        return bool(result.endswith(" 1"))

    async def fire_due(self, now: datetime, limit: int, fire: DeadlineHandler) -> int:
        fired = 0
        async with self.pool.acquire() as conn:
            for _ in range(limit):
                async with conn.transaction():
                    row = await conn.fetchrow(
                        "SELECT id, kind, key, due_at, payload FROM deadlines WHERE due_at <= $1 "
                        "AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY due_at LIMIT 1 "
                        "FOR UPDATE SKIP LOCKED",
                        now,
                    )
                    if row is None:
                        break
                    await fire(conn, Deadline(row["kind"], row["key"], row["due_at"], row["payload"]))
                    await conn.execute("UPDATE deadlines SET fired_at = $2 WHERE id = $1", row["id"], now)
                    fired += 1
        return fired


class DeadlineScheduler(BackgroundLoop):
    """Polls the store and hands each due deadline to the handler registered for its kind."""

    name = "deadline scheduler"

    def __init__(
        self,
        store: DeadlineStore,
        handlers: Mapping[str, DeadlineHandler],
        clock: Clock | None = None,
        poll_interval_s: float = 0.5,
        batch: int = 100,
    ) -> None:
        super().__init__(poll_interval_s)
        self.store = store
        self.handlers = dict(handlers)
        self.clock = clock or SystemClock()
        self.batch = batch

    async def _fire(self, tx: Any, deadline: Deadline) -> None:
        handler = self.handlers.get(deadline.kind)
        if handler is None:
            raise UnknownDeadline(f"no handler for deadlines of kind {deadline.kind!r}")
        await handler(tx, deadline)

    async def run_due(self) -> int:
        """Fire everything due now; returns how many fired."""
        total = 0
        while True:
            fired = await self.store.fire_due(self.clock.now(), self.batch, self._fire)
            total += fired
            if fired < self.batch:
                return total

    async def round(self) -> None:
        await self.run_due()
