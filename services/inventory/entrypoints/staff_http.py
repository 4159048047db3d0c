"""What the staff of a shop, stall or market do with orders: the queue, picking, packing,
the handover at the counter and returned bags. Each route parses, checks who may act on the
location in its path, and runs one use case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.changes import ERRORS, policy_of, run_change
from services.inventory.service_layer import fulfilment, queries
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal, require
from shared.events.contracts import HandoverTo, ReturnedLine
from shared.service import runtime_of
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


async def _read(request: Request, use_case: Any) -> Any:
    async with runtime_of(request).pool.acquire() as conn:
        try:
            return await use_case(UnitOfWork(conn))
        except tuple(ERRORS) as e:
            raise HTTPException(next(c for cls, c in ERRORS.items() if isinstance(e, cls)), str(e)) from e


@router.get("/stores/{location_id}/queue")
async def queue(location_id: str, request: Request, principal: Principal = Staff) -> list[dict[str, Any]]:
    """Parts waiting to be accepted (with the seconds left), accepted, being picked or packed, with their lines,
    handling flags and note. Slot orders appear here from their release time (before: /queue/scheduled)."""
    location = await location_for(request, principal, location_id)
    return await _read(request, lambda uow: queries.queue(uow, location))  # type: ignore[no-any-return]


@router.get("/stores/{location_id}/queue/scheduled")
async def scheduled(location_id: str, request: Request, principal: Principal = Staff) -> list[dict[str, Any]]:
    """Slot orders whose stock is held here, not in the live queue until their release time (soonest first)."""
    location = await location_for(request, principal, location_id)
    return await _read(request, lambda uow: queries.scheduled(uow, location))  # type: ignore[no-any-return]


@router.get("/stores/{location_id}/orders/{order_id}/pick-list")
async def pick_list(location_id: str, order_id: str, request: Request, principal: Principal = Staff) -> Any:
    """The order's lines here, grouped by stall, then by category; with every weight change and substitution."""
    await location_for(request, principal, location_id)
    return await _read(request, lambda uow: queries.pick_list(uow, location_id, order_id))


@router.post("/stores/{location_id}/orders/{order_id}/picking")
async def start_picking(
    location_id: str,
    order_id: str,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """Start picking an accepted part (the first start makes the order PICKING: no more cancelling)."""
    await location_for(request, principal, location_id)
    return await run_change(
        request,
        principal,
        idempotency_key,
        None,
        lambda uow: fulfilment.start_picking(uow, location_id, order_id, principal.key),
    )


@router.post("/stores/{location_id}/orders/{order_id}/lines/{line_no}/picked")
async def line_picked(
    location_id: str,
    order_id: str,
    request: Request,
    body: PickedBody | None = None,
    line_no: int = LineNo,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """In the bag as ordered; a weighed line needs weight_g, and is priced by it."""
    await location_for(request, principal, location_id)
    weight = body.weight_g if body else None
    return await run_change(
        request,
        principal,
        idempotency_key,
        {"weight_g": weight},
        lambda uow: fulfilment.pick_line(
            uow, location_id, order_id, line_no, weight, principal.key, policy_of(request)
        ),
    )


@router.post("/stores/{location_id}/orders/{order_id}/lines/{line_no}/out-of-stock")
async def line_out_of_stock(
    location_id: str,
    order_id: str,
    request: Request,
    line_no: int = LineNo,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """The line cannot be picked: it is refunded and its reservation released."""
    await location_for(request, principal, location_id)
    return await run_change(
        request,
        principal,
        idempotency_key,
        None,
        lambda uow: fulfilment.out_of_stock(uow, location_id, order_id, line_no, principal.key),
    )


@router.post("/stores/{location_id}/orders/{order_id}/lines/{line_no}/substitute")
async def line_substitute(
    location_id: str,
    order_id: str,
    body: SubstituteBody,
    request: Request,
    line_no: int = LineNo,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """Offer a substitute from the same shop or stall; the shopper's preference says whether they must approve."""
    await location_for(request, principal, location_id)
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: fulfilment.substitute(
            uow, location_id, order_id, line_no, body.product_id, body.quantity, principal.key, policy_of(request)
        ),
    )


@router.post("/stores/{location_id}/orders/{order_id}/packed")
async def packed(
    location_id: str,
    order_id: str,
    body: PackedBody,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """This shop's or stall's part is packed; when every remaining part is, the order is (with its handover code)."""
    await location_for(request, principal, location_id)
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: fulfilment.pack_part(uow, location_id, order_id, body.bags, body.weight_g, principal.key),
    )


@router.post("/stores/{store_id}/orders/{order_id}/handover")
async def handover(
    store_id: str,
    order_id: str,
    body: HandoverBody,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """The bag leaves with the rider or the shopper against the order's handover code; its stock is committed."""
    await location_for(request, principal, store_id)
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: fulfilment.hand_over(
            uow, store_id, order_id, body.code, body.to, principal.key, body.cash_collected_fen
        ),
    )


@router.post("/stores/{store_id}/orders/{order_id}/return")
async def return_bag(
    store_id: str,
    order_id: str,
    body: ReturnBody,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> Any:
    """A bag came back: each line restocked or written off with a reason; the whole final amount is refunded."""
    await location_for(request, principal, store_id)
    return await run_change(
        request,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda uow: fulfilment.return_bag(uow, store_id, order_id, body.lines, principal.key),
    )
