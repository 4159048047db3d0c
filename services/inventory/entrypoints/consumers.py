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
from shared.service import Runtime, Subscription


def _placed(runtime: Runtime) -> Handler:
    async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
        await reservations.on_order_placed(UnitOfWork(conn, env), event, Policy.from_settings(runtime.settings))
    return handle


def _cancelled(_: Runtime) -> Handler:
    async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
        await reservations.on_order_cancelled(UnitOfWork(conn, env), event)
    return handle


def _approval(_: Runtime) -> Handler:
    async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
        await fulfilment.on_approval_given(UnitOfWork(conn, env), event)
    return handle


def _pickup_choice(_: Runtime) -> Handler:
    async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
        await fulfilment.on_pickup_choice_made(UnitOfWork(conn, env), event)
    return handle


def _picked_up(_: Runtime) -> Handler:
    async def handle(conn: asyncpg.Connection, env: RawEnvelope, event: Any) -> None:
        await fulfilment.on_delivery_picked_up(UnitOfWork(conn, env), event)
    return handle


def accept_deadline(_: Runtime) -> DeadlineHandler:
    async def fire(conn: asyncpg.Connection, deadline: Deadline) -> None:
        await reservations.on_accept_deadline(UnitOfWork(conn), deadline)
    return fire


def approval_deadline(_: Runtime) -> DeadlineHandler:
    async def fire(conn: asyncpg.Connection, deadline: Deadline) -> None:
        await fulfilment.on_approval_deadline(UnitOfWork(conn), deadline)
    return fire


SUBSCRIPTIONS = [
    Subscription("inventory", ORDERS, {OrderPlaced: _placed, OrderCancelled: _cancelled, ApprovalGiven: _approval,
                                       PickupChoiceMade: _pickup_choice}),
    Subscription("inventory-dispatch", DISPATCH, {DeliveryPickedUp: _picked_up}),
]
DEADLINES = {reservations.ACCEPT_DEADLINE: accept_deadline, reservations.APPROVAL_DEADLINE: approval_deadline}
