"""The deadline scheduler on a hand-moved clock: fires when due, once, and never when cancelled."""

from datetime import timedelta

import pytest

from shared.deadlines import Deadline, DeadlineScheduler, FakeClock, InMemoryDeadlineStore, UnknownDeadline


async def test_fires_at_the_deadline_not_before() -> None:
    clock, store, fired = FakeClock(), InMemoryDeadlineStore(), []

    async def on_accept(_tx: object, deadline: Deadline) -> None:
        fired.append(deadline.key)

    scheduler = DeadlineScheduler(store, {"accept": on_accept}, clock)
    await store.schedule(None, Deadline("accept", "order-1", clock.now() + timedelta(seconds=180)))
    clock.advance(179)
    assert await scheduler.run_due() == 0
    clock.advance(1)
    assert await scheduler.run_due() == 1
    assert fired == ["order-1"]
    clock.advance(600)
    assert await scheduler.run_due() == 0, "a deadline fires once"


async def test_a_cancelled_deadline_never_fires() -> None:
    clock, store, fired = FakeClock(), InMemoryDeadlineStore(), []

    async def on_accept(_tx: object, deadline: Deadline) -> None:
        fired.append(deadline.key)

    scheduler = DeadlineScheduler(store, {"accept": on_accept}, clock)
    await store.schedule(None, Deadline("accept", "order-1", clock.now() + timedelta(seconds=5)))
    assert await store.cancel(None, "accept", "order-1")
    clock.advance(10)
    assert await scheduler.run_due() == 0
    assert fired == []


async def test_due_deadlines_fire_in_due_order_across_kinds() -> None:
    clock, store, fired = FakeClock(), InMemoryDeadlineStore(), []

    async def record(_tx: object, deadline: Deadline) -> None:
        fired.append(f"{deadline.kind}:{deadline.key}")

    scheduler = DeadlineScheduler(store, {"accept": record, "offer": record}, clock, batch=2)
    start = clock.now()
    for i, kind in enumerate(["offer", "accept", "offer", "accept", "accept"]):
        await store.schedule(None, Deadline(kind, f"k{i}", start + timedelta(seconds=10 - i)))
    clock.advance(10)
    assert await scheduler.run_due() == 5
    assert fired == ["accept:k4", "accept:k3", "offer:k2", "accept:k1", "offer:k0"]


async def test_rescheduling_moves_the_deadline() -> None:
    clock, store, fired = FakeClock(), InMemoryDeadlineStore(), []

    async def record(_tx: object, deadline: Deadline) -> None:
        fired.append(deadline.key)

    scheduler = DeadlineScheduler(store, {"accept": record}, clock)
    await store.schedule(None, Deadline("accept", "o", clock.now() + timedelta(seconds=5)))
    await store.schedule(None, Deadline("accept", "o", clock.now() + timedelta(seconds=60)))
    clock.advance(30)
    assert await scheduler.run_due() == 0
    clock.advance(30)
    assert await scheduler.run_due() == 1


async def test_a_deadline_without_a_handler_is_an_error_not_a_silent_drop() -> None:
    clock, store = FakeClock(), InMemoryDeadlineStore()
    scheduler = DeadlineScheduler(store, {}, clock)
    await store.schedule(None, Deadline("mystery", "x", clock.now()))
    with pytest.raises(UnknownDeadline):
        await scheduler.run_due()
    assert ("mystery", "x") in store.pending
