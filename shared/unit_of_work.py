"""The unit of work every service's use cases run in: one transaction, one clock, one cause.

A use case never touches a connection. It asks its unit of work for repositories, publishes
events (recorded in the outbox in the same transaction) and schedules deadlines; the unit of
work commits all of it when the `async with` block ends cleanly and rolls all of it back when
it raises, except for a refusal that `commits` (a wrong code's counted try must stand). The
consumer's inbox claim and the scheduler's fired mark go through the same
transaction, so an event or a deadline is applied exactly once in effect.

Each service subclasses `PostgresUnitOfWork` and builds its repositories in `_bind()`; unit
tests subclass `UnitOfWork` with in-memory repositories instead (tests/fakes.py).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Self

import asyncpg

from shared import outbox
from shared.audit import AuditLog, PostgresAuditLog
from shared.clock import Clock
from shared.deadlines import Deadline, Deadlines, PostgresDeadlines
from shared.dependencies import DATABASE, Unavailable
from shared.errors import Refusal
from shared.events.envelope import Envelope, Event, RawEnvelope, envelope
from shared.idempotency import IdempotencyKeys, PostgresIdempotencyKeys
from shared.inbox import Inbox, PostgresInbox


class UnitOfWork(abc.ABC):
    """What the service layer sees; subclasses say where the transaction and the repositories live."""

    inbox: Inbox
    deadlines: Deadlines
    idempotency: IdempotencyKeys
    audit: AuditLog  # the record of changes, in this transaction (shared/audit.py)

    def __init__(self, *, clock: Clock, cause: RawEnvelope | None = None, correlation_id: str | None = None) -> None:
        self.clock = clock
        self.cause = cause
        self.correlation_id = correlation_id
        self.published: list[Envelope[Any]] = []
        self._now: datetime | None = None

    def now(self) -> datetime:
        """One instant for the whole unit of work, so every row and event it writes agrees on the time."""
        if self._now is None:
            self._now = self.clock.now()
        return self._now

    async def __aenter__(self) -> Self:
        self._now = self.clock.now()
        self.published = []
        await self._begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None or (isinstance(exc, Refusal) and exc.commits):
            await self._commit()
        else:
            await self._rollback()

    async def publish(self, event: Event) -> Envelope[Any]:
        """Announce a fact; it leaves the service only if this unit of work commits."""
        env = envelope(event, causation=self.cause, correlation_id=self.correlation_id, occurred_at=self.now())
        await self._record(env)
        self.published.append(env)
        return env

    async def publish_many(self, items: Sequence[tuple[RawEnvelope | None, Event]]) -> None:
        """Publish each event, in order, as the answer to its own cause (a batch answers many)."""
        for cause, event in items:
            self.cause = cause
            await self.publish(event)

    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None:
        """Schedule (or move) each deadline; of two with one kind and key, the last wins."""
        await self.deadlines.schedule_many(deadlines)

    async def schedule(self, kind: str, key: str, due_at: datetime, payload: dict[str, Any] | None = None) -> None:
        """If nothing cancels it first, the handler for `kind` runs at `due_at` (once, in its own unit of work)."""
        await self.deadlines.schedule(Deadline(kind, key, due_at, payload or {}))

    async def cancel_deadline(self, kind: str, key: str) -> bool:
        return await self.deadlines.cancel(kind, key)

    @abc.abstractmethod
    async def _begin(self) -> None: ...

    @abc.abstractmethod
    async def _commit(self) -> None: ...

    @abc.abstractmethod
    async def _rollback(self) -> None: ...

    @abc.abstractmethod
    async def _record(self, env: Envelope[Any]) -> None: ...


class PostgresUnitOfWork(UnitOfWork):
    """A transaction on a connection of the service's pool, opened on enter and released on exit."""

    service: ClassVar[str]

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Clock,
        cause: RawEnvelope | None = None,
        correlation_id: str | None = None,
        readonly: bool = False,
        acquire_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(clock=clock, cause=cause, correlation_id=correlation_id)
        self._pool = pool
        self._readonly = readonly
        self._acquire_timeout_s = acquire_timeout_s
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        self._outbox: list[Envelope[Any]] = []  # written in one statement just before COMMIT

    @abc.abstractmethod
    def _bind(self, conn: asyncpg.Connection) -> None:
        """Build this service's repositories on the transaction's connection."""

    async def _begin(self) -> None:
        try:
            conn = await self._pool.acquire(timeout=self._acquire_timeout_s)
        except TimeoutError as e:
            raise Unavailable(
                DATABASE, f"no database connection came free within {self._acquire_timeout_s:g}s; try again shortly"
            ) from e
        try:
            tx = conn.transaction(readonly=self._readonly)
            await tx.start()
        except BaseException:
            await self._pool.release(conn)
            raise
        self._conn, self._tx = conn, tx
        self.inbox = PostgresInbox(conn)
        self.deadlines = PostgresDeadlines(conn)
        self.idempotency = PostgresIdempotencyKeys(conn)
        self.audit = PostgresAuditLog(conn, self.now)
        self._bind(conn)

    async def _end(self, commit: bool) -> None:
        conn, tx = self._conn, self._tx
        events, self._outbox = self._outbox, []
        self._conn = self._tx = None
        if conn is None:
            return
        try:
            if commit:
                try:
                    await outbox.record_many(conn, events, self.service)
                except BaseException:
                    await tx.rollback()
                    raise
                await tx.commit()
            else:
                await tx.rollback()
        finally:
            await self._pool.release(conn)

    async def _commit(self) -> None:
        await self._end(commit=True)

    async def _rollback(self) -> None:
        await self._end(commit=False)

    async def _record(self, env: Envelope[Any]) -> None:
        """Kept until the commit: a unit of work's events cost one statement however many there are."""
        assert self._conn is not None, "publish() outside `async with unit_of_work`"
        self._outbox.append(env)
