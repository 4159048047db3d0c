"""HTTP routes for the leader's page: a group buy followed live, and its trip (how its bags reach the pickup
point). The deal's save NOTIFYs `linli_order` with the deal's id (ids never collide with orders'), so
its stream rides the listener every order stream uses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from services.orders.adapters.repository import ORDER_CHANNEL
from services.orders.entrypoints.group_buys_http import DealAnswer, unit_of_work
from services.orders.service_layer import group_buys, group_trips
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import CurrentPrincipal, Principal
from shared.errors import Forbidden, NotFound
from shared.service import Runtime, runtime_of
from shared.sse import SSE_HEADERS, follow, listener_of

router = APIRouter(tags=["group buying"])


class CompartmentAnswer(BaseModel):
    number: int
    compartment_id: str
    code: str | None = Field(None, description="opens it: in the bag's holder's (or helper's) view only")
    collect_by: datetime | None = None


class TripAnswer(BaseModel):
    deal_id: str
    kind: str = Field(description="'delivery' (one trip), 'locker' (a compartment per bag) or 'counter'")
    status: str = Field(
        description="planned, open (packed: a rider is being found), at_pickup, arrived; refused (collect at "
        "the counter, `reason` says why); counter"
    )
    bags: int | None
    weight_g: int | None
    vehicle: str | None = Field(description="the smallest vehicle that carries every bag")
    reason: str | None
    rider_id: str | None
    site_id: str | None
    counter_code: str | None = Field(description="the leader's code to collect at the counter (the leader only)")
    arrived_at: datetime | None
    arrived_by: str | None
    compartments: list[CompartmentAnswer]


@router.get(
    "/group-buys/{deal_id}/trip",
    responses={403: {"description": "not the leader, the shop, an admin or a neighbour with a bag"}},
)
async def trip(
    deal_id: str,
    request: Request,
    principal: CurrentPrincipal,
    resident: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> TripAnswer:
    """How the bags get to the pickup point: dispatch's one trip (sized to a vehicle), a locker compartment per
    bag, or the counter, where the leader collects with the code shown here."""
    async with unit_of_work(request, readonly=True) as uow:
        view = await group_trips.trip_of(uow, principal, deal_id, resident)
    t, deal = view.trip, view.deal
    counter = t is None or t.kind == "counter"
    return TripAnswer(
        deal_id=deal.id,
        kind="counter" if counter else t.kind if t else "counter",
        status=(t.status if t else "counter"),
        bags=t.bags if t else len(deal.bags()) or None,
        weight_g=t.weight_g if t else None,
        vehicle=t.vehicle if t else None,
        reason=t.reason if t else None,
        rider_id=t.rider_id if t else None,
        site_id=t.site_id if t else None,
        counter_code=view.counter_code,
        arrived_at=deal.arrived_at,
        arrived_by=deal.arrived_by,
        compartments=[
            CompartmentAnswer(
                number=n,
                compartment_id=c["compartment_id"],
                code=c.get("code"),
                collect_by=datetime.fromisoformat(c["collect_by"]) if c.get("collect_by") else None,
            )
            for n, c in sorted(view.compartments.items())
        ],
    )


async def _deal_json(runtime: Runtime, principal: Principal, deal_id: str) -> dict[str, Any]:
    uow = runtime.unit_of_work(readonly=True)
    assert isinstance(uow, OrdersUnitOfWork)
    async with uow:
        deal = await group_buys.get_deal(uow, deal_id)
        if not group_buys.sees_shares(principal, deal):
            raise Forbidden("the deal's leader, its shop's staff and admins follow it live")
        return DealAnswer.of(deal, uow.now(), all_shares=True).model_dump(mode="json")


@router.get(
    "/group-buys/{deal_id}/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`deal` events with the leader's view"},
        403: {"description": "not the leader, the shop or an admin"},
        404: {"description": "no such deal"},
        503: {"description": "live updates are not running in this process"},
    },
)
async def stream(deal_id: str, request: Request, principal: CurrentPrincipal) -> StreamingResponse:
    """Follow a deal as its leader: every join, change and leave, the close and each bag checked out, as
    `deal` events (the deal as GET /group-buys/{id} shows it to the leader, with every share)."""
    runtime = runtime_of(request)
    listener = listener_of(runtime, ORDER_CHANNEL)
    if listener is None:
        raise HTTPException(503, "live updates are not running here; poll GET /group-buys/{id} instead")
    await _deal_json(runtime, principal, deal_id)  # a 403 or 404 before the stream starts

    async def read() -> dict[str, Any] | None:
        try:
            return await _deal_json(runtime, principal, deal_id)
        except (NotFound, Forbidden):
            return None

    return StreamingResponse(
        follow(request, listener, deal_id, "deal", read), media_type="text/event-stream", headers=SSE_HEADERS
    )
