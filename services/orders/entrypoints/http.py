"""HTTP routes of the orders service: place, read, list and cancel orders, answer the shop's questions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.orders.domain.approvals import ApprovalRefused, NoSuchLine
from services.orders.domain.basket import BasketProblem, Wanted
from services.orders.domain.delivery import PickupOfferRefused, open_pickup_offer
from services.orders.domain.ledger import BalanceTooSmall
from services.orders.domain.lines import OrderLine, SubstitutionChoice, SubstitutionMode
from services.orders.domain.order import Order
from services.orders.service_layer import delivery, fulfilment, ordering, payments
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal, Principal, require
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of
from shared.settings import Settings
from shared.vocabulary import geo
from shared.vocabulary.roles import Role

router = APIRouter(tags=["orders"])


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=300)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


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

    def checkout_args(self, settings: Settings) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "wanted": [
                Wanted(ln.product_id, ln.quantity, ln.substitution.choice() if ln.substitution else None)
                for ln in self.lines
            ],
            "fulfilment": {
                k: v for k, v in self.fulfilment.model_dump(mode="json").items() if not (k == "slot" and v is None)
            },
            "contact_phone": self.contact_phone,
            "on_behalf_of": self.on_behalf_of,
            "flags": self.flags.model_dump(),
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


def may_see_handover_code(viewer: Principal | None, order: Order) -> bool:
    """The code takes the bag: only the orderer and an admin see it, never the shop's staff or others."""
    if viewer is None:
        return False
    if viewer.role is Role.ADMIN:
        return True
    return viewer.role in (Role.SHOPPER, Role.HELPER) and order.is_visible_to_orderer(viewer.subject)


def is_orderer(viewer: Principal | None, order: Order) -> bool:
    return (
        viewer is not None
        and viewer.role in (Role.SHOPPER, Role.HELPER)
        and order.is_visible_to_orderer(viewer.subject)
    )


def may_see_delivery(viewer: Principal | None, order: Order) -> bool:
    """The rider, the promise and dispatch's steps: the orderer, admins and dispatchers; not the shop's staff."""
    return viewer is not None and (viewer.role in (Role.ADMIN, Role.DISPATCHER) or is_orderer(viewer, order))


def delivery_view(order: Order, viewer: Principal | None) -> dict[str, Any]:
    """What dispatch told us, for those who may see it; codes for the orderer's eyes (the delivery code: admins too)."""
    view: dict[str, Any] = {
        "delivery_code": order.delivery_code if order.delivery_code and may_see_handover_code(viewer, order) else None,
        "promised_at": None,
        "eta_door_at": None,
        "late_risk": None,
        "rider": None,
        "pickup_offer": None,
        "locker": None,
        "cash_collected_fen": None,
        "delivery_failed_reason": None,
    }
    if not may_see_delivery(viewer, order):
        return view
    t = order.tracking
    locker = dict(t.locker) if t.locker else None
    if (
        locker is not None
        and "code" in locker
        and not (is_orderer(viewer, order) and order.status.value == "IN_LOCKER")
    ):
        locker.pop("code")  # opens the compartment: the orderer's, and only while the bag is inside
    offer = open_pickup_offer(order)
    view.update(
        {
            "promised_at": t.promised_at.isoformat() if t.promised_at else None,
            "eta_door_at": t.eta_door_at.isoformat() if t.eta_door_at else None,
            "late_risk": t.late_risk if order.dispatched else None,
            "rider": {k: t.rider.get(k) for k in ("rider_id", "name", "vehicle", "assigned_at")} if t.rider else None,
            "pickup_offer": {k: offer.get(k) for k in ("reason", "answer_by", "offered_at")} if offer else None,
            "locker": locker,
            "cash_collected_fen": t.cash_collected_fen,
            "delivery_failed_reason": t.failure_reason,
        }
    )
    return view


def timeline_view(order: Order, viewer: Principal | None) -> list[dict[str, Any]]:
    """The timeline; dispatch's steps that moved nothing are left out for those who may not see the delivery."""
    hide_steps = not may_see_delivery(viewer, order)
    return [
        {"at": e.at.isoformat(), "status": e.status.value if e.status else None, "cause": e.cause, "detail": e.detail}
        for e in order.timeline
        if not (hide_steps and e.status is None and "step" in e.detail)
    ]


def line_view(ln: OrderLine) -> dict[str, Any]:
    return {
        "line_no": ln.line_no,
        "product_id": ln.product_id,
        "location_id": ln.location_id,
        "name_zh": ln.name_zh,
        "name_en": ln.name_en,
        "unit": ln.unit,
        "quantity": ln.quantity,
        "stock_quantity": ln.stock_quantity,
        "unit_price_fen": ln.unit_price_fen,
        "estimated_fen": ln.estimated_fen,
        "substitution": ln.substitution.as_dict(),
        "status": ln.status.value,
        "final_quantity": ln.final_quantity,
        "final_fen": ln.final_fen,
        "refund_fen": ln.refund_fen,
        "substitute": ln.substitute.as_dict() if ln.substitute else None,
        "pending_approval": ln.pending.as_dict() if ln.pending else None,
    }


