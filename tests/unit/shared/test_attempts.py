"""The guessing rule: five wrong codes lock an order's code for fifteen minutes, a right code resets
the count, and a subject may try only so many codes a minute."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from shared.attempts import CodeLimits, CodeTries, Lockout, SubjectWindow, code_guard
from shared.errors import Conflict, TooManyTries, WrongCode
from tests.fakes import FakeClock, FakeUnitOfWork

NOW = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
LIMITS = CodeLimits(wrong_tries=5, lockout_s=900, per_subject_per_min=30)


def test_the_fifth_wrong_code_locks_for_the_lockout() -> None:
    tries = CodeTries()
    for n in range(1, 5):
        tries = tries.after_wrong(NOW, 5, 900)
        assert tries == CodeTries(n, None)
        assert tries.tries_left(5) == 5 - n
    tries = tries.after_wrong(NOW, 5, 900)
    assert tries.locked_until == NOW + timedelta(minutes=15)
    assert tries.tries_left(5) == 0


def test_a_locked_code_refuses_every_try_until_the_lockout_ends() -> None:
    tries = CodeTries(0, NOW + timedelta(minutes=15))
    with pytest.raises(TooManyTries) as refused:
        tries.check(NOW + timedelta(minutes=14, seconds=59, milliseconds=500), "order o-1")
    assert refused.value.status_code == 429
    assert refused.value.headers() == {"Retry-After": "1"}
    assert refused.value.body()["retry_at"] == (NOW + timedelta(minutes=15)).isoformat()
    tries.check(NOW + timedelta(minutes=15), "order o-1")  # over: no refusal


def test_after_a_lockout_the_count_starts_again() -> None:
    expired = CodeTries(0, NOW - timedelta(seconds=1))
    assert expired.after_wrong(NOW, 5, 900) == CodeTries(1, None)


def test_the_subject_window_allows_the_limit_and_refuses_the_next() -> None:
    start = SubjectWindow.start_of(NOW + timedelta(seconds=42))
    assert start == NOW
    SubjectWindow(start, 30).check(NOW + timedelta(seconds=42), 30)
    with pytest.raises(TooManyTries) as refused:
        SubjectWindow(start, 31).check(NOW + timedelta(seconds=42), 30)
    assert refused.value.headers() == {"Retry-After": "18"}


async def guarded_try(uow: FakeUnitOfWork, right: bool, lockouts: list[Lockout], subject: str = "rider-1") -> None:
    async with (
        uow,
        code_guard(uow, LIMITS, "delivery", "o-1", subject=subject, what="order o-1", on_lockout=_collect(lockouts)),
    ):
        if not right:
            raise WrongCode("that is not the shopper's delivery code")


def _collect(into: list[Lockout]) -> Callable[[Lockout], Awaitable[None]]:
    async def collect(lock: Lockout) -> None:
        into.append(lock)

    return collect


async def test_wrong_codes_commit_their_count_and_say_how_many_tries_are_left() -> None:
    uow, lockouts = FakeUnitOfWork(clock=FakeClock(NOW)), []
    with pytest.raises(WrongCode) as wrong:
        await guarded_try(uow, False, lockouts)
    assert wrong.value.commits, "the unit of work keeps the counted try"
    assert wrong.value.body()["tries_left"] == 4
    assert uow.committed
    assert uow.code_tries.tries[("delivery", "o-1")] == CodeTries(1, None)


async def test_the_lockout_refuses_the_right_code_then_lets_it_through() -> None:
    clock = FakeClock(NOW)
    uow, lockouts = FakeUnitOfWork(clock=clock), []
    for _ in range(4):
        with pytest.raises(WrongCode):
            await guarded_try(uow, False, lockouts)
    with pytest.raises(WrongCode) as fifth:
        await guarded_try(uow, False, lockouts)
    assert fifth.value.body()["tries_left"] == 0
    assert lockouts == [Lockout("delivery", "o-1", "rider-1", 5, NOW + timedelta(minutes=15))]
    clock.advance(60)
    with pytest.raises(TooManyTries) as refused:
        await guarded_try(uow, True, lockouts)
    assert refused.value.retry_after_s == 14 * 60
    clock.advance(14 * 60)
    await guarded_try(uow, True, lockouts)
    assert ("delivery", "o-1") not in uow.code_tries.tries, "a right code starts the count again"
    assert len(lockouts) == 1


async def test_a_right_code_resets_the_count() -> None:
    uow, lockouts = FakeUnitOfWork(clock=FakeClock(NOW)), []
    for _ in range(4):
        with pytest.raises(WrongCode):
            await guarded_try(uow, False, lockouts)
    await guarded_try(uow, True, lockouts)
    for _ in range(4):
        with pytest.raises(WrongCode):
            await guarded_try(uow, False, lockouts)
    assert lockouts == [], "four and four wrong codes with a right one between lock nothing"


async def test_other_refusals_are_not_counted_and_roll_back() -> None:
    uow = FakeUnitOfWork(clock=FakeClock(NOW))
    with pytest.raises(Conflict):
        async with uow, code_guard(uow, LIMITS, "delivery", "o-1", subject="r", what="o-1", on_lockout=_collect([])):
            raise Conflict("the bag is not packed yet")
    assert not uow.committed
    assert uow.code_tries.tries.get(("delivery", "o-1"), CodeTries()) == CodeTries()


async def test_a_subject_is_limited_across_orders() -> None:
    clock = FakeClock(NOW)
    uow = FakeUnitOfWork(clock=clock)
    limits = CodeLimits(wrong_tries=5, lockout_s=900, per_subject_per_min=3)
    for n in range(3):
        async with uow, code_guard(uow, limits, "delivery", f"o-{n}", subject="r", what="x", on_lockout=_collect([])):
            pass
    with pytest.raises(TooManyTries):
        async with uow, code_guard(uow, limits, "delivery", "o-9", subject="r", what="x", on_lockout=_collect([])):
            pass
    clock.advance(60)
    async with uow, code_guard(uow, limits, "delivery", "o-9", subject="r", what="x", on_lockout=_collect([])):
        pass
