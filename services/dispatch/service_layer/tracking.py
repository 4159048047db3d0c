"""The order log: every order event dispatch applies is recorded with the order's latest status.

A run of events of one type (what a consumer fetched together) is recorded in three statements
whatever its length: the log rows, the orders' known modes, the orders' latest statuses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from services.dispatch.adapters.repository import TrackedRow
from services.dispatch.domain.delivery import STATUS_AFTER, awaits_rider
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.events.contracts import OrderPlaced
from shared.events.envelope import Event, RawEnvelope

E = TypeVar("E", bound=Event)
UseCase = Callable[[DispatchUnitOfWork, E], Awaitable[None]]
BatchUseCase = Callable[[DispatchUnitOfWork, Sequence[tuple[RawEnvelope, E]]], Awaitable[None]]


async def record_order_event(uow: DispatchUnitOfWork, event: Event) -> None:
    env = uow.cause
    assert env is not None, "the order log records events, and only those"
    await record_order_events(uow, [(env, event)])


async def record_order_events(uow: DispatchUnitOfWork, items: Sequence[tuple[RawEnvelope, Event]]) -> None:
    """Log each event and leave each order at the status its last event says, as one event at a time would."""
    if not items:
        return
    await uow.orders.record_many(
        [
            (env.event_id, event.order_id, env.type, env.occurred_at, event.model_dump(mode="json"))  # type: ignore[attr-defined]
            for env, event in items
        ]
    )
    unknown = [event.order_id for _, event in items if not isinstance(event, OrderPlaced)]  # type: ignore[attr-defined]
    modes = {t.order_id: t.fulfilment_mode for t in await uow.orders.tracked_many(unknown)} if unknown else {}
    latest: dict[str, TrackedRow] = {}
    for env, event in items:
        order_id: str = event.order_id  # type: ignore[attr-defined]  # every order event carries both
        store_id: str = event.store_id  # type: ignore[attr-defined]
        status = STATUS_AFTER[env.type]
        mode = event.fulfilment_mode if isinstance(event, OrderPlaced) else None
        effective_mode = mode or modes.get(order_id)
        if mode is not None:
            modes[order_id] = mode  # a later event of the run knows it as the next one alone would
        latest[order_id] = TrackedRow(order_id, store_id, mode, status.value, awaits_rider(effective_mode, status))
    await uow.orders.track_many(list(latest.values()))


def logged(use_case: UseCase[E]) -> UseCase[E]:
    """The use case for an order event, recorded in the order log first (in the same unit of work)."""

    async def apply(uow: DispatchUnitOfWork, event: E) -> None:
        await record_order_event(uow, event)
        await use_case(uow, event)

    apply.__name__ = apply.__qualname__ = getattr(use_case, "__name__", "use_case")
    return apply


def logged_many(use_case: UseCase[E], many: BatchUseCase[E] | None = None) -> BatchUseCase[E]:
    """A run of one order event type: logged together, then `many` (set-based) or the use case per event."""

    async def apply(uow: DispatchUnitOfWork, items: Sequence[tuple[RawEnvelope, E]]) -> None:
        await record_order_events(uow, items)
        if many is not None:
            await many(uow, items)
            return
        for env, event in items:
            uow.cause = env
            await use_case(uow, event)

    apply.__name__ = apply.__qualname__ = f"{getattr(use_case, '__name__', 'use_case')}_many"
    return apply


__all__ = ["logged", "logged_many", "record_order_event", "record_order_events"]
