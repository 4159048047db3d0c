"""Server-sent events: the dispatchers' live board, a rider's own offers and deliveries, and an
orderer's view of their order.

Each connection first gets a snapshot (unless it resumes with Last-Event-ID), then every entry
of the process's single reader on the Redis stream that it may see. While Redis is away a new
stream is refused 503 with Retry-After; an open one waits (keep-alive pings) and, once Redis is
back, gets a fresh snapshot (`resync`) before the changes carry on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel

from services.dispatch.adapters.live import DISPATCHERS, ORDERS, RESYNC, LiveHub, append, follow
from services.dispatch.adapters.redis_watch import RedisWatch
from services.dispatch.domain.visibility import VISIBILITY
from services.dispatch.entrypoints import answers
from services.dispatch.entrypoints.answers import (
    AlertAnswer,
    BoardOfferAnswer,
    DispatcherDeliveryAnswer,
    OrderStatusAnswer,
    RosterAnswer,
)
from services.dispatch.entrypoints.changes import read
from services.dispatch.entrypoints.dispatcher_http import active_deliveries, open_alerts
from services.dispatch.service_layer import riders
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.auth import CurrentPrincipal, Principal, require
from shared.background import BackgroundLoop
from shared.errors import Forbidden, Invalid, NotFound
from shared.service import Runtime, runtime_of
from shared.vocabulary.roles import Role


class LiveFeeds(BackgroundLoop):
    """This process's readers of the live streams in Redis, one per stream for every open client.

    Declared in the service's background so the readers stop with the service. Its rounds only
    matter after notes were lost while Redis was away: once it answers, each stream gets a
    `resync` entry even if nothing else is written (otherwise they touch nothing).
    """

    name = "live feeds"

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(pause_s=2.0)
        self.redis = runtime.redis
        self.hub = LiveHub(runtime.redis)

    async def round(self) -> None:
        if RedisWatch.of(self.redis).notes_lost:
            await append(self.redis, [])

    async def stop(self) -> None:
        await super().stop()
        await self.hub.close()


async def hub_of(request: Request) -> LiveHub:
    """The process's hub, once Redis answers (else 503 with Retry-After, before the stream opens)."""
    feeds: LiveFeeds = runtime_of(request).loop(LiveFeeds)
    await feeds.hub.available()
    return feeds.hub


Hub = Depends(hub_of)


router = APIRouter(tags=["live"])
Dispatcher = Depends(require(Role.DISPATCHER))
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")


def last_event_id(value: str | None = Header(None, alias="Last-Event-ID")) -> str | None:
    """Where a reconnecting client left off: an id this stream sent (Redis `ms-seq`), or nothing."""
    if value is not None and not (STREAM_ID.fullmatch(value) and all(int(n) < 2**64 for n in value.split("-"))):
        raise Invalid(
            f"Last-Event-ID {value[:40]!r} is not an id this stream sent (like 1795400000000-0); "
            "reconnect without it to start from now"
        )
    return value


LastEventId = Depends(last_event_id)


class BoardSnapshot(BaseModel):
    """The board's first event: everything it shows, before the changes follow."""

    riders: list[RosterAnswer]
    deliveries: list[DispatcherDeliveryAnswer]
    offers: list[BoardOfferAnswer]
    alerts: list[AlertAnswer]


async def _board(uow: DispatchUnitOfWork) -> dict[str, Any]:
    snapshot = BoardSnapshot(
        riders=[answers.roster_entry(e) for e in await riders.roster(uow)],
        deliveries=await active_deliveries(uow),
        offers=[answers.board_offer(o) for o in await uow.offers.pending()],
        alerts=await open_alerts(uow),
    )
    return snapshot.model_dump(mode="json")


SSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "server-sent events (text/event-stream)"}
}


