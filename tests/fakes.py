"""In-memory stand-ins for the shared mechanisms, so service-layer tests need no PostgreSQL.

A service's fake unit of work subclasses `FakeUnitOfWork` and gives itself in-memory
repositories in `_bind()`; everything it publishes is in `published`, `committed` says
whether the block ended cleanly, and a rolled-back unit of work keeps none of its events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.attempts import CodeTries
from shared.audit import InMemoryAuditLog
from shared.deadlines import Deadline
from shared.events.envelope import Envelope, RawEnvelope
from shared.unit_of_work import UnitOfWork


def to_json(env: Envelope[Any]) -> bytes:
    """An event as the relay puts it on the wire, for tests that hand bytes to a consumer."""
    return env.model_dump_json().encode()


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 8, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class InMemoryInbox:
    def __init__(self) -> None:
        self.claimed: set[tuple[str, str]] = set()

    async def claim(self, consumer: str, env: RawEnvelope, topic: str) -> bool:
        key = (consumer, str(env.event_id))
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    async def claim_many(self, consumer: str, envs: Sequence[RawEnvelope], topic: str) -> set[uuid.UUID]:
        return {env.event_id for env in envs if await self.claim(consumer, env, topic)}


class InMemoryDeadlines:
    """Same rules as the PostgreSQL store: one pending deadline per (kind, key), fired in due order."""

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], Deadline] = {}
        self.fired: list[Deadline] = []

    async def schedule(self, deadline: Deadline) -> None:
        self.pending[(deadline.kind, deadline.key)] = deadline

    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None:
        for deadline in deadlines:
            await self.schedule(deadline)

    async def cancel(self, kind: str, key: str) -> bool:
        return self.pending.pop((kind, key), None) is not None

    async def next_due(self, now: datetime) -> Deadline | None:
        due = sorted((d for d in self.pending.values() if d.due_at <= now), key=lambda d: d.due_at)
        return due[0] if due else None

    async def mark_fired(self, deadline: Deadline, at: datetime) -> None:
        if self.pending.get((deadline.kind, deadline.key)) == deadline:
            del self.pending[(deadline.kind, deadline.key)]
        self.fired.append(deadline)


class FakeUnitOfWork(UnitOfWork):
    """Shares its repositories across units of work (like one database), keeps events only on commit."""

    def __init__(self, *, clock: Any = None, cause: RawEnvelope | None = None, correlation_id: str | None = None):
        super().__init__(clock=clock or FakeClock(), cause=cause, correlation_id=correlation_id)
        self.inbox = InMemoryInbox()
        self.deadlines = InMemoryDeadlines()
        self.idempotency = InMemoryIdempotencyKeys()
        self.audit = InMemoryAuditLog(self.now)
        self.code_tries = InMemoryCodeTries()
        self.events: list[Envelope[Any]] = []  # every committed event, across units of work
        self.committed = False
        self._pending: list[Envelope[Any]] = []

    async def _begin(self) -> None:
        self.committed = False
        self._pending = []

    async def _commit(self) -> None:
        self.events.extend(self._pending)
        self.committed = True

    async def _rollback(self) -> None:
        self._pending = []

    async def _record(self, env: Envelope[Any]) -> None:
        self._pending.append(env)


class InMemoryCodeTries:
    """Wrong code tries and subjects' windows, as `shared.attempts.PostgresCodeTries` keeps them."""

    def __init__(self) -> None:
        self.tries: dict[tuple[str, str], CodeTries] = {}
        self.windows: dict[tuple[str, datetime], int] = {}

    async def lock(self, kind: str, key: str) -> CodeTries:
        return self.tries.setdefault((kind, key), CodeTries())

    async def save(self, kind: str, key: str, tries: CodeTries, now: datetime) -> None:
        if tries == CodeTries():
            self.tries.pop((kind, key), None)
        else:
            self.tries[(kind, key)] = tries

    async def count_subject(self, subject: str, window_start: datetime) -> int:
        self.windows[(subject, window_start)] = self.windows.get((subject, window_start), 0) + 1
        return self.windows[(subject, window_start)]


class InMemoryIdempotencyKeys:
    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], list[Any]] = {}

    async def claim(self, principal: str, key: str, fingerprint: str) -> bool:
        if (principal, key) in self.keys:
            return False
        self.keys[(principal, key)] = [fingerprint, None, None]
        return True

    async def answer(self, principal: str, key: str) -> tuple[str, int, Any]:
        fingerprint, status, response = self.keys[(principal, key)]
        return fingerprint, status, response

    async def remember(self, principal: str, key: str, status: int, response: Any) -> None:
        self.keys[(principal, key)][1:] = [status, response]
