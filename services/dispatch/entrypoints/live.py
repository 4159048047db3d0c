"""Server-sent events: the dispatchers' live board, a rider's own offers and deliveries, and an
orderer's view of their order.

Each connection first gets a snapshot (unless it resumes with Last-Event-ID), then every entry
of the process's single reader on the Redis stream that it may see."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from services.dispatch.adapters.live import DISPATCHERS, ORDERS, follow, hub_for
from services.dispatch.domain.delivery import CARRYING, DeliveryStatus
from services.dispatch.entrypoints.changes import read
from services.dispatch.entrypoints.dispatcher_http import _alerts, _deliveries
from services.dispatch.service_layer import riders
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal, Principal, require
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["live"])
Dispatcher = Depends(require(Role.DISPATCHER))
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


def last_event_id(value: str | None = Header(None, alias="Last-Event-ID")) -> str | None:
    """Where a reconnecting client left off: an id this stream sent (Redis `ms-seq`), or nothing."""
    if value is not None and not (STREAM_ID.fullmatch(value) and all(int(n) < 2**64 for n in value.split("-"))):
        raise HTTPException(
            422,
            f"Last-Event-ID {value[:40]!r} is not an id this stream sent (like 1795400000000-0); "
            "reconnect without it to start from now",
        )
    return value


LastEventId = Depends(last_event_id)


async def _board(uow: UnitOfWork) -> dict[str, Any]:
    offers = [
        {
            "offer_id": str(o["id"]),
            "order_id": o["order_id"],
            "rider_id": o["rider_id"],
            "expires_at": o["expires_at"].isoformat(),
        }
        for o in await uow.repo.pending_offers()
    ]
    return {
        "riders": await riders.roster(uow),
        "deliveries": await _deliveries(uow),
        "offers": offers,
        "alerts": await _alerts(uow),
    }


@router.get("/live", response_class=EventSourceResponse)
async def board(
    request: Request, _: Principal = Dispatcher, last_event_id: str | None = LastEventId
) -> AsyncIterable[ServerSentEvent]:
    """Riders' positions and states, open deliveries, offers and alerts, as they change."""
    if not last_event_id:
        yield ServerSentEvent(event="snapshot", data=await read(request, _board))
    hub = hub_for(runtime_of(request).redis)
    async for entry_id, entry in follow(hub, DISPATCHERS, last_event_id, lambda e: e):
        yield ServerSentEvent(id=entry_id, event=entry["kind"], data=entry)


@router.get("/riders/me/live", response_class=EventSourceResponse)
async def rider_live(
    request: Request, principal: Principal = Depends(require(Role.RIDER)), last_event_id: str | None = LastEventId
) -> AsyncIterable[ServerSentEvent]:
    """What concerns this rider, as it happens: offers made, lapsed or withdrawn, their deliveries
    assigned, moved or taken away, their state. Each arrives as a `change` event naming its kind;
    the rider app then reads its offers and deliveries again, so nothing here needs to be complete."""
    if not last_event_id:
        yield ServerSentEvent(event="hello", data={"rider_id": principal.subject})

    def mine(entry: dict[str, Any]) -> dict[str, Any] | None:
        if entry["kind"] == "rider_position":
            return None  # the rider's own pings: the phone knows where it is
        return entry if (entry.get("data") or {}).get("rider_id") == principal.subject else None

    async for entry_id, entry in follow(hub_for(runtime_of(request).redis), DISPATCHERS, last_event_id, mine):
        yield ServerSentEvent(id=entry_id, event="change", data=entry)


def order_status(d: Any) -> dict[str, Any]:
    status = DeliveryStatus(d["status"])
    return {
        "order_id": d["order_id"],
        "status": status.value,
        "rider_id": d["rider_id"],
        "promised_at": d["promised_at"].isoformat() if d["promised_at"] else None,
        "eta_door_at": d["eta_door_at"].isoformat() if d["eta_door_at"] else None,
        "late_risk": d["late_risk"],
        "rider_visible": status in CARRYING,
    }


async def orderer_of(order_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The order's delivery, for the one who placed it or for whom (dispatchers too); 404 for anyone else."""

    async def load(uow: UnitOfWork) -> Any:
        return await uow.repo.get(order_id)

    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.DISPATCHER, Role.ADMIN):
        raise HTTPException(403, f"a {principal.role.value} may not follow an order's delivery")
    d = await read(request, load)
    if d is None or not (_is_orderer(principal, d) or principal.role in (Role.DISPATCHER, Role.ADMIN)):
        raise HTTPException(404, f"no delivery for order {order_id} that you can follow")
    return order_status(d)


def _is_orderer(principal: Principal, d: Any) -> bool:
    return principal.role in (Role.SHOPPER, Role.HELPER) and principal.subject in (d["placed_by"], d["placed_for"])


@router.get("/orders/{order_id}/live", response_class=EventSourceResponse)
async def order_live(
    order_id: str,
    request: Request,
    status: dict[str, Any] = Depends(orderer_of),
    last_event_id: str | None = LastEventId,
) -> AsyncIterable[ServerSentEvent]:
    """The order's dispatch status; the rider's position only between pickup and delivery."""
    if not last_event_id:
        yield ServerSentEvent(event="status", data=status)

    def mine(entry: dict[str, Any]) -> dict[str, Any] | None:
        return entry if entry["order_id"] == order_id else None

    async for entry_id, entry in follow(hub_for(runtime_of(request).redis), ORDERS, last_event_id, mine):
        yield ServerSentEvent(id=entry_id, event=entry["kind"], data=entry["data"])
