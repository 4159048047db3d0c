"""The counter's view of a group buy: what the deal holds, and after its cutoff one labelled bag per participant."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.inventory.domain.bag_packing import BagLabel, LinePacked
from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import deal_packing, group_buys
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.auth import Principal, require
from shared.requests import changed_once
from shared.vocabulary.roles import Role

router = APIRouter(tags=["group buying"])
Staff = Depends(require(Role.STORE_STAFF))
IdempotencyKey = Header(None, alias="Idempotency-Key")


class HeldLineAnswer(BaseModel):
    line_no: int
    product_id: str
    quantity: int = Field(description="held for the deal, in the product's unit (its cap until the cutoff)")


class BagItemAnswer(BaseModel):
    line_no: int
    product_id: str
    quantity: int
    price_fen: int


class PackedItemAnswer(BaseModel):
    line_no: int
    product_id: str
    outcome: str = Field(description="picked, or out_of_stock (not filled: refunded at the price paid)")
    pieces: int
    quantity: int = Field(description="in the bag, in the product's unit (grams if weighed)")
    estimated_fen: int = Field(description="what the participant paid for it")
    price_fen: int = Field(description="what it came to as packed")
    over_tolerance: bool = False


class BagAnswer(BaseModel):
    number: int = Field(description="the participant's number in the deal: on the bag's label")
    holder: str
    name: str = Field(description="the name on the label (the resident's, when a helper joined for them)")
    joined_by: str
    items: list[BagItemAnswer]
    goods_fen: int = Field(description="as paid at joining")
    packed: list[PackedItemAnswer] | None = Field(default=None, description="None until the counter packed it")
    packed_fen: int | None = Field(default=None, description="what the bag came to as packed")
    weight_g: int | None = None
    packed_by: str | None = None


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


class LinePackedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1)
    filled: Literal["filled", "not_filled"] = Field(
        description="not_filled: out of stock, refunded at the price paid (a share names no substitute, so the "
        "shop's rule asks the shopper before any: the counter cannot put one in)"
    )
    weight_g: int | None = Field(default=None, ge=1, description="for weighed goods: the grams the scale said")


class BagPackedBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[LinePackedBody] = Field(min_length=1, description="every line of the bag, once")
    weight_g: int | None = Field(default=None, ge=0, description="the bag's weight, if weighed whole")


class BagPackedAnswer(BaseModel):
    deal_id: str
    number: int
    items: list[PackedItemAnswer]
    estimated_fen: int = Field(description="as paid at joining")
    goods_fen: int = Field(description="as packed: the share is settled to this")
    refund_fen: int = Field(description="estimated − goods: negative when a weighed line came out heavier")
    weight_g: int
    bags_left: int = Field(description="bags still to pack; 0: the consolidated order is packed")
    order_final_fen: int | None = Field(description="the consolidated order's amount, once every bag is packed")


async def _bag_packed(deal_id: str, result: deal_packing.BagPacked) -> BagPackedAnswer:
    bag = result.bag
    return BagPackedAnswer(
        deal_id=deal_id,
        number=bag.number,
        items=[PackedItemAnswer.model_validate(i.as_dict()) for i in bag.items],
        estimated_fen=bag.estimated_fen,
        goods_fen=bag.goods_fen,
        refund_fen=bag.refund_fen,
        weight_g=bag.weight_g,
        bags_left=result.bags_left,
        order_final_fen=result.order_final_fen,
    )


@router.post(
    "/stores/{store_id}/group-buys/{deal_id}/bags/{number}/packed",
    response_model=BagPackedAnswer,
    responses={404: {"description": "no such deal or bag here"}, 409: {"description": "packed already, or not closed"}},
)
async def bag_packed(
    store_id: str,
    deal_id: str,
    body: BagPackedBody,
    request: Request,
    *,
    number: int = Path(ge=1),
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """Participant `number`'s bag is packed: each line filled (weighed goods with their grams) or not. Orders settles
    the share to what it came to (GroupBuyBagPacked); the last bag packs the consolidated order."""
    await location_for(request, principal, store_id)
    told = [LinePacked(ln.line_no, ln.filled, ln.weight_g) for ln in body.lines]

    async def change(uow: InventoryUnitOfWork) -> BagPackedAnswer:
        done = await deal_packing.pack_bag(uow, store_id, deal_id, number, told, principal.key, weight_g=body.weight_g)
        return await _bag_packed(deal_id, done)

    return await changed_once(request, principal, idempotency_key, body.model_dump(), change)


class LabelItemAnswer(BaseModel):
    line_no: int
    name_zh: str
    name_en: str
    pieces: int
    unit: str
    quantity: int | None = Field(description="in the bag once packed (grams if weighed); None before")
    filled: bool | None = Field(description="None before packing")


class LabelAnswer(BaseModel):
    number: int = Field(description="the participant's number in the deal")
    of: int = Field(description="how many bags the deal has")
    name: str = Field(description="the participant's name, or the resident's when a helper joined for them")
    helper: str | None = Field(description="the helper who joined for the resident")
    items: list[LabelItemAnswer]
    packed: bool
    goods_fen: int
    note: str | None


class LabelsAnswer(BaseModel):
    deal_id: str
    labels: list[LabelAnswer]


def _label(label: BagLabel) -> LabelAnswer:
    return LabelAnswer(
        number=label.number,
        of=label.of,
        name=label.name,
        helper=label.helper,
        items=[LabelItemAnswer(**{**vars(i), "unit": i.unit.value}) for i in label.items],
        packed=label.packed,
        goods_fen=label.goods_fen,
        note=label.note,
    )


@router.get(
    "/stores/{store_id}/group-buys/{deal_id}/labels",
    responses={404: {"description": "no such deal here"}, 409: {"description": "no bags before the cutoff"}},
)
async def bag_labels(store_id: str, deal_id: str, request: Request, principal: Principal = Staff) -> LabelsAnswer:
    """One label per participant's bag, to print: the name, the number in the deal, the contents."""
    await location_for(request, principal, store_id)
    async with unit_of_work(request, readonly=True) as uow:
        labels = await deal_packing.labels(uow, store_id, deal_id)
    return LabelsAnswer(deal_id=deal_id, labels=[_label(x) for x in labels])


class DealListed(BaseModel):
    deal_id: str
    status: str
    bags: int
    packed: int
    note: str | None


@router.get("/stores/{store_id}/group-buys")
async def deals_here(store_id: str, request: Request, principal: Principal = Staff) -> list[DealListed]:
    """The group buys whose consolidated order this shop packs (closed deals, newest first)."""
    await location_for(request, principal, store_id)
    async with unit_of_work(request, readonly=True) as uow:
        rows = await uow.deal_stock.ordered_at(store_id)
    return [DealListed(**r) for r in rows]
