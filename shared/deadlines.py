"""Persisted deadlines: "if nothing has happened by then, do this" that survive a restart.

A deadline is a row (kind, key, due_at). The scheduler fires due rows in due order, each in a
unit of work with its handler's effects, so a fired deadline is never fired twice and a
deadline cancelled in the same transaction as the awaited action never fires. The clock is
injected: tests move time by hand instead of sleeping.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from shared.background import BackgroundLoop
from shared.clock import Clock

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deadline:
    kind: str
    key: str
    due_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    id: int | None = None  # the stored row, once loaded


class Deadlines(Protocol):
    """The deadlines repository of one unit of work."""

    async def schedule(self, deadline: Deadline) -> None: ...
    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None: ...
    async def cancel(self, kind: str, key: str) -> bool: ...
    async def next_due(self, now: datetime) -> Deadline | None:
        """The earliest due deadline no one else is firing, locked until the unit of work ends."""

    async def mark_fired(self, deadline: Deadline, at: datetime) -> None: ...


DeadlineHandler = Callable[["UnitOfWork", Deadline], Awaitable[None]]


class UnknownDeadline(Exception):
    pass


class PostgresDeadlines:
    """Deadlines in the service's own database, on the unit of work's connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def schedule(self, deadline: Deadline) -> None:
        await self.conn.execute(
            "INSERT INTO deadlines (kind, key, due_at, payload) VALUES ($1, $2, $3, $4::jsonb) "
            "ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, "
            "fired_at = NULL, cancelled_at = NULL",
            deadline.kind,
            deadline.key,
            deadline.due_at,
            dict(deadline.payload),
        )

    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None:
        """`schedule` for many in one statement; of two with one kind and key the last wins, as one after the other."""
        rows = list({(d.kind, d.key): d for d in deadlines}.values())
        if not rows:
            return
        await self.conn.execute(
            "INSERT INTO deadlines (kind, key, due_at, payload) "
            "SELECT d.kind, d.key, d.due_at, d.payload::jsonb "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS d(kind, key, due_at, payload) "
            "ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, "
            "fired_at = NULL, cancelled_at = NULL",
            [d.kind for d in rows],
            [d.key for d in rows],
            [d.due_at for d in rows],
            [json.dumps(dict(d.payload)) for d in rows],
        )

    async def cancel(self, kind: str, key: str) -> bool:
        result = await self.conn.execute(
            "UPDATE deadlines SET cancelled_at = now() WHERE kind = $1 AND key = $2 "
            "AND fired_at IS NULL AND cancelled_at IS NULL",
            kind,
            key,
        )
        return bool(result.endswith(" 1"))

    async def next_due(self, now: datetime) -> Deadline | None:
        row = await self.conn.fetchrow(
            "SELECT id, kind, key, due_at, payload FROM deadlines WHERE due_at <= $1 "
            "AND fired_at IS NULL AND cancelled_at IS NULL ORDER BY due_at LIMIT 1 "
            "FOR UPDATE SKIP LOCKED",
            now,
        )
        if row is None:
            return None
        return Deadline(row["kind"], row["key"], row["due_at"], row["payload"], row["id"])

    async def mark_fired(self, deadline: Deadline, at: datetime) -> None:
        # By id: a handler that re-schedules the same (kind, key) reopens the row, and that new
        # due time must survive; so only a row still due at the old time is marked.
        await self.conn.execute(
            "UPDATE deadlines SET fired_at = $2 WHERE id = $1 AND due_at = $3 AND fired_at IS NULL",
            deadline.id,
            at,
            deadline.due_at,
        )


class DeadlineScheduler(BackgroundLoop):
    """Polls for due deadlines and hands each to the handler registered for its kind."""

    name = "deadline scheduler"

    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        handlers: Mapping[str, DeadlineHandler],
        clock: Clock,
        poll_interval_s: float = 0.5,
    ) -> None:
        super().__init__(poll_interval_s)
        self.unit_of_work = unit_of_work
        self.handlers = dict(handlers)
        self.clock = clock

    async def fire_next(self) -> bool:
        """Fire the earliest due deadline, with its handler's effects, in one unit of work."""
        async with self.unit_of_work() as uow:
            deadline = await uow.deadlines.next_due(self.clock.now())
            if deadline is None:
                return False
            handler = self.handlers.get(deadline.kind)
            if handler is None:
                raise UnknownDeadline(f"no handler for deadlines of kind {deadline.kind!r}")
            await handler(uow, deadline)
            await uow.deadlines.mark_fired(deadline, self.clock.now())
        return True

    async def run_due(self) -> int:
        """Fire everything due now; returns how many fired."""
        fired = 0
        while await self.fire_next():
            fired += 1
        return fired

    async def round(self) -> None:
        await self.run_due()
