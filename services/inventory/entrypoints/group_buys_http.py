"""The counter's view of a group buy: what the deal holds, and after its cutoff one labelled bag per participant."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import group_buys
from shared.auth import Principal, require
from shared.vocabulary.roles import Role

router = APIRouter(tags=["group buying"])
Staff = Depends(require(Role.STORE_STAFF))


class HeldLineAnswer(BaseModel):
    line_no: int
    product_id: str
    quantity: int = Field(description="held for the deal, in the product's unit (its cap until the cutoff)")


class BagItemAnswer(BaseModel):
    line_no: int
    product_id: str
    quantity: int
    price_fen: int


class BagAnswer(BaseModel):
    number: int = Field(description="the participant's number in the deal: on the bag's label")
    holder: str
    name: str = Field(description="the name on the label (the resident's, when a helper joined for them)")
    joined_by: str
    items: list[BagItemAnswer]
    goods_fen: int


class DealStockAnswer(BaseModel):
    deal_id: str
    store_id: str
    status: str = Field(description="held, refused, released, or ordered (the consolidated order, id = deal_id)")
    reason: str | None
    lines: list[HeldLineAnswer]
    bags: list[BagAnswer] = Field(description="the packing list, once the cutoff closed the deal")


@router.get("/stores/{store_id}/group-buys/{deal_id}", responses={404: {"description": "no such deal here"}})
async def deal_stock(store_id: str, deal_id: str, request: Request, principal: Principal = Staff) -> DealStockAnswer:
    """What the deal holds here and, after its cutoff, the bags to pack and label (the order is `deal_id`)."""
    await location_for(request, principal, store_id)
    async with unit_of_work(request, readonly=True) as uow:
        stock, bags = await group_buys.deal_at(uow, store_id, deal_id)
    return DealStockAnswer(
        deal_id=stock.deal_id,
        store_id=stock.store_id,
        status=stock.status.value,
        reason=stock.reason,
        lines=[
            HeldLineAnswer(line_no=ln.line_no, product_id=ln.product_id, quantity=ln.quantity) for ln in stock.lines
        ],
        bags=[BagAnswer.model_validate(b) for b in bags],
    )
