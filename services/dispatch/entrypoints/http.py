"""HTTP routes of the dispatch service: the orders dispatch is following, as their events tell it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from services.dispatch.entrypoints import answers
from services.dispatch.entrypoints.answers import OrderEventAnswer, TrackedOrderAnswer
from services.dispatch.entrypoints.changes import read
from shared.auth import Principal, require
from shared.errors import NotFound
from shared.vocabulary.roles import Role

router = APIRouter(tags=["dispatch"])
Dispatcher = Depends(require(Role.DISPATCHER))


@router.get("/orders")
async def open_orders(request: Request, _: Principal = Dispatcher) -> list[TrackedOrderAnswer]:
    """Orders not yet finished, as dispatch knows them from the order events."""
    return [answers.tracked_order(t) for t in await read(request, lambda uow: uow.orders.open_orders())]


@router.get("/orders/{order_id}/events")
async def order_events(order_id: str, request: Request, _: Principal = Dispatcher) -> list[OrderEventAnswer]:
    """Every order event dispatch received for the order, in the order it applied them."""
    found = await read(request, lambda uow: uow.orders.history(order_id))
    if not found:
        raise NotFound(f"dispatch has received no events for order {order_id}")
    return [answers.order_event(e) for e in found]
