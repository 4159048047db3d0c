"""Following an order live: `GET /orders/{id}/stream` as server-sent events.

The transaction that changes an order NOTIFYs `linli_order` with its id; one listener per
process wakes the streams following that order, which read it again and send the whole view
when it differs from what they last sent. A comment every 15 s keeps proxies from closing an
idle stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from services.orders.entrypoints.http import order_view
from services.orders.service_layer import ordering
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal, Principal
from shared.notifications import Notifications
from shared.service import Runtime, runtime_of

CHANNEL = "linli_order"
HEARTBEAT_S = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}

router = APIRouter(tags=["following"])

# The listener of each running app, by its runtime (a Runtime has no room for extras of one service).
_listeners: dict[int, Notifications] = {}


async def start_listening(runtime: Runtime) -> None:
    listener = Notifications(runtime.settings.database_url, CHANNEL)
    await listener.start()
    listener.end_on_signal()
    _listeners[id(runtime)] = listener


async def stop_listening(runtime: Runtime) -> None:
    listener = _listeners.pop(id(runtime), None)
    if listener is not None:
        await listener.stop()


def listener_of(runtime: Runtime) -> Notifications | None:
    return _listeners.get(id(runtime))


async def _read(runtime: Runtime, principal: Principal, order_id: str) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        try:
            order = await ordering.get_order(UnitOfWork(conn), principal, order_id)
        except ordering.NotFound as e:
            raise HTTPException(404, str(e)) from e
    return order_view(order, principal)


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


@router.get("/orders/{order_id}/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "`order` events with the full order view; `: heartbeat` comments"},
                       404: {"description": "no such order (that you can see)"},
                       503: {"description": "live updates are not running in this process"}})
async def stream(order_id: str, request: Request, principal: CurrentPrincipal) -> StreamingResponse:
    """Follow an order: its view at once, then again after every change, until you close the stream."""
    runtime = runtime_of(request)
    listener = listener_of(runtime)
    if listener is None:
        raise HTTPException(503, "live updates are not running here; poll GET /orders/{id} instead")
    await _read(runtime, principal, order_id)  # a 404 before the stream starts, not inside it

    async def events() -> AsyncIterator[str]:
        async with listener.subscribe(order_id) as wakeup:
            last: str | None = None
            changed = True
            while not wakeup.closed:
                if changed:
                    try:
                        view = event("order", await _read(runtime, principal, order_id))
                    except HTTPException:
                        return
                    if view != last:
                        last = view
                        yield view
                elif await request.is_disconnected():
                    return
                else:
                    yield ": heartbeat\n\n"
                changed = await wakeup.wait(HEARTBEAT_S)

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
