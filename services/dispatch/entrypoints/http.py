"""HTTP routes of the dispatch service: the orders dispatch is following, as their events tell it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request

from services.dispatch.adapters.repository import DispatchRepository
from shared.auth import Principal, require
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["dispatch"])
Dispatcher = Depends(require(Role.DISPATCHER))


@router.get("/orders")
async def open_orders(request: Request, _: Principal = Dispatcher) -> list[dict[str, Any]]:
    """Orders not yet finished, as dispatch knows them from the order events."""
    async with runtime_of(request).pool.acquire() as conn:
        rows = await DispatchRepository(conn).open_orders()
    return [{**dict(r), "updated_at": r["updated_at"].isoformat()} for r in rows]


@router.get("/orders/{order_id}/events")
async def order_events(order_id: str, request: Request, _: Principal = Dispatcher) -> list[dict[str, Any]]:
    async with runtime_of(request).pool.acquire() as conn:
        rows = await DispatchRepository(conn).history(order_id)
    if not rows:
        raise HTTPException(404, f"dispatch has received no events for order {order_id}")
    return [
        {
            "type": r["event_type"],
            "occurred_at": r["occurred_at"].isoformat(),
            "received_at": r["received_at"].isoformat(),
            "payload": r["payload"],
        }
        for r in rows
    ]
