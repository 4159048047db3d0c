"""HTTP routes for after an order: order it again, and rate it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.orders.entrypoints.answers import JSON, RatingAnswer, ReorderAnswer
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer import ratings, reorder
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import CurrentPrincipal
from shared.requests import changed_once

router = APIRouter(tags=["following"])


class RatingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shop_stars: int | None = Field(None, ge=1, le=5, description="the shop: 1 (poor) to 5 (excellent)")
    rider_stars: int | None = Field(None, ge=1, le=5, description="the rider, if one carried the order")
    comment: str | None = Field(None, max_length=500)


@router.get("/orders/{order_id}/reorder", responses={404: {"description": "no such order (that you can see)"}})
async def order_again(order_id: str, request: Request, principal: CurrentPrincipal) -> ReorderAnswer:
    """A past order as a checkout body at today's prices and remembered preferences.

    `changes` lists what differs (price changed, product gone or out of stock, substitute gone);
    drop it and send the rest to `POST /orders/quote` or `POST /orders`.
    """
    async with unit_of_work(request, readonly=True) as uow:
        return ReorderAnswer.of(await reorder.reorder(uow, principal, order_id))


@router.post(
    "/orders/{order_id}/rating",
    status_code=201,
    response_model=RatingAnswer,
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

    async def rate_it(uow: OrdersUnitOfWork) -> JSON:
        rating = await ratings.rate(
            uow,
            principal,
            order_id,
            shop_stars=body.shop_stars,
            rider_stars=body.rider_stars,
            comment=body.comment,
        )
        return RatingAnswer.of(rating).model_dump(mode="json")

    return await changed_once(request, principal, idempotency_key, body.model_dump(mode="json"), rate_it, status=201)


@router.get("/orders/{order_id}/rating", responses={404: {"description": "no such order, or not rated yet"}})
async def get_rating(order_id: str, request: Request, principal: CurrentPrincipal) -> RatingAnswer:
    async with unit_of_work(request, readonly=True) as uow:
        return RatingAnswer.of(await ratings.rating_of(uow, principal, order_id))
