"""What a rider does: their profile and state, positions, offers and the steps of each delivery.
The token's subject is the rider id; a rider acts only on their own offers and deliveries."""

from __future__ import annotations

from collections.abc import Awaitable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.domain.riders import Rider, RiderState
from services.dispatch.entrypoints import answers
from services.dispatch.entrypoints.answers import (
    AcceptedAnswer,
    DeclinedAnswer,
    DepositedAnswer,
    OfferAnswer,
    OkAnswer,
    PaidAtDoorAnswer,
    ProfileAnswer,
    RiderDeliveryAnswer,
    RiderPageAnswer,
    StepAnswer,
)
from services.dispatch.entrypoints.changes import Asked, asked_by, read, then
from services.dispatch.service_layer import assigning, delivering, riders
from shared.attempts import CODE_RESPONSES
from shared.auth import Principal, require
from shared.requests import changed_once
from shared.vocabulary.roles import Role

router = APIRouter(tags=["riders"])
AsRider = Depends(require(Role.RIDER))
AskedByRider = asked_by(Role.RIDER)


class StateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: RiderState


class LocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Redis keeps positions in web-mercator cells, which end at ±85.05112878°: beyond, it refuses them.
    lat: float = Field(ge=-85.05112878, le=85.05112878)
    lon: float = Field(ge=-180, le=180)


class CodeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20)


class DeliveredBody(CodeBody):
    cash_collected_fen: int | None = Field(None, ge=0, le=100_000_000)


async def _profile(rider: Awaitable[Rider]) -> ProfileAnswer:
    return answers.profile(await rider)


async def _ok(done: Awaitable[None]) -> OkAnswer:
    await done
    return OkAnswer()


class FailedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


@router.get("/riders/me")
async def me(request: Request, principal: Principal = AsRider) -> RiderPageAnswer:
    """Profile, state, today's shift, position, and the deliveries in hand."""
    return answers.rider_page(await read(request, lambda uow: riders.me(uow, principal.subject)))


@router.post("/riders/me/state", response_model=ProfileAnswer)
async def set_state(body: StateBody, asked: Asked = AskedByRider) -> JSONResponse:
    """offline, available or on_break (busy follows from the load)."""
    return await asked.change(
        body.model_dump(mode="json"), lambda uow: _profile(riders.set_state(uow, asked.subject, body.state))
    )


@router.post("/riders/me/location", response_model=OkAnswer)
async def location(body: LocationBody, request: Request, principal: Principal = AsRider) -> JSONResponse:
    """Where the rider is now; sent every few seconds (silence means no work)."""
    return await changed_once(
        request,
        principal,
        None,
        body.model_dump(),
        lambda uow: _ok(riders.report_location(uow, principal.subject, body.lat, body.lon)),
    )


@router.get("/riders/me/offers")
async def my_offers(request: Request, principal: Principal = AsRider) -> list[OfferAnswer]:
    """Pending offers with their countdown, the shop, the distance and what is in the bag. An offer
    with `adds_to` is an addition to the trip of those accepted orders (not picked up yet)."""
    found = await read(request, lambda uow: assigning.offers_for(uow, principal.subject))
    return [answers.offer_for_rider(o) for o in found]


@router.get("/riders/me/deliveries")
async def my_deliveries(request: Request, principal: Principal = AsRider) -> list[RiderDeliveryAnswer]:
    """The deliveries in hand (as in /riders/me)."""
    return answers.rider_page(await read(request, lambda uow: riders.me(uow, principal.subject))).deliveries


@router.post("/offers/{offer_id}/accept", response_model=AcceptedAnswer)
async def accept(offer_id: str, asked: Asked = AskedByRider) -> JSONResponse:
    """Take the offer; an addition joins the accepted trip (the rider then carries both)."""
    return await asked.change(
        None, lambda uow: then(assigning.accept_offer(uow, asked.subject, offer_id), answers.accepted)
    )


@router.post("/offers/{offer_id}/decline", response_model=DeclinedAnswer)
async def decline(offer_id: str, asked: Asked = AskedByRider) -> JSONResponse:
    """Pass on the offer (not asked for that order again); declining an addition keeps the accepted trip."""
    return await asked.change(
        None, lambda uow: then(assigning.decline_offer(uow, asked.subject, offer_id), answers.declined)
    )


@router.post("/deliveries/{order_id}/at-shop", response_model=RiderDeliveryAnswer)
async def at_shop(order_id: str, asked: Asked = AskedByRider) -> JSONResponse:
    return await asked.change(
        None, lambda uow: then(delivering.at_shop(uow, order_id, asked.subject), answers.delivery_for_rider)
    )


@router.post("/deliveries/{order_id}/picked-up", response_model=RiderDeliveryAnswer, responses=CODE_RESPONSES)
async def picked_up(order_id: str, body: CodeBody, asked: Asked = AskedByRider) -> JSONResponse:
    """With the shop's handover code (422 if wrong, 409 if the bag is not packed yet)."""
    return await asked.change(
        body.model_dump(),
        lambda uow: then(delivering.picked_up(uow, order_id, asked.subject, body.code), answers.delivery_for_rider),
    )


@router.post("/deliveries/{order_id}/at-door", response_model=RiderDeliveryAnswer)
async def at_door(order_id: str, asked: Asked = AskedByRider) -> JSONResponse:
    return await asked.change(
        None, lambda uow: then(delivering.at_door(uow, order_id, asked.subject), answers.delivery_for_rider)
    )


@router.post("/deliveries/{order_id}/delivered", response_model=PaidAtDoorAnswer | StepAnswer, responses=CODE_RESPONSES)
async def delivered(order_id: str, body: DeliveredBody, asked: Asked = AskedByRider) -> JSONResponse:
    """With the shopper's delivery code; pay-on-delivery orders need cash_collected_fen."""
    return await asked.change(
        body.model_dump(),
        lambda uow: then(
            delivering.delivered(uow, order_id, asked.subject, body.code, body.cash_collected_fen), answers.delivered
        ),
    )


@router.post("/deliveries/{order_id}/failed", response_model=StepAnswer)
async def failed(order_id: str, body: FailedBody, asked: Asked = AskedByRider) -> JSONResponse:
    """Only after waiting door_wait_s at the door."""
    return await asked.change(
        body.model_dump(),
        lambda uow: then(delivering.failed(uow, order_id, asked.subject, body.reason), answers.step_done),
    )


@router.post("/deliveries/{order_id}/locker-deposit", response_model=DepositedAnswer)
async def locker_deposit(order_id: str, asked: Asked = AskedByRider) -> JSONResponse:
    return await asked.change(
        None, lambda uow: then(delivering.locker_deposit(uow, order_id, asked.subject), answers.deposited)
    )