def order_view(order: Order, viewer: Principal | None = None) -> dict[str, Any]:
    packed = order.packed
    money = order.money()
    return {
        "id": order.id,
        "status": order.status.value,
        "store_id": order.store_id,
        "placed_by": order.placed_by,
        "placed_for": order.placed_for,
        "contact_phone": order.contact_phone,
        "fulfilment": order.fulfilment,
        "note": order.note,
        "flags": order.flags,
        "total_fen": order.total_fen,
        "reject_reason": order.reject_reason,
        "reject_details": order.reject_details or None,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "final_fen": packed.final_fen if packed else None,
        "difference_fen": packed.difference_fen if packed else None,
        "refund_fen": order.refund_fen,
        "bags": packed.bags if packed else None,
        "weight_g": packed.weight_g if packed else None,
        "pickup_point": packed.pickup_point if packed else None,
        "handover_code": packed.handover_code if packed and may_see_handover_code(viewer, order) else None,
        "pending_approvals": [{"line_no": ln.line_no, **ln.pending.as_dict()} for ln in order.lines if ln.pending],
        "cancel_reason": order.cancel_reason,
        "payment": order.payment,
        "delivery_fee_fen": order.delivery_fee_fen,
        "platform_fee_fen": order.platform_fee_fen,
        "shown_fen": order.shown_fen,
        "slot": order.slot,
        "release_at": order.release_at.isoformat() if order.release_at else None,
        "ledger": {k: v for k, v in money.as_dict().items() if k in LEDGER_SUMMARY},
        **delivery_view(order, viewer),
        "lines": [line_view(ln) for ln in order.lines],
        "timeline": timeline_view(order, viewer),
    }


LEDGER_SUMMARY = (
    "shown_fen",
    "paid_fen",
    "final_fen",
    "refund_fen",
    "extra_charged_fen",
    "due_at_door_fen",
    "cash_collected_fen",
    "settled",
    "reconciles",
)

ORDER_ERRORS: dict[type[Exception], int] = {
    BasketProblem: 422,
    ordering.Forbidden: 403,
    ordering.NotFound: 404,
    NoSuchLine: 404,
    ApprovalRefused: 409,
    PickupOfferRefused: 409,
    BalanceTooSmall: 402,
    ordering.LockerFull: 409,
    payments.NotAllowed: 403,
    payments.BadTopUp: 422,
}

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("/orders", status_code=201, responses={409: {"description": "Idempotency-Key reused"}})
async def place(
    body: PlaceOrder,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    principal: Principal = Depends(require(Role.SHOPPER, Role.HELPER)),
) -> JSONResponse:
    """Place an order; send an Idempotency-Key so a retry returns this order instead of a second one."""
    key = check_key(idempotency_key, required=True)

    async def place_it(conn: Any) -> dict[str, Any]:
        order = await ordering.place_order(
            UnitOfWork(conn, correlation_id=request.headers.get("x-correlation-id")),
            principal,
            note=body.note,
            **body.checkout_args(runtime_of(request).settings),
        )
        return order_view(order, principal)

    status, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        key,
        request_hash("POST", "/orders", body.model_dump(mode="json")),
        place_it,
        ORDER_ERRORS,
        status=201,
    )
    return JSONResponse(response, status_code=status)


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
) -> dict[str, Any]:
    """The checkout total before placing: lines (weighed goods are estimates), fees, total, balance; stores nothing."""
    async with runtime_of(request).pool.acquire() as conn, conn.transaction(readonly=True):
        try:
            return await ordering.quote(UnitOfWork(conn), principal, **body.checkout_args(runtime_of(request).settings))
        except tuple(ORDER_ERRORS) as e:
            code = next(code for cls, code in ORDER_ERRORS.items() if isinstance(e, cls))
            raise HTTPException(code, str(e)) from e


@router.get("/orders")
async def list_orders(request: Request, principal: CurrentPrincipal, limit: int = 50) -> list[dict[str, Any]]:
    """The caller's own orders, newest first (for a helper: the orders they placed)."""
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise HTTPException(403, "only shoppers and helpers have orders of their own to list")
    async with runtime_of(request).pool.acquire() as conn:
        orders = await UnitOfWork(conn).orders.list_for(principal.subject, max(1, min(limit, 200)))
    return [order_view(o, principal) for o in orders]


