"""HTTP routes of the orders service: place, read, list and cancel orders, answer the shop's questions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from services.orders.domain.basket import Wanted
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import SubstitutionChoice, SubstitutionMode
from services.orders.entrypoints.answers import (
    JSON,
    BalanceAnswer,
    CatalogProductAnswer,
    OrderAnswer,
    OrderLedgerAnswer,
    QuoteAnswer,
    SlotsAnswer,
    TopUpAnswer,
    order_answer,
    order_json,
)
from services.orders.service_layer import addresses, delivery, fulfilment, ordering, payments
from services.orders.service_layer.reading import get_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared import requests
from shared.auth import CurrentPrincipal, Principal, require
from shared.errors import Forbidden, NotFound
from shared.events.contracts import HandlingFlags
from shared.requests import changed_once
from shared.service import runtime_of
from shared.settings import Settings
from shared.vocabulary import geo
from shared.vocabulary.roles import Role

router = APIRouter(tags=["orders"])


class Address(BaseModel):
    """A building of the circle's address book with unit and room (GET /addresses/buildings finds
    it; the building gives the point), or any address as text with its point (a home outside the book)."""

    model_config = ConfigDict(extra="forbid")
    building_id: str | None = Field(
        None, min_length=1, max_length=200, description="a building of the address book, e.g. 'gulou-garden/3'"
    )
    unit: str | None = Field(None, max_length=100, description="with building_id: the unit (单元), if it has units")
    room: str | None = Field(None, max_length=100, description="with building_id: the room (室), e.g. '502'")
    text: str | None = Field(None, min_length=1, max_length=300, description="without building_id: the address")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)

    @model_validator(mode="after")
    def _building_or_point(self) -> Address:
        if self.building_id:
            if not self.room:
                raise ValueError('with building_id, give the room (室) too, e.g. "room": "502"')
            if self.text is not None or self.lat is not None or self.lon is not None:
                raise ValueError("give building_id with unit and room, or text with lat and lon, not both")
        elif self.text is None or self.lat is None or self.lon is None:
            raise ValueError(
                "give building_id (from GET /addresses/buildings) with unit and room, or text with lat and lon"
            )
        elif self.unit is not None or self.room is not None:
            raise ValueError("unit and room go with building_id; outside the address book, put them in text")
        return self

    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Only the fields given: a point address dumps as before, so stored Idempotency-Keys still match."""
        return {k: v for k, v in handler(self).items() if v is not None}


class SlotRequest(BaseModel):
    """A window for the bag to arrive: 15 minutes to 2 hours, far enough ahead to pick and ride."""

    model_config = ConfigDict(extra="forbid")
    start: datetime
    end: datetime


class Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["delivery"]
    address: Address | None = Field(default=None, description="optional for a helper's resident: their address")
    slot: SlotRequest | None = Field(default=None, description="a chosen window; without one, as soon as possible")


class Pickup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["pickup"]


class Locker(BaseModel):
    """Delivered to a parcel locker: dispatch owns the sites (`GET /lockers` on dispatch lists them).

    Orders checks only the site id's form; dispatch decides whether the site exists and has room.
    """

    model_config = ConfigDict(extra="forbid")
    mode: Literal["locker"]
    site_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="a locker site, as dispatch names it",
    )
    address: Address | None = Field(default=None, description="optional: the locker site is the drop point")


class SubstitutionRequest(BaseModel):
    """What the shop may do if the line cannot be picked as ordered."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["none", "best_match", "product"] = "none"
    product_id: str | None = Field(
        default=None, min_length=1, max_length=100, description="for mode 'product': a product of the same store"
    )

    @model_validator(mode="after")
    def _product_only_for_product_mode(self) -> SubstitutionRequest:
        if self.mode == "product" and not self.product_id:
            raise ValueError("mode 'product' needs the product_id of the substitute")
        if self.mode != "product" and self.product_id:
            raise ValueError(f"product_id is only for mode 'product', not {self.mode!r}")
        return self

    def choice(self) -> SubstitutionChoice:
        return SubstitutionChoice(SubstitutionMode(self.mode), self.product_id)


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=999, description="pieces")
    substitution: SubstitutionRequest | None = Field(
        default=None,
        description="omitted: the choice remembered for this product for the person ordered for, else none",
    )


class Flags(BaseModel):
    """What the shop and the rider must know about this resident."""

    model_config = ConfigDict(extra="forbid")
    call_before_delivery: bool = False
    pay_on_delivery: bool = False


class PlaceOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_id: str = Field(min_length=1, max_length=100, description="a shop or a market")
    lines: list[LineRequest] = Field(min_length=1, max_length=100)
    fulfilment: Annotated[Delivery | Pickup | Locker, Field(discriminator="mode")]
    note: str | None = Field(None, max_length=500)
    contact_phone: str | None = Field(None, pattern=r"^\+?[0-9][0-9 -]{5,19}$")
    on_behalf_of: str | None = Field(
        None, min_length=1, max_length=100, description="helpers only: the resident the order is for"
    )
    flags: Flags = Flags()
    payment: Literal["balance", "on_delivery"] | None = Field(
        default=None,
        description="'balance' (prepaid, the default) or 'on_delivery' (cash at the door; delivery "
        "only); a helped resident's preference may make on_delivery their default",
    )

    def checkout_args(self, settings: Settings, fulfilment: dict[str, Any]) -> dict[str, Any]:
        """What checkout takes, with the fulfilment's address settled (`addresses.settled_fulfilment`)."""
        return {
            "store_id": self.store_id,
            "wanted": [
                Wanted(ln.product_id, ln.quantity, ln.substitution.choice() if ln.substitution else None)
                for ln in self.lines
            ],
            "fulfilment": Fulfilment.from_dict(fulfilment),
            "contact_phone": self.contact_phone,
            "on_behalf_of": self.on_behalf_of,
            "flags": HandlingFlags(**self.flags.model_dump()),
            "payment": self.payment,
            "platform_fee_fen": settings.platform_fee_fen,
            "timezone": settings.timezone,
        }


