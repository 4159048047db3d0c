"""What dispatchers (and admins) do: the roster, rider profiles and shifts, deliveries, assignment by hand
and alerts. Store staff, riders and shoppers get 403 here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.domain.delivery import FINISHED, RiderState, Vehicle
from services.dispatch.entrypoints.changes import read, run_change
from services.dispatch.service_layer import assigning, riders
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal, require
from shared.vocabulary.roles import Role

router = APIRouter(tags=["dispatchers"])
Dispatcher = Depends(require(Role.DISPATCHER))
IdempotencyKey = Header(None, alias="Idempotency-Key")
RiderId = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")


class ProfileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    vehicle: Vehicle
    capacity: int = Field(ge=1, le=20)
    state: RiderState | None = None


class ShiftBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_at: datetime
    ends_at: datetime


class ShiftsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shifts: list[ShiftBody] = Field(max_length=100)
    day: date | None = Field(
        default=None,
        description="replace only this local day's shifts (the board edits "
        "one day); without it, every shift of the rider is replaced",
    )


class AssignBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rider_id: str = RiderId


@router.get("/riders")
async def roster(request: Request, _: Principal = Dispatcher) -> Any:
    """Every rider with position, state, today's shift, load and whether they went silent."""
    return await read(request, riders.roster)


@router.put("/riders/{rider_id}")
async def put_rider(
    rider_id: str,
    body: ProfileBody,
    request: Request,
    principal: Principal = Dispatcher,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: riders.put_profile(uow, rider_id, body.name, body.vehicle, body.capacity, body.state),
    )


@router.put("/riders/{rider_id}/shifts")
async def put_shifts(
    rider_id: str,
    body: ShiftsBody,
    request: Request,
    principal: Principal = Dispatcher,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    shifts = [(s.starts_at, s.ends_at) for s in body.shifts]
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: riders.put_shifts(uow, rider_id, shifts, body.day),
    )


@router.post("/orders/{order_id}/assign")
async def assign(
    order_id: str,
    body: AssignBody,
    request: Request,
    principal: Principal = Dispatcher,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """Assign, or reassign (the previous rider gets RiderUnassigned 'reassigned by <you>')."""
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: assigning.assign_by_hand(uow, order_id, body.rider_id, principal.subject),
    )


def delivery_for_dispatcher(d: Any) -> dict[str, Any]:
    hidden = {"delivery_code", "handover_code"}
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(d).items() if k not in hidden}


async def _deliveries(uow: UnitOfWork) -> list[dict[str, Any]]:
    from services.dispatch.domain.delivery import DeliveryStatus

    active = [s.value for s in DeliveryStatus if s not in FINISHED]
    return [delivery_for_dispatcher(d) for d in await uow.repo.in_status(active)]


@router.get("/deliveries")
async def deliveries(request: Request, _: Principal = Dispatcher) -> Any:
    """Deliveries not finished: waiting, open, with a rider, in a locker, offered for pickup."""
    return await read(request, _deliveries)


async def _alerts(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [
        {**dict(a), "created_at": a["created_at"].isoformat(), "resolved_at": None} for a in await uow.repo.alerts()
    ]


@router.get("/alerts")
async def alerts(request: Request, _: Principal = Dispatcher) -> Any:
    """Late risks, orders no rider took, riders taken off orders (silent, behind)."""
    return await read(request, _alerts)
