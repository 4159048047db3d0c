"""Event and deadline handlers of the dispatch service: parse, call a use case, done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.dispatch.adapters.live import append
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.domain.delivery import STATUS_AFTER
from services.dispatch.service_layer import intake, lockers
from services.dispatch.service_layer.assigning import NO_RIDER, PICKUP_ANSWER
from services.dispatch.service_layer.tracking import record_order_event
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.deadlines import Deadline, DeadlineHandler
from shared.events.contracts import (
    LocationUpserted,
    OrderAccepted,
    OrderCancelled,
    OrderConfirmed,
    OrderHandedOver,
    OrderPacked,
    OrderPlaced,
    OrderRated,
    OrderRejected,
    PickupChoiceMade,
)
from shared.events.envelope import RawEnvelope
from shared.events.topics import CATALOG, INVENTORY, ORDERS
from shared.inbox import Handler
from shared.service import Runtime, Subscription

UseCase = Callable[[UnitOfWork, Any, RawEnvelope], Awaitable[None]]


def _uow(runtime: Runtime, conn: asyncpg.Connection, env: RawEnvelope | None = None) -> UnitOfWork:
    positions = RiderPositions(runtime.redis) if runtime.redis is not None else None
    return UnitOfWork(conn, runtime.settings, cause=env, positions=positions)


def _handler(use_case: UseCase) -> Callable[[Runtime], Handler]:
    def make(runtime: Runtime) -> Handler:
        async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
            if env.type in STATUS_AFTER:
                await record_order_event(conn, env, event)
            uow = _uow(runtime, conn, env)
            await use_case(uow, event, env)
            await append(runtime.redis, uow.live)

        return handle

    return make


async def _placed(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.on_order_placed(uow, event)


async def _confirmed(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    return None


async def _accepted(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.on_order_accepted(uow, event)


async def _cancelled(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.drop(uow, event.order_id, f"order cancelled ({event.reason})")


async def _rejected(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.drop(uow, event.order_id, "order rejected")


async def _pickup_choice(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.on_pickup_choice(uow, event)


async def _packed(uow: UnitOfWork, event: Any, env: RawEnvelope) -> None:
    await intake.on_order_packed(uow, event, env.occurred_at)


async def _handed_over(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.on_handed_over(uow, event)


async def _rated(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.on_order_rated(uow, event)


async def _location(uow: UnitOfWork, event: Any, _: RawEnvelope) -> None:
    await intake.on_location(uow, event)


def _deadline(fire: Callable[[UnitOfWork, str], Awaitable[None]]) -> Callable[[Runtime], DeadlineHandler]:
    def make(runtime: Runtime) -> DeadlineHandler:
        async def handle(conn: asyncpg.Connection, deadline: Deadline) -> None:
            uow = _uow(runtime, conn)
            await fire(uow, deadline.key)
            await append(runtime.redis, uow.live)

        return handle

    return make


SUBSCRIPTIONS = [
    Subscription(
        "dispatch",
        ORDERS,
        {
            OrderPlaced: _handler(_placed),
            OrderConfirmed: _handler(_confirmed),
            OrderRejected: _handler(_rejected),
            OrderAccepted: _handler(_accepted),
            OrderCancelled: _handler(_cancelled),
            PickupChoiceMade: _handler(_pickup_choice),
            OrderRated: _handler(_rated),
        },
    ),
    Subscription(
        "dispatch-inventory", INVENTORY, {OrderPacked: _handler(_packed), OrderHandedOver: _handler(_handed_over)}
    ),
    Subscription("dispatch-catalog", CATALOG, {LocationUpserted: _handler(_location)}),
]

DEADLINES = {
    NO_RIDER: _deadline(intake.on_no_rider_deadline),
    PICKUP_ANSWER: _deadline(intake.on_pickup_answer_deadline),
    lockers.COLLECT: _deadline(lockers.on_collect_deadline),
}