@router.get("/live", response_class=EventSourceResponse, responses=SSE)
async def board(
    request: Request,
    _: Principal = Dispatcher,
    last_event_id: str | None = LastEventId,
    hub: LiveHub = Hub,
) -> AsyncIterable[ServerSentEvent]:
    """Riders' positions and states, open deliveries, offers and alerts, as they change.

    A `text/event-stream`: first a `snapshot` event (a BoardSnapshot), then one event per change;
    another `snapshot` whenever changes may have been missed (Redis was away, or the stream no
    longer holds the Last-Event-ID it resumed from).
    """
    if not last_event_id:
        yield ServerSentEvent(event="snapshot", data=await read(request, _board))
    async for entry_id, entry in follow(hub, DISPATCHERS, last_event_id, lambda e: e):
        if entry["kind"] == RESYNC:
            yield ServerSentEvent(id=entry_id, event="snapshot", data=await read(request, _board))
        else:
            yield ServerSentEvent(id=entry_id, event=entry["kind"], data=entry)


@router.get("/riders/me/live", response_class=EventSourceResponse, responses=SSE)
async def rider_live(
    principal: Principal = Depends(require(Role.RIDER)),
    last_event_id: str | None = LastEventId,
    hub: LiveHub = Hub,
) -> AsyncIterable[ServerSentEvent]:
    """What concerns this rider, as it happens: offers made, lapsed or withdrawn, their deliveries
    assigned, moved or taken away, their state. Each arrives as a `change` event naming its kind;
    the rider app then reads its offers and deliveries again, so nothing here needs to be complete
    (a `resync` change says changes may have been missed). A `text/event-stream`, opened by a `hello` event."""
    if not last_event_id:
        yield ServerSentEvent(event="hello", data={"rider_id": principal.subject})

    def mine(entry: dict[str, Any]) -> dict[str, Any] | None:
        if entry["kind"] == "rider_position":
            return None  # the rider's own pings: the phone knows where it is
        return entry if (entry.get("data") or {}).get("rider_id") == principal.subject else None

    async for entry_id, entry in follow(hub, DISPATCHERS, last_event_id, mine):
        yield ServerSentEvent(id=entry_id, event="change", data=entry)


async def orderer_of(order_id: str, request: Request, principal: CurrentPrincipal) -> OrderStatusAnswer:
    """The order's delivery, for the one who placed it or for whom (dispatchers too); 404 for anyone else."""
    if not VISIBILITY.may_follow_at_all(principal.role):
        raise Forbidden(f"a {principal.role.value} may not follow an order's delivery")
    d = await read(request, lambda uow: uow.deliveries.get(order_id))
    if d is None or not VISIBILITY.may_follow(principal.role, principal.subject, d):
        raise NotFound(f"no delivery for order {order_id} that you can follow")
    return answers.order_status(d)


@router.get("/orders/{order_id}/live", response_class=EventSourceResponse, responses=SSE)
async def order_live(
    order_id: str,
    request: Request,
    status: OrderStatusAnswer = Depends(orderer_of),
    last_event_id: str | None = LastEventId,
    hub: LiveHub = Hub,
) -> AsyncIterable[ServerSentEvent]:
    """The order's dispatch status; the rider's position only between pickup and delivery.

    A `text/event-stream`: first a `status` event (an OrderStatusAnswer), then the order's changes;
    another `status` whenever changes may have been missed (Redis was away, or the stream no longer
    holds the Last-Event-ID it resumed from).
    """
    if not last_event_id:
        yield ServerSentEvent(event="status", data=status.model_dump(mode="json"))

    def mine(entry: dict[str, Any]) -> dict[str, Any] | None:
        return entry if entry["order_id"] == order_id else None

    async for entry_id, entry in follow(hub, ORDERS, last_event_id, mine):
        if entry["kind"] == RESYNC:
            d = await read(request, lambda uow: uow.deliveries.get(order_id))
            if d is None:
                return
            yield ServerSentEvent(id=entry_id, event="status", data=answers.order_status(d).model_dump(mode="json"))
        else:
            yield ServerSentEvent(id=entry_id, event=entry["kind"], data=entry["data"])
