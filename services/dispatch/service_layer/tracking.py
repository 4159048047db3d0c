"""The order log: every order event dispatch applies is recorded with the order's latest status."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.dispatch.domain.delivery import STATUS_AFTER, awaits_rider
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.events.contracts import OrderPlaced
from shared.events.envelope import Event

E = TypeVar("E", bound=Event)
UseCase = Callable[[DispatchUnitOfWork, E], Awaitable[None]]


async def record_order_event(uow: DispatchUnitOfWork, event: Event) -> None:
    env = uow.cause
    assert env is not None, "the order log records events, and only those"
    order_id: str = event.order_id  # type: ignore[attr-defined]  # every order event carries both
    store_id: str = event.store_id  # type: ignore[attr-defined]
    await uow.orders.record(env.event_id, order_id, env.type, env.occurred_at, event.model_dump(mode="json"))
    status = STATUS_AFTER[env.type]
    mode = event.fulfilment_mode if isinstance(event, OrderPlaced) else None
    known = await uow.orders.tracked(order_id)
    effective_mode = mode or (known.fulfilment_mode if known else None)
    await uow.orders.track(order_id, store_id, mode, status.value, awaits_rider(effective_mode, status))


def logged(use_case: UseCase[E]) -> UseCase[E]:
    """The use case for an order event, recorded in the order log first (in the same unit of work)."""

    async def apply(uow: DispatchUnitOfWork, event: E) -> None:
        await record_order_event(uow, event)
        await use_case(uow, event)

    apply.__name__ = apply.__qualname__ = getattr(use_case, "__name__", "use_case")
    return apply


__all__ = ["logged", "record_order_event"]
