"""Codes resist guessing: wrong tries of one code are counted, and too many lock it for a while.

A six-digit code (the handover code at the counter or the shop, the shopper's delivery code,
a locker's code) has a million values. Without a limit, a rider could walk through them over
the API. So:

- After `code_wrong_tries_limit` (5) wrong codes for one order, further tries for that order
  are refused for `code_lockout_s` (15 minutes) with a 429 saying when to try again, the right
  code included. A right code before that resets the count; so does the lockout's end.
- Each subject (the token's subject) may try at most `code_tries_per_subject_per_min` codes
  a minute on all code routes of a service together, right or wrong.

The counts live in PostgreSQL, read with a row lock and written in the same unit of work as
the check, so concurrent guesses for one order queue behind each other and a restart resets
nothing. A wrong code is a refusal whose unit of work still commits (`Refusal.commits`): the
try it counted stands. The rule is `CodeTries`, pure; `code_guard` runs it on a unit of work.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg

from shared.errors import TooManyTries, WrongCode
from shared.settings import Settings

# What a code route may answer besides its answer, for its OpenAPI description.
CODE_RESPONSES: dict[int | str, dict[str, object]] = {
    422: {"description": "a wrong code: `tries_left` says how many remain before the code locks"},
    429: {"description": "too many wrong codes for this order, or too many code tries by you: Retry-After"},
}


@dataclass(frozen=True)
class CodeTries:
    """Wrong tries of one code since its last right try or lockout, and the lockout if there is one."""

    wrong: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def check(self, now: datetime, what: str) -> None:
        """Refuse any try, right or wrong, while locked."""
        if self.locked_until is not None and self.locked(now):
            raise TooManyTries(
                f"too many wrong codes for {what}: tries are refused until {self.locked_until:%H:%M:%S} UTC",
                self.locked_until,
                now,
            )

    def after_wrong(self, now: datetime, limit: int, lockout_s: float) -> CodeTries:
        """One more wrong try; the `limit`-th locks the code for `lockout_s` and starts the count again."""
        wrong = (0 if self.locked_until is not None else self.wrong) + 1
        if wrong >= limit:
            return CodeTries(0, now + timedelta(seconds=lockout_s))
        return CodeTries(wrong, None)

    def tries_left(self, limit: int) -> int:
        return 0 if self.locked_until is not None else max(0, limit - self.wrong)


@dataclass(frozen=True)
class SubjectWindow:
    """How many code tries a subject made in the current minute."""

    start: datetime
    tries: int

    @staticmethod
    def start_of(now: datetime) -> datetime:
        return now.replace(second=0, microsecond=0)

    def check(self, now: datetime, limit: int) -> None:
        if self.tries > limit:
            raise TooManyTries(
                f"more than {limit} code tries a minute: wait a moment and try again",
                self.start + timedelta(minutes=1),
                now,
            )


class CodeTriesRepository(Protocol):
    async def lock(self, kind: str, key: str) -> CodeTries: ...
    async def save(self, kind: str, key: str, tries: CodeTries, now: datetime) -> None: ...
    async def count_subject(self, subject: str, window_start: datetime) -> int: ...


class PostgresCodeTries:
    """`code_tries` and `code_tries_by_subject` on the unit of work's transaction (each service's migration)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock(self, kind: str, key: str) -> CodeTries:
        """The code's tries, its row locked until the unit of work ends (made if it was not there)."""
        row = await self.conn.fetchrow(
            "INSERT INTO code_tries (kind, key) VALUES ($1, $2) "
            "ON CONFLICT (kind, key) DO UPDATE SET kind = EXCLUDED.kind RETURNING wrong, locked_until",
            kind,
            key,
        )
        assert row is not None
        return CodeTries(row["wrong"], row["locked_until"])

    async def save(self, kind: str, key: str, tries: CodeTries, now: datetime) -> None:
        if tries == CodeTries():
            await self.conn.execute("DELETE FROM code_tries WHERE kind = $1 AND key = $2", kind, key)
            return
        await self.conn.execute(
            "UPDATE code_tries SET wrong = $3, locked_until = $4, changed_at = $5 WHERE kind = $1 AND key = $2",
            kind,
            key,
            tries.wrong,
            tries.locked_until,
            now,
        )

    async def count_subject(self, subject: str, window_start: datetime) -> int:
        """Count one try in the subject's current window; returns the window's tries, this one included."""
        await self.conn.execute(
            "DELETE FROM code_tries_by_subject WHERE subject = $1 AND window_start < $2", subject, window_start
        )
        tries = await self.conn.fetchval(
            "INSERT INTO code_tries_by_subject (subject, window_start, tries) VALUES ($1, $2, 1) "
            "ON CONFLICT (subject, window_start) DO UPDATE SET tries = code_tries_by_subject.tries + 1 "
            "RETURNING tries",
            subject,
            window_start,
        )
        return int(tries)


@dataclass(frozen=True)
class Lockout:
    """A code just locked: what the use case tells the order's timeline and the people who watch."""

    kind: str
    key: str
    subject: str
    wrong_tries: int
    until: datetime


@dataclass(frozen=True)
class CodeLimits:
    """The three numbers of the rule, from the settings (`code_*`)."""

    wrong_tries: int = 5
    lockout_s: float = 900.0
    per_subject_per_min: int = 30

    @classmethod
    def from_settings(cls, settings: Settings) -> CodeLimits:
        return cls(settings.code_wrong_tries_limit, settings.code_lockout_s, settings.code_tries_per_subject_per_min)


class GuardedUnitOfWork(Protocol):
    @property
    def code_tries(self) -> CodeTriesRepository: ...

    def now(self) -> datetime: ...


@asynccontextmanager
async def code_guard(
    uow: GuardedUnitOfWork,
    limits: CodeLimits,
    kind: str,
    key: str,
    *,
    subject: str,
    what: str,
    on_lockout: Callable[[Lockout], Awaitable[None]],
) -> AsyncIterator[None]:
    """The block inside compares a code, under the limits above.

    `kind` and `key` name the code (`"delivery"`, an order id); `what` names it for people
    ("order o-1"). Before the block: the subject's tries this minute, and a lockout, refuse
    with TooManyTries. A WrongCode from the block is counted and re-raised as a refusal that
    commits, with the tries left; the try that locks the code calls `on_lockout` in the same
    unit of work. A block that passes resets the count.
    """
    now = uow.now()
    window = SubjectWindow.start_of(now)
    SubjectWindow(window, await uow.code_tries.count_subject(subject, window)).check(now, limits.per_subject_per_min)
    tries = await uow.code_tries.lock(kind, key)
    tries.check(now, what)
    try:
        yield
    except WrongCode as wrong:
        limit = limits.wrong_tries
        after = tries.after_wrong(now, limit, limits.lockout_s)
        await uow.code_tries.save(kind, key, after, now)
        if after.locked_until is not None:
            await on_lockout(Lockout(kind, key, subject, limit, after.locked_until))
            refusal = WrongCode(
                f"{wrong.message}; that was the {limit}th wrong code for {what}: tries are refused "
                f"until {after.locked_until:%H:%M:%S} UTC",
                **wrong.extra,
                tries_left=0,
                locked_until=after.locked_until.isoformat(),
            )
        else:
            left = after.tries_left(limit)
            refusal = WrongCode(
                f"{wrong.message} ({left} {'try' if left == 1 else 'tries'} left)", **wrong.extra, tries_left=left
            )
        refusal.commits = True
        raise refusal from wrong
    await uow.code_tries.save(kind, key, CodeTries(), now)  # a right code: the count starts again
