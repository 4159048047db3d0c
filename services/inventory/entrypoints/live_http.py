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
from typing import Any, cast

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from services.inventory.adapters.fulfilment_repository import QUEUE_CHANNEL
from services.inventory.domain.catalog import Location
from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.answers import LiveQueueAnswer, queued_answer, scheduled_answer
from services.inventory.service_layer import queries
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.auth import Principal, require
from shared.service import Runtime, runtime_of
from shared.sse import SSE_HEADERS, follow, listener_of
from shared.vocabulary.roles import Role

# Counted down by the console itself: leaving them out of the comparison keeps a quiet queue quiet.
TICKING = ("seconds_left", "seconds_to_release")

router = APIRouter(tags=["fulfilment"])
Staff = Depends(require(Role.STORE_STAFF))


async def queue_view(runtime: Runtime, location: Location) -> LiveQueueAnswer:
    """What the counter shows: the live queue and the slot orders not released yet."""
    uow = cast(InventoryUnitOfWork, runtime.unit_of_work(readonly=True))
    async with uow:
        return LiveQueueAnswer(
            location_id=location.id,
            queue=[queued_answer(q) for q in await queries.queue(uow, location)],
            scheduled=[scheduled_answer(q) for q in await queries.scheduled(uow, location)],
        )


def _settled(view: dict[str, Any]) -> str:
    """The view without its countdowns, to tell a real change from time passing."""
    parts = [{k: v for k, v in p.items() if k not in TICKING} for p in view["queue"] + view["scheduled"]]
    return json.dumps(parts, sort_keys=True, default=str)


@router.get(
    "/stores/{location_id}/live",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "`queue` events ({location_id, queue, scheduled}, as GET …/queue and "
            "…/queue/scheduled); `: heartbeat` comments every 15 s",
        },
        403: {"description": "not staff of this location (or of its market), nor an admin"},
        404: {"description": "no such shop, market or stall"},
        503: {"description": "live updates are not running in this process"},
    },
)
async def live(location_id: str, request: Request, principal: Principal = Staff) -> StreamingResponse:
    """The queue of a shop, stall or market (with every stall's parts) at once, then again after every change.

    Answers `text/event-stream` (server-sent events), not JSON: each `queue` event's data is a
    `LiveQueueAnswer`.
    """
    location = await location_for(request, principal, location_id)
    runtime = runtime_of(request)
    listener = listener_of(runtime, QUEUE_CHANNEL)
    if listener is None:
        raise HTTPException(503, f"live updates are not running here; poll GET /stores/{location_id}/queue instead")

    async def read() -> dict[str, Any]:
        return (await queue_view(runtime, location)).model_dump(mode="json")

    return StreamingResponse(
        follow(request, listener, location_id, "queue", read, _settled),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
