"""What a rider does: their profile and state, positions, offers and the steps of each delivery.
The token's subject is the rider id; a rider acts only on their own offers and deliveries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.domain.delivery import RiderState
from services.dispatch.entrypoints.changes import read, run_change
from services.dispatch.service_layer import assigning, delivering, riders
from shared.auth import Principal, require
from shared.vocabulary.roles import Role

router = APIRouter(tags=["riders"])
Rider = Depends(require(Role.RIDER))
IdempotencyKey = Header(None, alias="Idempotency-Key")


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


class FailedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


@router.get("/riders/me")
async def me(request: Request, principal: Principal = Rider) -> Any:
    """Profile, state, today's shift, position, and the deliveries in hand."""
    return await read(request, lambda uow: riders.me(uow, principal.subject))


@router.post("/riders/me/state")
async def set_state(
    body: StateBody, request: Request, principal: Principal = Rider, idempotency_key: str | None = IdempotencyKey
) -> Any:
    """offline, available or on_break (busy follows from the load)."""
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: riders.set_state(uow, principal.subject, body.state),
    )


@router.post("/riders/me/location")
async def location(body: LocationBody, request: Request, principal: Principal = Rider) -> Any:
    """Where the rider is now; sent every few seconds (silence means no work)."""
    return await run_change(
        request,
        principal,
        None,
        body.model_dump(),
        lambda uow: riders.report_location(uow, principal.subject, body.lat, body.lon),
    )


@router.get("/riders/me/offers")
async def my_offers(request: Request, principal: Principal = Rider) -> Any:
    """Pending offers with their countdown, the shop, the distance and what is in the bag."""
    return await read(request, lambda uow: assigning.offers_for(uow, principal.subject))


@router.get("/riders/me/deliveries")
async def my_deliveries(request: Request, principal: Principal = Rider) -> Any:
    result: dict[str, Any] = await read(request, lambda uow: riders.me(uow, principal.subject))
    return result["deliveries"]


@router.post("/offers/{offer_id}/accept")
async def accept(
    offer_id: str, request: Request, principal: Principal = Rider, idempotency_key: str | None = IdempotencyKey
) -> Any:
    return await run_change(
        request, principal, idempotency_key, None, lambda uow: assigning.accept_offer(uow, principal.subject, offer_id)
    )


@router.post("/offers/{offer_id}/decline")
async def decline(
    offer_id: str, request: Request, principal: Principal = Rider, idempotency_key: str | None = IdempotencyKey
) -> Any:
    return await run_change(
        request, principal, idempotency_key, None, lambda uow: assigning.decline_offer(uow, principal.subject, offer_id)
    )


@router.post("/deliveries/{order_id}/at-shop")
async def at_shop(
    order_id: str, request: Request, principal: Principal = Rider, idempotency_key: str | None = IdempotencyKey
) -> Any:
    return await run_change(
        request, principal, idempotency_key, None, lambda uow: delivering.at_shop(uow, order_id, principal.subject)
    )


@router.post("/deliveries/{order_id}/picked-up")
async def picked_up(
    order_id: str,
    body: CodeBody,
    request: Request,
    principal: Principal = Rider,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """With the shop's handover code (422 if wrong, 409 if the bag is not packed yet)."""
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: delivering.picked_up(uow, order_id, principal.subject, body.code),
    )


@router.post("/deliveries/{order_id}/at-door")
async def at_door(
    order_id: str, request: Request, principal: Principal = Rider, idempotency_key: str | None = IdempotencyKey
) -> Any:
    return await run_change(
        request, principal, idempotency_key, None, lambda uow: delivering.at_door(uow, order_id, principal.subject)
    )


@router.post("/deliveries/{order_id}/delivered")
async def delivered(
    order_id: str,
    body: DeliveredBody,
    request: Request,
    principal: Principal = Rider,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """With the shopper's delivery code; pay-on-delivery orders need cash_collected_fen."""
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: delivering.delivered(uow, order_id, principal.subject, body.code, body.cash_collected_fen),
    )


@router.post("/deliveries/{order_id}/failed")
async def failed(
    order_id: str,
    body: FailedBody,
    request: Request,
    principal: Principal = Rider,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """Only after waiting door_wait_s at the door."""
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: delivering.failed(uow, order_id, principal.subject, body.reason),
    )


@router.post("/deliveries/{order_id}/locker-deposit")
async def locker_deposit(
    order_id: str, request: Request, principal: Principal = Rider, idempotency_key: str | None = IdempotencyKey
) -> Any:
    return await run_change(
        request,
        principal,
        idempotency_key,
        None,
        lambda uow: delivering.locker_deposit(uow, order_id, principal.subject),
    )
