"""What the staff of a shop, stall or market do with orders: the queue, picking, packing,
the handover at the counter and returned bags. Each route parses, checks who may act on the
location in its path, and runs one use case."""

from __future__ import annotations

from collections.abc import Awaitable

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.inventory.domain.picking import LineState
from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.answers import (
    HandedOverAnswer,
    OrderPackedAnswer,
    OutOfStockAnswer,
    PartPackedAnswer,
    PickedAnswer,
    PickListAnswer,
    QueuedPartAnswer,
    ReturnedAnswer,
    ScheduledPartAnswer,
    StartedAnswer,
    SubstituteAnswer,
    WeightPendingAnswer,
    packed_answer,
    pick_list_answer,
    picked_answer,
    queued_answer,
    scheduled_answer,
)
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import fulfilment, queries
from shared.attempts import CODE_RESPONSES
from shared.auth import Principal, require
from shared.events.contracts import HandoverTo, ReturnedLine
from shared.requests import changed_once
from shared.vocabulary.roles import Role

router = APIRouter(tags=["fulfilment"])
Staff = Depends(require(Role.STORE_STAFF))
IdempotencyKey = Header(None, alias="Idempotency-Key")
LineNo = Path(ge=1, le=10_000)


class PickedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight_g: int | None = Field(None, ge=1, le=100_000, description="required for weighed goods: grams on the scale")


class SubstituteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=100_000, description="in the substitute's unit: pieces, or grams if weighed")


class PackedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bags: int = Field(ge=0, le=100)
    weight_g: int = Field(ge=0, le=1_000_000)


class HandoverBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20)
    to: HandoverTo
    cash_collected_fen: int | None = Field(
        None, ge=0, le=10_000_000, description="pay on delivery collected at the counter: the cash taken"
    )


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[ReturnedLine] = Field(min_length=1, max_length=500)


# Each action's result, shaped into its answer.


async def _started(result: Awaitable[fulfilment.Started]) -> StartedAnswer:
    started = await result
    return StartedAnswer(order_id=started.order_id, picking=started.picking)


async def _picked(result: Awaitable[fulfilment.Picked | fulfilment.WeightPending]) -> BaseModel:
    return picked_answer(await result)


async def _out_of_stock(result: Awaitable[fulfilment.OutOfStock]) -> OutOfStockAnswer:
    done = await result
    return OutOfStockAnswer(line_no=done.line_no, state=LineState.OUT_OF_STOCK, refund_fen=done.refund_fen)


async def _substituted(result: Awaitable[fulfilment.SubstituteOffered]) -> SubstituteAnswer:
    done = await result
    return SubstituteAnswer(
        line_no=done.line_no, state=done.state, needs_approval=done.needs_approval, price_fen=done.price_fen
    )


async def _packed(result: Awaitable[fulfilment.PackedPart]) -> BaseModel:
    return packed_answer(await result)


async def _handed_over(result: Awaitable[fulfilment.HandedOver]) -> HandedOverAnswer:
    done = await result
    return HandedOverAnswer(order_id=done.order_id, handed_over_to=done.to)


async def _returned(result: Awaitable[fulfilment.Returned]) -> ReturnedAnswer:
    done = await result
    return ReturnedAnswer(order_id=done.order_id, refund_fen=done.refund_fen)


@router.get("/stores/{location_id}/queue")
async def queue(location_id: str, request: Request, principal: Principal = Staff) -> list[QueuedPartAnswer]:
    """Parts waiting to be accepted (with the seconds left), accepted, being picked or packed, with their lines,
    handling flags and note. Slot orders appear here from their release time (before: /queue/scheduled)."""
    location = await location_for(request, principal, location_id)
    async with unit_of_work(request, readonly=True) as uow:
        return [queued_answer(q) for q in await queries.queue(uow, location)]


@router.get("/stores/{location_id}/queue/scheduled")
async def scheduled(location_id: str, request: Request, principal: Principal = Staff) -> list[ScheduledPartAnswer]:
    """Slot orders whose stock is held here, not in the live queue until their release time (soonest first)."""
    location = await location_for(request, principal, location_id)
    async with unit_of_work(request, readonly=True) as uow:
        return [scheduled_answer(q) for q in await queries.scheduled(uow, location)]