@router.get("/orders/{order_id}")
async def get(order_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        try:
            order = await ordering.get_order(UnitOfWork(conn), principal, order_id)
        except ordering.NotFound as e:
            raise HTTPException(404, str(e)) from e
    return order_view(order, principal)


@router.get("/orders/{order_id}/ledger", responses={404: {"description": "no such order (that you can see)"}})
async def order_ledger(order_id: str, request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    """The order's money: shown, paid, final, refunded or charged extra, due and collected at the door, entries."""
    async with runtime_of(request).pool.acquire() as conn:
        uow = UnitOfWork(conn)
        try:
            order = await ordering.get_order(uow, principal, order_id)
        except ordering.NotFound as e:
            raise HTTPException(404, str(e)) from e
        return await payments.order_ledger(uow, order)


@router.get("/balance", tags=["money"], responses={403: {"description": "not a balance you may see"}})
async def balance(
    request: Request,
    principal: CurrentPrincipal,
    resident: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> dict[str, Any]:
    """The balance of the person ordered for and its entries, newest first (helpers: `?resident=`)."""
    async with runtime_of(request).pool.acquire() as conn:
        try:
            return await payments.balance_view(UnitOfWork(conn), principal, resident)
        except payments.NotAllowed as e:
            raise HTTPException(403, str(e)) from e


@router.post(
    "/balance/top-ups",
    tags=["money"],
    status_code=201,
    responses={
        403: {"description": "only an admin, or a helper for someone they help"},
        409: {"description": "Idempotency-Key reused"},
    },
)
async def top_up(
    body: TopUp, request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Money in at the service centre's cash desk (admin), or by a helper for their resident."""
    key = check_key(idempotency_key, required=True)

    async def top_it_up(conn: Any) -> dict[str, Any]:
        return await payments.top_up(UnitOfWork(conn), principal, body.holder, body.amount_fen, body.note)

    status, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        key,
        request_hash("POST", "/balance/top-ups", body.model_dump(mode="json")),
        top_it_up,
        ORDER_ERRORS,
        status=201,
    )
    return JSONResponse(response, status_code=status)


@router.get("/stores/{store_id}/slots", tags=["checkout"], responses={404: {"description": "no such shop"}})
async def delivery_slots(
    store_id: str,
    request: Request,
    _: CurrentPrincipal,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
) -> dict[str, Any]:
    """30-minute delivery windows for the next two days, each with its release time and whether it can be chosen."""
    settings = runtime_of(request).settings
    async with runtime_of(request).pool.acquire() as conn:
        try:
            return await ordering.delivery_slots(UnitOfWork(conn), store_id, geo.Point(lat, lon), settings.timezone)
        except ordering.NotFound as e:
            raise HTTPException(404, str(e)) from e


@router.post("/orders/{order_id}/cancel")
async def cancel(
    order_id: str, request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Cancel until the shop starts picking; the reservation is released by inventory."""
    key = check_key(idempotency_key, required=False)

    async def cancel_it(conn: Any) -> dict[str, Any]:
        return order_view(await ordering.cancel_order(UnitOfWork(conn), principal, order_id), principal)

    status, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        key,
        request_hash("POST", f"/orders/{order_id}/cancel", None),
        cancel_it,
        ORDER_ERRORS,
    )
    return JSONResponse(response, status_code=status)


@router.post(
    "/orders/{order_id}/lines/{line_no}/approval",
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
    key = check_key(idempotency_key, required=False)

    async def answer_it(conn: Any) -> dict[str, Any]:
        order = await fulfilment.answer_approval(UnitOfWork(conn), principal, order_id, line_no, body.accept)
        return order_view(order, principal)

    status, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        key,
        request_hash("POST", f"/orders/{order_id}/lines/{line_no}/approval", body.model_dump(mode="json")),
        answer_it,
        ORDER_ERRORS,
    )
    return JSONResponse(response, status_code=status)


@router.post(
    "/orders/{order_id}/pickup-offer",
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
    key = check_key(idempotency_key, required=False)

    async def answer_it(conn: Any) -> dict[str, Any]:
        order = await delivery.answer_pickup_offer(UnitOfWork(conn), principal, order_id, body.accept)
        return order_view(order, principal)

    status, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        key,
        request_hash("POST", f"/orders/{order_id}/pickup-offer", body.model_dump(mode="json")),
        answer_it,
        ORDER_ERRORS,
    )
    return JSONResponse(response, status_code=status)


@router.get("/catalog/products/{product_id}", tags=["catalog"])
async def catalog_product(product_id: str, request: Request, _: CurrentPrincipal) -> dict[str, Any]:
    """A product as the orders service knows it (its read model of inventory's catalog)."""
    async with runtime_of(request).pool.acquire() as conn:
        products = await UnitOfWork(conn).catalog.products([product_id])
    product = products.get(product_id)
    if product is None:
        raise HTTPException(404, f"orders does not know product {product_id!r} (yet)")
    return {
        "product_id": product.product_id,
        "store_id": product.store_id,
        "location_id": product.location_id,
        "name_zh": product.name_zh,
        "name_en": product.name_en,
        "unit": product.unit.value,
        "price_fen": product.price_fen,
        "grams_per_piece": product.grams_per_piece,
        "active": product.active,
    }
