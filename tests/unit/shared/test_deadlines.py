"""The deadline scheduler on a hand-moved clock: fires when due, once, and never when cancelled."""

from datetime import timedelta

import pytest

from shared.deadlines import Deadline, DeadlineScheduler, UnknownDeadline
from tests.fakes import FakeClock, FakeUnitOfWork


def world(handlers: dict) -> tuple[FakeClock, FakeUnitOfWork, DeadlineScheduler]:
    clock = FakeClock()
    uow = FakeUnitOfWork(clock=clock)
    return clock, uow, DeadlineScheduler(lambda: uow, handlers, clock)


async def test_fires_at_the_deadline_not_before() -> None:
    fired: list[str] = []

    async def on_accept(_uow: object, deadline: Deadline) -> None:
        fired.append(deadline.key)

    clock, uow, scheduler = world({"accept": on_accept})
    await uow.schedule("accept", "order-1", clock.now() + timedelta(seconds=180))
    clock.advance(179)
    assert await scheduler.run_due() == 0
    clock.advance(1)
    assert await scheduler.run_due() == 1
    assert fired == ["order-1"]
    clock.advance(600)
    assert await scheduler.run_due() == 0, "a deadline fires once"


async def test_a_cancelled_deadline_never_fires() -> None:
    fired: list[str] = []

    async def on_accept(_uow: object, deadline: Deadline) -> None:
        fired.append(deadline.key)

    clock, uow, scheduler = world({"accept": on_accept})
    await uow.schedule("accept", "order-1", clock.now() + timedelta(seconds=5))
    assert await uow.cancel_deadline("accept", "order-1")
    clock.advance(10)
    assert await scheduler.run_due() == 0
    assert fired == []


async def test_due_deadlines_fire_in_due_order_across_kinds() -> None:
    fired: list[str] = []

    async def record(_uow: object, deadline: Deadline) -> None:
        fired.append(f"{deadline.kind}:{deadline.key}")

    clock, uow, scheduler = world({"accept": record, "offer": record})
    start = clock.now()
    for i, kind in enumerate(["offer", "accept", "offer", "accept", "accept"]):
        await uow.schedule(kind, f"k{i}", start + timedelta(seconds=10 - i))
    clock.advance(10)
    assert await scheduler.run_due() == 5
    assert fired == ["accept:k4", "accept:k3", "offer:k2", "accept:k1", "offer:k0"]


async def test_rescheduling_moves_the_deadline() -> None:
    fired: list[str] = []

    async def record(_uow: object, deadline: Deadline) -> None:
        fired.append(deadline.key)

    clock, uow, scheduler = world({"accept": record})
    await uow.schedule("accept", "o", clock.now() + timedelta(seconds=5))
    await uow.schedule("accept", "o", clock.now() + timedelta(seconds=60))
    clock.advance(30)
    assert await scheduler.run_due() == 0
    clock.advance(30)
    assert await scheduler.run_due() == 1


async def test_a_handler_fails_and_the_deadline_stays_due_with_nothing_it_published() -> None:
    async def broken(uow: FakeUnitOfWork, deadline: Deadline) -> None:
        raise RuntimeError("the shop's printer is on fire")

    clock, uow, scheduler = world({"accept": broken})
    await uow.schedule("accept", "o", clock.now())
    with pytest.raises(RuntimeError):
        await scheduler.run_due()
    assert not uow.committed
    assert ("accept", "o") in uow.deadlines.pending


async def test_a_deadline_without_a_handler_is_an_error_not_a_silent_drop() -> None:
    clock, uow, scheduler = world({})
    await uow.schedule("mystery", "x", clock.now())
    with pytest.raises(UnknownDeadline):
        await scheduler.run_due()
    assert ("mystery", "x") in uow.deadlines.pending