class TopUp(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holder: str = Field(min_length=1, max_length=100, description="a shopper's subject or a resident's id")
    amount_fen: int = Field(ge=1, le=payments.MAX_TOP_UP_FEN)
    note: str | None = Field(None, max_length=200)


class ApprovalAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool


class PickupOfferAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool = Field(description="true: collect the order at the shop's counter; false: cancel it")


def unit_of_work(request: Request, *, readonly: bool = False) -> OrdersUnitOfWork:
    """The orders unit of work for one request, carrying the caller's correlation id into its events."""
    uow = requests.unit_of_work(request, readonly=readonly)
    assert isinstance(uow, OrdersUnitOfWork)
    return uow


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderAnswer,
    responses={409: {"description": "Idempotency-Key reused"}},
)
async def place(
    body: PlaceOrder,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    principal: Principal = Depends(require(Role.SHOPPER, Role.HELPER)),
) -> JSONResponse:
    """Place an order; send an Idempotency-Key so a retry returns this order instead of a second one."""
    settings = runtime_of(request).settings

    async def place_it(uow: OrdersUnitOfWork) -> JSON:
        settled = await addresses.settled_fulfilment(uow, body.fulfilment.model_dump(mode="json"))
        order = await ordering.place_order(uow, principal, note=body.note, **body.checkout_args(settings, settled))
        return order_json(order, principal)

    return await changed_once(
        request, principal, idempotency_key, body.model_dump(mode="json"), place_it, status=201, key_required=True
    )


@router.post(
    "/orders/quote",
    responses={
        402: {"description": "prepaid, and the balance is too small"},
        409: {"description": "the locker site has no free compartment"},
        422: {"description": "what POST /orders would refuse"},
    },
)
async def quote(
    body: PlaceOrder, request: Request, principal: Principal = Depends(require(Role.SHOPPER, Role.HELPER))
) -> QuoteAnswer:
    """The checkout total before placing: lines (weighed goods are estimates), fees, total, balance; stores nothing."""
    async with unit_of_work(request, readonly=True) as uow:
        settled = await addresses.settled_fulfilment(uow, body.fulfilment.model_dump(mode="json"))
        quoted = await ordering.quote(uow, principal, **body.checkout_args(runtime_of(request).settings, settled))
    return QuoteAnswer.of(quoted)


@router.get("/orders")
async def list_orders(request: Request, principal: CurrentPrincipal, limit: int = 50) -> list[OrderAnswer]:
    """The caller's own orders, newest first (for a helper: the orders they placed)."""
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise Forbidden("only shoppers and helpers have orders of their own to list")
    async with unit_of_work(request, readonly=True) as uow:
        orders = await uow.orders.list_for(principal.subject, max(1, min(limit, 200)))
    return [order_answer(o, principal) for o in orders]


@router.get("/orders/{order_id}", responses={404: {"description": "no such order (that you can see)"}})
async def get(order_id: str, request: Request, principal: CurrentPrincipal) -> OrderAnswer:
    async with unit_of_work(request, readonly=True) as uow:
        order = await get_order(uow, principal, order_id)
    return order_answer(order, principal)


@router.get("/orders/{order_id}/ledger", responses={404: {"description": "no such order (that you can see)"}})
async def order_ledger(order_id: str, request: Request, principal: CurrentPrincipal) -> OrderLedgerAnswer:
    """The order's money: shown, paid, final, refunded or charged extra, due and collected at the door, entries."""
    async with unit_of_work(request, readonly=True) as uow:
        order = await get_order(uow, principal, order_id)
        money = await payments.order_ledger(uow, order)
    return OrderLedgerAnswer.of(money)