@router.get("/stores/{location_id}/orders/{order_id}/pick-list")
async def pick_list(location_id: str, order_id: str, request: Request, principal: Principal = Staff) -> PickListAnswer:
    """The order's lines here, grouped by stall, then by category; with every weight change and substitution."""
    await location_for(request, principal, location_id)
    async with unit_of_work(request, readonly=True) as uow:
        return pick_list_answer(await queries.pick_list(uow, location_id, order_id))


@router.post("/stores/{location_id}/orders/{order_id}/picking", response_model=StartedAnswer)
async def start_picking(
    location_id: str,
    order_id: str,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """Start picking an accepted part (the first start makes the order PICKING: no more cancelling)."""
    await location_for(request, principal, location_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        None,
        lambda uow: _started(fulfilment.start_picking(uow, location_id, order_id, principal.key)),
    )


@router.post(
    "/stores/{location_id}/orders/{order_id}/lines/{line_no}/picked",
    response_model=PickedAnswer | WeightPendingAnswer,
)
async def line_picked(
    location_id: str,
    order_id: str,
    request: Request,
    *,
    body: PickedBody | None = None,
    line_no: int = LineNo,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """In the bag as ordered; a weighed line needs weight_g, and is priced by it."""
    await location_for(request, principal, location_id)
    weight = body.weight_g if body else None
    return await changed_once(
        request,
        principal,
        idempotency_key,
        {"weight_g": weight},
        lambda uow: _picked(fulfilment.pick_line(uow, location_id, order_id, line_no, weight, principal.key)),
    )


@router.post("/stores/{location_id}/orders/{order_id}/lines/{line_no}/out-of-stock", response_model=OutOfStockAnswer)
async def line_out_of_stock(
    location_id: str,
    order_id: str,
    request: Request,
    line_no: int = LineNo,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """The line cannot be picked: it is refunded and its reservation released."""
    await location_for(request, principal, location_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        None,
        lambda uow: _out_of_stock(fulfilment.out_of_stock(uow, location_id, order_id, line_no, principal.key)),
    )


@router.post("/stores/{location_id}/orders/{order_id}/lines/{line_no}/substitute", response_model=SubstituteAnswer)
async def line_substitute(
    location_id: str,
    order_id: str,
    body: SubstituteBody,
    request: Request,
    *,
    line_no: int = LineNo,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """Offer a substitute from the same shop or stall; the shopper's preference says whether they must approve."""
    await location_for(request, principal, location_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: _substituted(
            fulfilment.substitute(uow, location_id, order_id, line_no, body.product_id, body.quantity, by=principal.key)
        ),
    )


@router.post("/stores/{location_id}/orders/{order_id}/packed", response_model=PartPackedAnswer | OrderPackedAnswer)
async def packed(
    location_id: str,
    order_id: str,
    body: PackedBody,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """This shop's or stall's part is packed; when every remaining part is, the order is (with its handover code)."""
    await location_for(request, principal, location_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: _packed(fulfilment.pack_part(uow, location_id, order_id, body.bags, body.weight_g, principal.key)),
    )


@router.post("/stores/{store_id}/orders/{order_id}/handover", response_model=HandedOverAnswer, responses=CODE_RESPONSES)
async def handover(
    store_id: str,
    order_id: str,
    body: HandoverBody,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """The bag leaves with the rider or the shopper against the order's handover code; its stock is committed."""
    await location_for(request, principal, store_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: _handed_over(
            fulfilment.hand_over_at_counter(
                uow, store_id, order_id, body.code, body.to, principal.key, cash_collected_fen=body.cash_collected_fen
            )
        ),
    )


@router.post("/stores/{store_id}/orders/{order_id}/return", response_model=ReturnedAnswer)
async def return_bag(
    store_id: str,
    order_id: str,
    body: ReturnBody,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """A bag came back: each line restocked or written off with a reason; the whole final amount is refunded."""
    await location_for(request, principal, store_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: _returned(fulfilment.return_bag(uow, store_id, order_id, body.lines, principal.key)),
    )
