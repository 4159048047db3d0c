"""The shop counter live: `GET /stores/{location_id}/live` as server-sent events.

Every transaction that changes an order's parts or lines NOTIFYs `linli_queue` with the
order's shop or market and each stall holding a part (`FulfilmentRepository`), so the
notification is heard only once the change is committed. One listener per process wakes the
streams of those locations; each reads its queue again and sends a `queue` event when it
differs from what it last sent. A location's stream also reads again at every heartbeat
(15 s), which is how a slot order shows up when its release time comes, with no change to
announce it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from services.inventory.adapters.fulfilment_repository import QUEUE_CHANNEL
from services.inventory.entrypoints.access import location_for
from services.inventory.service_layer import queries
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal, require
from shared.notifications import Notifications
from shared.service import Runtime, runtime_of
from shared.vocabulary.roles import Role

HEARTBEAT_S = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
# Counted down by the console itself: leaving them out of the comparison keeps a quiet queue quiet.
TICKING = ("seconds_left", "seconds_to_release")

router = APIRouter(tags=["fulfilment"])
Staff = Depends(require(Role.STORE_STAFF))

# The listener of each running app, by its runtime (a Runtime has no room for one service's extras).
_listeners: dict[int, Notifications] = {}


async def start_listening(runtime: Runtime) -> None:
    """Listen on the queue channel for this process; `stop_listening` undoes it."""
    listener = Notifications(runtime.settings.database_url, QUEUE_CHANNEL)
    await listener.start()
    listener.end_on_signal()
    _listeners[id(runtime)] = listener


async def stop_listening(runtime: Runtime) -> None:
    listener = _listeners.pop(id(runtime), None)
    if listener is not None:
        await listener.stop()


def listener_of(runtime: Runtime) -> Notifications | None:
    return _listeners.get(id(runtime))


async def queue_view(runtime: Runtime, location: Any) -> dict[str, Any]:
    """What the counter shows: the live queue and the slot orders not released yet."""
    async with runtime.pool.acquire() as conn:
        uow = UnitOfWork(conn)
        return {"location_id": location["id"], "queue": await queries.queue(uow, location),
                "scheduled": await queries.scheduled(uow, location)}


def _settled(view: dict[str, Any]) -> str:
    """The view without its countdowns, to tell a real change from time passing."""
    parts = [{k: v for k, v in p.items() if k not in TICKING} for p in view["queue"] + view["scheduled"]]
    return json.dumps(parts, sort_keys=True, default=str)


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'), default=str)}\n\n"


@router.get("/stores/{location_id}/live", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`queue` events ({location_id, queue, scheduled}, as GET …/queue and "
                                            "…/queue/scheduled); `: heartbeat` comments every 15 s"},
                       403: {"description": "not staff of this location (or of its market), nor an admin"},
                       404: {"description": "no such shop, market or stall"},
                       503: {"description": "live updates are not running in this process"}})
async def live(location_id: str, request: Request, principal: Principal = Staff) -> StreamingResponse:
    """The queue of a shop, stall or market (with every stall's parts) at once, then again after every change."""
    location = await location_for(request, principal, location_id)
    runtime = runtime_of(request)
    listener = listener_of(runtime)
    if listener is None:
        raise HTTPException(503, f"live updates are not running here; poll GET /stores/{location_id}/queue instead")

    async def events() -> AsyncIterator[str]:
        async with listener.subscribe(location_id) as wakeup:
            last: str | None = None
            while not wakeup.closed:
                view = await queue_view(runtime, location)
                settled = _settled(view)
                if settled != last:
                    last = settled
                    yield event("queue", view)
                elif await request.is_disconnected():
                    return
                else:
                    yield ": heartbeat\n\n"
                await wakeup.wait(HEARTBEAT_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
