"""HTTP routes of the orders service: place, read, list and cancel orders."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.orders.domain.basket import BasketProblem, Wanted
from services.orders.domain.order import Order
from services.orders.service_layer import ordering
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal, Principal, require
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["orders"])


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=300)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["delivery"]
    address: Address


class Pickup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["pickup"]


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=999, description="pieces")


class PlaceOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_id: str = Field(min_length=1, max_length=100, description="a shop or a market")
    lines: list[LineRequest] = Field(min_length=1, max_length=100)
    fulfilment: Annotated[Delivery | Pickup, Field(discriminator="mode")]
    note: str | None = Field(None, max_length=500)
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    on_behalf_of: str | None = Field(None, min_length=1, max_length=100,
                                     description="helpers only: the resident the order is for")


def order_view(order: Order) -> dict[str, Any]:
    return {
        "id": order.id, "status": order.status.value, "store_id": order.store_id,
        "placed_by": order.placed_by, "placed_for": order.placed_for, "contact_phone": order.contact_phone,
        "fulfilment": order.fulfilment, "note": order.note, "total_fen": order.total_fen,
        "reject_reason": order.reject_reason, "reject_details": order.reject_details or None,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "lines": [{"line_no": ln.line_no, "product_id": ln.product_id, "location_id": ln.location_id,
                   "name_zh": ln.name_zh, "name_en": ln.name_en, "unit": ln.unit, "quantity": ln.quantity,
                   "stock_quantity": ln.stock_quantity, "unit_price_fen": ln.unit_price_fen,
                   "estimated_fen": ln.estimated_fen} for ln in order.lines],
        "timeline": [{"at": e.at.isoformat(), "status": e.status.value if e.status else None, "cause": e.cause,
                      "detail": e.detail} for e in order.timeline],
    }


ORDER_ERRORS: dict[type[Exception], int] = {BasketProblem: 422, ordering.Forbidden: 403, ordering.NotFound: 404}

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("/orders", status_code=201, responses={409: {"description": "Idempotency-Key reused"}})
async def place(body: PlaceOrder, request: Request, idempotency_key: IdempotencyKey = None,
                principal: Principal = Depends(require(Role.SHOPPER, Role.HELPER))) -> JSONResponse:
    """Place an order; send an Idempotency-Key so a retry returns this order instead of a second one."""
    key = check_key(idempotency_key, required=True)

    async def place_it(conn: Any) -> dict[str, Any]:
        order = await ordering.place_order(
            UnitOfWork(conn, correlation_id=request.headers.get("x-correlation-id")), principal,
            store_id=body.store_id, wanted=[Wanted(ln.product_id, ln.quantity) for ln in body.lines],
            fulfilment=body.fulfilment.model_dump(), note=body.note, contact_phone=body.contact_phone,
            on_behalf_of=body.on_behalf_of)
        return order_view(order)

    status, response = await change_once(runtime_of(request).pool, principal.key, key,
                                         request_hash("POST", "/orders", body.model_dump(mode="json")), place_it,
                                         ORDER_ERRORS, status=201)
    return JSONResponse(response, status_code=status)


@router.get("/orders")
async def list_orders(request: Request, principal: CurrentPrincipal, limit: int = 50) -> list[dict[str, Any]]:
    """The caller's own orders, newest first (for a helper: the orders they placed)."""
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise HTTPException(403, "only shoppers and helpers have orders of their own to list")
    async with runtime_of(request).pool.acquire() as conn:
        orders = await UnitOfWork(conn).orders.list_for(principal.subject, max(1, min(limit, 200)))
    return [order_view(o) for o in orders]


@router.get("/orders/{order_id}")
async def get(order_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        try:
            order = await ordering.get_order(UnitOfWork(conn), principal, order_id)
        except ordering.NotFound as e:
            raise HTTPException(404, str(e)) from e
    return order_view(order)


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: str, request: Request, principal: CurrentPrincipal,
                 idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """Cancel until the shop starts picking; the reservation is released by inventory."""
    key = check_key(idempotency_key, required=False)

    async def cancel_it(conn: Any) -> dict[str, Any]:
        return order_view(await ordering.cancel_order(UnitOfWork(conn), principal, order_id))

    status, response = await change_once(runtime_of(request).pool, principal.key, key,
                                         request_hash("POST", f"/orders/{order_id}/cancel", None), cancel_it,
                                         ORDER_ERRORS)
    return JSONResponse(response, status_code=status)


@router.get("/catalog/products/{product_id}", tags=["catalog"])
async def catalog_product(product_id: str, request: Request, _: CurrentPrincipal) -> dict[str, Any]:
    """A product as the orders service knows it (its read model of inventory's catalog)."""
    async with runtime_of(request).pool.acquire() as conn:
        products = await UnitOfWork(conn).catalog.products([product_id])
    product = products.get(product_id)
    if product is None:
        raise HTTPException(404, f"orders does not know product {product_id!r} (yet)")
    return {"product_id": product.product_id, "store_id": product.store_id, "location_id": product.location_id,
            "name_zh": product.name_zh, "name_en": product.name_en, "unit": product.unit.value,
            "price_fen": product.price_fen, "grams_per_piece": product.grams_per_piece, "active": product.active}
