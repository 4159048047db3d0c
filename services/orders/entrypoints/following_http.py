"""HTTP routes for after an order: order it again, and rate it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.orders.adapters.following import Rating
from services.orders.service_layer import ordering, ratings, reorder
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of

router = APIRouter(tags=["following"])

ERRORS: dict[type[Exception], int] = {
    ordering.NotFound: 404,
    ordering.Forbidden: 403,
    ratings.RatingRefused: 409,
    ratings.RatingInvalid: 422,
}


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shop_stars: int | None = Field(None, ge=1, le=5, description="the shop: 1 (poor) to 5 (excellent)")
    rider_stars: int | None = Field(None, ge=1, le=5, description="the rider, if one carried the order")
    comment: str | None = Field(None, max_length=500)


def rating_view(r: Rating) -> dict[str, Any]:
    return {
        "order_id": r.order_id,
        "store_id": r.store_id,
        "shop_stars": r.shop_stars,
        "rider_id": r.rider_id,
        "rider_stars": r.rider_stars,
        "comment": r.comment,
        "rated_at": r.rated_at.isoformat(),
    }


@router.get("/orders/{order_id}/reorder", responses={404: {"description": "no such order (that you can see)"}})
async def order_again(order_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """A past order as a checkout body at today's prices and remembered preferences.

    `changes` lists what differs (price changed, product gone or out of stock, substitute gone);
    drop it and send the rest to `POST /orders/quote` or `POST /orders`.
    """
    async with runtime_of(request).pool.acquire() as conn:
        try:
            return await reorder.reorder(UnitOfWork(conn), principal, order_id)
        except tuple(ERRORS) as e:
            raise HTTPException(next(code for cls, code in ERRORS.items() if isinstance(e, cls)), str(e)) from e


@router.post(
    "/orders/{order_id}/rating",
    status_code=201,
    responses={
        403: {"description": "only the orderer rates"},
        404: {"description": "no such order (that you can see)"},
        409: {"description": "not handed over yet, or rated already"},
        422: {"description": "no stars, or rider_stars for an order no rider carried"},
    },
)
async def rate(
    order_id: str,
    body: RatingRequest,
    request: Request,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    """Rate a delivered or collected order, once: the shop, the rider who carried it, a comment."""
    key = check_key(idempotency_key, required=False)

    async def rate_it(conn: Any) -> dict[str, Any]:
        rating = await ratings.rate(
            UnitOfWork(conn, correlation_id=request.headers.get("x-correlation-id")),
            principal,
            order_id,
            shop_stars=body.shop_stars,
            rider_stars=body.rider_stars,
            comment=body.comment,
        )
        return rating_view(rating)

    status, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        key,
        request_hash("POST", f"/orders/{order_id}/rating", body.model_dump(mode="json")),
        rate_it,
        ERRORS,
        status=201,
    )
    return JSONResponse(response, status_code=status)


@router.get("/orders/{order_id}/rating", responses={404: {"description": "no such order, or not rated yet"}})
async def get_rating(order_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        try:
            rating = await ratings.rating_of(UnitOfWork(conn), principal, order_id)
        except ordering.NotFound as e:
            raise HTTPException(404, str(e)) from e
    if rating is None:
        raise HTTPException(404, f"order {order_id} is not rated yet; POST /orders/{order_id}/rating to rate it")
    return rating_view(rating)
