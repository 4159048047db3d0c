"""Following an order live: `GET /orders/{id}/stream` as server-sent events.

The transaction that changes an order NOTIFYs `linli_order` with its id; one listener per
process wakes the streams following that order, which read it again and send the whole view
when it differs from what they last sent. A comment every 15 s keeps proxies from closing an
idle stream.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from services.orders.adapters.repository import ORDER_CHANNEL
from services.orders.entrypoints.answers import order_json
from services.orders.service_layer.reading import get_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import CurrentPrincipal, Principal
from shared.errors import NotFound
from shared.service import Runtime, runtime_of
from shared.sse import SSE_HEADERS, follow, listener_of

router = APIRouter(tags=["following"])


async def _read(runtime: Runtime, principal: Principal, order_id: str) -> dict[str, Any]:
    """The order's JSON as GET /orders/{id} answers it; NotFound (404) if the asker may not see it."""
    uow = runtime.unit_of_work(readonly=True)
    assert isinstance(uow, OrdersUnitOfWork)
    async with uow:
        order = await get_order(uow, principal, order_id)
    return order_json(order, principal)


@router.get(
    "/orders/{order_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`order` events with the full order view; `: heartbeat` comments",
        },
        404: {"description": "no such order (that you can see)"},
        503: {"description": "live updates are not running in this process"},
    },
)
async def stream(order_id: str, request: Request, principal: CurrentPrincipal) -> StreamingResponse:
    """Follow an order: its view at once, then again after every change, until you close the stream.

    Answers `text/event-stream` (server-sent events), not JSON: each `order` event's data is the
    order as GET /orders/{id} shows it.
    """
    runtime = runtime_of(request)
    listener = listener_of(runtime, ORDER_CHANNEL)
    if listener is None:
        raise HTTPException(503, "live updates are not running here; poll GET /orders/{id} instead")
    await _read(runtime, principal, order_id)  # a 404 before the stream starts, not inside it

    async def read() -> dict[str, Any] | None:
        try:
            return await _read(runtime, principal, order_id)
        except NotFound:
            return None

    return StreamingResponse(
        follow(request, listener, order_id, "order", read), media_type="text/event-stream", headers=SSE_HEADERS
    )
