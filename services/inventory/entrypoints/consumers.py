"""Event and deadline handlers of the inventory service: parse, call a use case, done."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.inventory.service_layer import fulfilment, reservations
from services.inventory.service_layer.policy import Policy
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.deadlines import Deadline, DeadlineHandler
from shared.events.contracts import ApprovalGiven, DeliveryPickedUp, OrderCancelled, OrderPlaced, PickupChoiceMade
from shared.events.envelope import RawEnvelope
from shared.events.topics import DISPATCH, ORDERS
from shared.inbox import Handler
from shared.service import Runtime, Subscription, on_event


def _uow(_: Runtime, conn: asyncpg.Connection, env: RawEnvelope) -> UnitOfWork:
    return UnitOfWork(conn, env)


def _placed(runtime: Runtime) -> Handler:
    async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
        await reservations.on_order_placed(UnitOfWork(conn, env), event, Policy.from_settings(runtime.settings))

    return handle


_cancelled = on_event(_uow, reservations.on_order_cancelled)


_approval = on_event(_uow, fulfilment.on_approval_given)


_pickup_choice = on_event(_uow, fulfilment.on_pickup_choice_made)


_picked_up = on_event(_uow, fulfilment.on_delivery_picked_up)


def accept_deadline(_: Runtime) -> DeadlineHandler:
    async def fire(conn: asyncpg.Connection, deadline: Deadline) -> None:
        await reservations.on_accept_deadline(UnitOfWork(conn), deadline)

    return fire


def approval_deadline(_: Runtime) -> DeadlineHandler:
    async def fire(conn: asyncpg.Connection, deadline: Deadline) -> None:
        await fulfilment.on_approval_deadline(UnitOfWork(conn), deadline)

    return fire


SUBSCRIPTIONS = [
    Subscription(
        "inventory",
        ORDERS,
        {OrderPlaced: _placed, OrderCancelled: _cancelled, ApprovalGiven: _approval, PickupChoiceMade: _pickup_choice},
    ),
    Subscription("inventory-dispatch", DISPATCH, {DeliveryPickedUp: _picked_up}),
]
DEADLINES = {reservations.ACCEPT_DEADLINE: accept_deadline, reservations.APPROVAL_DEADLINE: approval_deadline}
