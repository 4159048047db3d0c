"""What dispatchers (and admins) do: the roster, rider profiles and shifts, deliveries, assignment by hand
and alerts. Store staff, riders and shoppers get 403 here."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.domain.delivery import FINISHED, DeliveryStatus
from services.dispatch.domain.riders import RiderState, Shift, Vehicle
from services.dispatch.entrypoints import answers
from services.dispatch.entrypoints.answers import (
    AlertAnswer,
    AssignedAnswer,
    BoardPlanAnswer,
    DispatcherDeliveryAnswer,
    ProfileAnswer,
    RosterAnswer,
    ShiftsAnswer,
)
from services.dispatch.entrypoints.changes import Asked, asked_by, read, then
from services.dispatch.service_layer import assigning, riders
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.audit import summary
from shared.auth import Principal, require
from shared.vocabulary.roles import Role

router = APIRouter(tags=["dispatchers"])
Dispatcher = Depends(require(Role.DISPATCHER))
AskedByDispatcher = asked_by(Role.DISPATCHER)
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))  # a rider's every shift, for the record
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
    override_shift: bool = Field(
        default=False, description="send a rider who is off shift anyway (without it: 409 saying why)"
    )


@router.get("/riders")
async def roster(request: Request, _: Principal = Dispatcher) -> list[RosterAnswer]:
    """Every rider with position, state, today's shift, load and whether they went silent."""
    return [answers.roster_entry(e) for e in await read(request, riders.roster)]


@router.put("/riders/{rider_id}", response_model=ProfileAnswer)
async def put_rider(rider_id: str, body: ProfileBody, asked: Asked = AskedByDispatcher) -> JSONResponse:

    async def put(uow: DispatchUnitOfWork) -> ProfileAnswer:
        before = await uow.riders.get(rider_id)
        after = answers.profile(
            await riders.put_profile(uow, rider_id, body.name, body.vehicle, body.capacity, body.state)
        )
        action = "created" if before is None else "updated"
        await uow.audit.record(
            asked.principal,
            "rider",
            rider_id,
            action,
            summary(before and answers.profile(before)),
            after.model_dump(mode="json"),
        )
        return after

    return await asked.change(body.model_dump(mode="json"), put)


@router.put("/riders/{rider_id}/shifts", response_model=ShiftsAnswer)
async def put_shifts(rider_id: str, body: ShiftsBody, asked: Asked = AskedByDispatcher) -> JSONResponse:
    """Replace the rider's shifts, or with `day` only that local day's (what the board edits)."""
    shifts = [Shift(s.starts_at, s.ends_at) for s in body.shifts]

    async def put(uow: DispatchUnitOfWork) -> ShiftsAnswer:
        kept = (await uow.shifts.between([rider_id], EVER[0], EVER[1])).get(rider_id, [])
        saved = await riders.put_shifts(uow, rider_id, shifts, body.day)
        answer = ShiftsAnswer(rider_id=rider_id, shifts=[answers.shift(s) for s in saved])
        before = {"shifts": [answers.shift(s).model_dump() for s in kept]}
        after = {"day": body.day and body.day.isoformat(), "shifts": answer.model_dump()["shifts"]}
        await uow.audit.record(asked.principal, "shifts", rider_id, "replaced", before, after)
        return answer

    return await asked.change(body.model_dump(mode="json"), put)


@router.post("/orders/{order_id}/assign", response_model=AssignedAnswer)
async def assign(order_id: str, body: AssignBody, asked: Asked = AskedByDispatcher) -> JSONResponse:
    """Assign, or reassign (the previous rider gets RiderUnassigned 'reassigned by <you>'). A rider
    off shift is refused (409, saying when their shift ended) unless `override_shift`, which the
    order's timeline then records with your id."""
    return await asked.change(
        body.model_dump(),
        lambda uow: then(
            assigning.assign_by_hand(uow, order_id, body.rider_id, asked.subject, override_shift=body.override_shift),
            answers.assigned,
        ),
    )


async def active_deliveries(uow: DispatchUnitOfWork) -> list[DispatcherDeliveryAnswer]:
    active = [s for s in DeliveryStatus if s not in FINISHED]
    return [answers.delivery_for_dispatcher(d) for d in await uow.deliveries.in_status(active)]


@router.get("/deliveries")
async def deliveries(request: Request, _: Principal = Dispatcher) -> list[DispatcherDeliveryAnswer]:
    """Deliveries not finished: waiting, open, with a rider, in a locker, offered for pickup."""
    return await read(request, active_deliveries)


async def open_alerts(uow: DispatchUnitOfWork) -> list[AlertAnswer]:
    return [answers.alert(a) for a in await uow.alerts.open()]


@router.get("/alerts")
async def alerts(request: Request, _: Principal = Dispatcher) -> list[AlertAnswer]:
    """Late risks, orders no rider took, riders taken off orders (silent, behind)."""
    return await read(request, open_alerts)


async def _board_plan(uow: DispatchUnitOfWork) -> BoardPlanAnswer:
    return answers.board_plan(await assigning.board_plan(uow))


@router.get("/board/plan")
async def board_plan(request: Request, _: Principal = Dispatcher) -> BoardPlanAnswer:
    """What the rounds would do now, read-only: held orders (why, for whom, the comparison), orders
    no plan carries in time, bundles, additions to accepted trips, and shifts ending within the hour."""
    return await read(request, _board_plan)