@router.get("/balance", tags=["money"], responses={403: {"description": "not a balance you may see"}})
async def balance(
    request: Request,
    principal: CurrentPrincipal,
    resident: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> BalanceAnswer:
    """The balance of the person ordered for and its entries, newest first (helpers: `?resident=`)."""
    async with unit_of_work(request, readonly=True) as uow:
        return BalanceAnswer.of(await payments.balance_of(uow, principal, resident))


@router.post(
    "/balance/top-ups",
    tags=["money"],
    status_code=201,
    response_model=TopUpAnswer,
    responses={
        403: {"description": "only an admin, or a helper for someone they help"},
        409: {"description": "Idempotency-Key reused"},
    },
)
async def top_up(
    body: TopUp, request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Money in at the service centre's cash desk (admin), or by a helper for their resident."""

    async def top_it_up(uow: OrdersUnitOfWork) -> JSON:
        topped = await payments.top_up(uow, principal, body.holder, body.amount_fen, body.note)
        return TopUpAnswer.of(topped).model_dump(mode="json")

    return await changed_once(
        request, principal, idempotency_key, body.model_dump(mode="json"), top_it_up, status=201, key_required=True
    )


@router.get("/stores/{store_id}/slots", tags=["checkout"], responses={404: {"description": "no such shop"}})
async def delivery_slots(
    store_id: str,
    request: Request,
    _: CurrentPrincipal,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
) -> SlotsAnswer:
    """30-minute delivery windows for the next two days, each with its release time and whether it can be chosen."""
    timezone = runtime_of(request).settings.timezone
    async with unit_of_work(request, readonly=True) as uow:
        return SlotsAnswer.of(await ordering.delivery_slots(uow, store_id, geo.Point(lat, lon), timezone))


@router.post("/orders/{order_id}/cancel", response_model=OrderAnswer)
async def cancel(
    order_id: str, request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Cancel until the shop starts picking; the reservation is released by inventory."""

    async def cancel_it(uow: OrdersUnitOfWork) -> JSON:
        return order_json(await ordering.cancel_order(uow, principal, order_id), principal)

    return await changed_once(request, principal, idempotency_key, None, cancel_it)


@router.post(
    "/orders/{order_id}/lines/{line_no}/approval",
    response_model=OrderAnswer,
    responses={
        404: {"description": "no such order (that you can see) or line"},
        409: {"description": "nothing waits for an answer on this line, or it was answered"},
    },
)
async def approve(
    order_id: str,
    line_no: int,
    body: ApprovalAnswer,
    request: Request,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Answer the shop's question on a line (a heavier weight, a substitute): accept or decline.

    The answer goes to the shop as ApprovalGiven; the question stays on the line, marked
    answered, until the shop settles it.
    """

    async def answer_it(uow: OrdersUnitOfWork) -> JSON:
        order = await fulfilment.answer_approval(uow, principal, order_id, line_no, body.accept)
        return order_json(order, principal)

    return await changed_once(request, principal, idempotency_key, body.model_dump(mode="json"), answer_it)


@router.post(
    "/orders/{order_id}/pickup-offer",
    response_model=OrderAnswer,
    responses={
        403: {"description": "only the orderer answers"},
        404: {"description": "no such order (that you can see)"},
        409: {"description": "no open pickup offer: none, answered, past answer_by, or moved on"},
    },
)
async def answer_pickup_offer(
    order_id: str,
    body: PickupOfferAnswer,
    request: Request,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """No rider took the order in time: collect it at the shop's counter instead (accept), or let it be cancelled.

    Accepted, the order becomes a pickup order (READY_FOR_PICKUP once packed; show the handover
    code at the counter). Declined, dispatch abandons the delivery and the order is cancelled.
    """

    async def answer_it(uow: OrdersUnitOfWork) -> JSON:
        order = await delivery.answer_pickup_offer(uow, principal, order_id, body.accept)
        return order_json(order, principal)

    return await changed_once(request, principal, idempotency_key, body.model_dump(mode="json"), answer_it)


@router.get("/catalog/products/{product_id}", tags=["catalog"], responses={404: {"description": "not known (yet)"}})
async def catalog_product(product_id: str, request: Request, _: CurrentPrincipal) -> CatalogProductAnswer:
    """A product as the orders service knows it (its read model of inventory's catalog)."""
    async with unit_of_work(request, readonly=True) as uow:
        products = await uow.catalog.products([product_id])
    product = products.get(product_id)
    if product is None:
        raise NotFound(f"orders does not know product {product_id!r} (yet)")
    return CatalogProductAnswer(
        product_id=product.product_id,
        store_id=product.store_id,
        location_id=product.location_id,
        name_zh=product.name_zh,
        name_en=product.name_en,
        unit=product.unit.value,
        price_fen=product.price_fen,
        grams_per_piece=product.grams_per_piece,
        active=product.active,
    )
