"""What the orders routes answer: one pydantic model per JSON body, and the functions that shape them.

The service layer hands back domain objects and small result dataclasses; these functions turn
them into the JSON the shopper console (web/shopper.js) and the end-to-end tests read, applying
the visibility policy on the way. Times are ISO strings exactly as `datetime.isoformat` writes
them, and a field that is unknown is null, never left out (except the few keys noted below).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, model_serializer

from services.orders.domain import ledger
from services.orders.domain.delivery import open_pickup_offer
from services.orders.domain.discovery import NearbyLocker, busy_level
from services.orders.domain.helpers import NamedHelper, Resident
from services.orders.domain.lines import OrderLine, PendingApproval, SubstitutionChoice
from services.orders.domain.order import Order
from services.orders.domain.rating import Rating
from services.orders.domain.slots import Offered
from services.orders.domain.visibility import Viewer, visibility
from services.orders.service_layer.discovery import ProductFound, ShopServing
from services.orders.service_layer.ordering import DeliverySlots, Quote
from services.orders.service_layer.payments import Balance, OrderLedger, TopUp
from services.orders.service_layer.reorder import Change, Reorder
from shared.vocabulary.units import StockUnit

JSON = dict[str, Any]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


class Answer(BaseModel):
    """A JSON answer; keys named in `omitted_when_null` are left out rather than sent as null."""

    omitted_when_null: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_nulls(self, handler):  # type: ignore[no-untyped-def]
        data = handler(self)
        for name in self.omitted_when_null:
            if data.get(name) is None:
                data.pop(name, None)
        return data


# Orders


class Substitution(Answer):
    mode: str
    product_id: str | None

    @classmethod
    def of(cls, choice: SubstitutionChoice) -> Substitution:
        return cls(mode=choice.mode.value, product_id=choice.product_id)


class Question(Answer):
    """A question the shop asked the shopper on a line, and the answer once given."""

    kind: str
    deadline: str | None
    numbers: JSON
    answer: bool | None
    answered_by: str | None
    answered_at: str | None

    @classmethod
    def fields_of(cls, pending: PendingApproval) -> JSON:
        return {
            "kind": pending.kind.value,
            "deadline": _iso(pending.deadline),
            "numbers": pending.numbers.as_dict(),
            "answer": pending.answer,
            "answered_by": pending.answered_by,
            "answered_at": _iso(pending.answered_at),
        }


class LineQuestion(Question):
    line_no: int


class LineAnswer(Answer):
    line_no: int
    product_id: str
    location_id: str
    name_zh: str
    name_en: str
    unit: str
    quantity: int
    stock_quantity: int
    unit_price_fen: int
    estimated_fen: int
    substitution: Substitution
    status: str
    final_quantity: int | None
    final_fen: int | None
    refund_fen: int
    substitute: JSON | None
    pending_approval: Question | None

    @classmethod
    def of(cls, ln: OrderLine) -> LineAnswer:
        return cls(
            line_no=ln.line_no,
            product_id=ln.product_id,
            location_id=ln.location_id,
            name_zh=ln.name_zh,
            name_en=ln.name_en,
            unit=ln.unit,
            quantity=ln.quantity,
            stock_quantity=ln.stock_quantity,
            unit_price_fen=ln.unit_price_fen,
            estimated_fen=ln.estimated_fen,
            substitution=Substitution.of(ln.substitution),
            status=ln.status.value,
            final_quantity=ln.final_quantity,
            final_fen=ln.final_fen,
            refund_fen=ln.refund_fen,
            substitute=ln.substitute.as_dict() if ln.substitute else None,
            pending_approval=Question(**Question.fields_of(ln.pending)) if ln.pending else None,
        )


class TimelineAnswer(Answer):
    at: str
    status: str | None
    cause: str
    detail: JSON


class LedgerSummary(Answer):
    """The order's money in brief; GET /orders/{id}/ledger has it all."""

    shown_fen: int
    paid_fen: int
    final_fen: int | None
    refund_fen: int
    extra_charged_fen: int
    due_at_door_fen: int | None
    cash_collected_fen: int | None
    settled: bool
    reconciles: bool

    @classmethod
    def of(cls, m: ledger.Summary) -> LedgerSummary:
        return cls(
            shown_fen=m.shown_fen,
            paid_fen=m.paid_fen,
            final_fen=m.final_fen,
            refund_fen=m.refund_fen,
            extra_charged_fen=m.extra_charged_fen,
            due_at_door_fen=m.due_at_door_fen,
            cash_collected_fen=m.cash_collected_fen,
            settled=m.settled,
            reconciles=m.reconciles,
        )


class RiderAnswer(Answer):
    rider_id: Any = None
    name: Any = None
    vehicle: Any = None
    assigned_at: Any = None


class PickupOfferAnswer(Answer):
    reason: Any = None
    answer_by: Any = None
    offered_at: Any = None


class OrderAnswer(Answer):
    """An order as the asker may see it: codes, the rider and the locker only for those allowed."""

    id: str
    status: str
    store_id: str
    placed_by: str
    placed_for: str
    contact_phone: str | None
    fulfilment: JSON
    note: str | None
    flags: dict[str, bool]
    total_fen: int
    reject_reason: str | None
    reject_details: JSON | None
    created_at: str | None
    final_fen: int | None
    difference_fen: int | None
    refund_fen: int
    bags: int | None
    weight_g: int | None
    pickup_point: JSON | None
    handover_code: str | None
    pending_approvals: list[LineQuestion]
    cancel_reason: str | None
    payment: str
    delivery_fee_fen: int
    platform_fee_fen: int
    shown_fen: int
    slot: dict[str, str] | None
    release_at: str | None
    ledger: LedgerSummary
    delivery_code: str | None
    promised_at: str | None
    eta_door_at: str | None
    late_risk: bool | None
    rider: RiderAnswer | None
    pickup_offer: PickupOfferAnswer | None
    locker: JSON | None
    cash_collected_fen: int | None
    delivery_failed_reason: str | None
    lines: list[LineAnswer]
    timeline: list[TimelineAnswer]


def _delivery(order: Order, viewer: Viewer | None) -> JSON:
    """What dispatch told us, for those who may see it; codes for the orderer's eyes (the delivery code: admins too)."""
    sees = visibility(order, viewer)
    shown: JSON = {
        "delivery_code": order.delivery_code if order.delivery_code and sees.handover_code else None,
        "promised_at": None,
        "eta_door_at": None,
        "late_risk": None,
        "rider": None,
        "pickup_offer": None,
        "locker": None,
        "cash_collected_fen": None,
        "delivery_failed_reason": None,
    }
    if not sees.delivery:
        return shown
    t = order.tracking
    locker = dict(t.locker) if t.locker else None
    if locker is not None and not sees.locker_code:
        locker.pop("code", None)
    offer = open_pickup_offer(order)
    shown.update(
        {
            "promised_at": _iso(t.promised_at),
            "eta_door_at": _iso(t.eta_door_at),
            "late_risk": t.late_risk if order.dispatched else None,
            "rider": RiderAnswer(**{k: t.rider.get(k) for k in ("rider_id", "name", "vehicle", "assigned_at")})
            if t.rider
            else None,
            "pickup_offer": PickupOfferAnswer(**{k: offer.get(k) for k in ("reason", "answer_by", "offered_at")})
            if offer
            else None,
            "locker": locker,
            "cash_collected_fen": t.cash_collected_fen,
            "delivery_failed_reason": t.failure_reason,
        }
    )
    return shown


def order_answer(order: Order, viewer: Viewer | None = None) -> OrderAnswer:
    packed = order.packed
    sees = visibility(order, viewer)
    return OrderAnswer(
        id=order.id,
        status=order.status.value,
        store_id=order.store_id,
        placed_by=order.placed_by,
        placed_for=order.placed_for,
        contact_phone=order.contact_phone,
        fulfilment=order.fulfilment.as_dict(),
        note=order.note,
        flags=order.flags.model_dump(),
        total_fen=order.total_fen,
        reject_reason=order.reject_reason,
        reject_details=order.reject_details or None,
        created_at=_iso(order.created_at),
        final_fen=packed.final_fen if packed else None,
        difference_fen=packed.difference_fen if packed else None,
        refund_fen=order.refund_fen,
        bags=packed.bags if packed else None,
        weight_g=packed.weight_g if packed else None,
        pickup_point=packed.pickup_point if packed else None,
        handover_code=packed.handover_code if packed and sees.handover_code else None,
        pending_approvals=[
            LineQuestion(line_no=ln.line_no, **Question.fields_of(ln.pending)) for ln in order.lines if ln.pending
        ],
        cancel_reason=order.cancel_reason,
        payment=order.payment,
        delivery_fee_fen=order.delivery_fee_fen,
        platform_fee_fen=order.platform_fee_fen,
        shown_fen=order.shown_fen,
        slot=order.slot,
        release_at=_iso(order.release_at),
        ledger=LedgerSummary.of(order.money()),
        **_delivery(order, viewer),
        lines=[LineAnswer.of(ln) for ln in order.lines],
        timeline=[
            TimelineAnswer(
                at=e.at.isoformat(), status=e.status.value if e.status else None, cause=e.cause, detail=e.detail
            )
            for e in order.timeline
            if sees.shows(e)
        ],
    )


def order_json(order: Order, viewer: Viewer | None = None) -> JSON:
    """The order answer as stored with an Idempotency-Key and sent on the live stream."""
    return order_answer(order, viewer).model_dump(mode="json")


# Checkout


class QuoteLine(Answer):
    line_no: int
    product_id: str
    name_zh: str
    name_en: str
    unit: str
    quantity: int
    unit_price_fen: int
    estimated_fen: int
    estimate: bool  # weighed goods: the price is an estimate until the shop weighs them
    substitution: Substitution


class SlotAnswer(Answer):
    start: str
    end: str


class QuoteAnswer(Answer):
    store_id: str
    placed_for: str
    lines: list[QuoteLine]
    goods_fen: int
    delivery_fee_fen: int
    platform_fee_fen: int
    total_fen: int
    payment: str
    balance_fen: int | None
    balance_enough: bool | None
    due_at_door_fen: int | None
    fulfilment: JSON
    distance_m: int | None
    slot: SlotAnswer | None
    release_at: str | None
    promise_minutes: int | None

    @classmethod
    def of(cls, q: Quote) -> QuoteAnswer:
        c = q.checkout
        return cls(
            store_id=c.store.location_id,
            placed_for=c.placed_for,
            lines=[
                QuoteLine(
                    line_no=ln.line_no,
                    product_id=ln.product_id,
                    name_zh=ln.name_zh,
                    name_en=ln.name_en,
                    unit=ln.unit,
                    quantity=ln.quantity,
                    unit_price_fen=ln.unit_price_fen,
                    estimated_fen=ln.estimated_fen,
                    estimate=ln.unit == StockUnit.GRAM.value,
                    substitution=Substitution.of(ln.substitution),
                )
                for ln in c.lines
            ],
            goods_fen=c.goods_fen,
            delivery_fee_fen=c.fees.delivery_fee_fen,
            platform_fee_fen=c.fees.platform_fee_fen,
            total_fen=c.total_fen,
            payment=c.payment,
            balance_fen=q.balance_fen,
            balance_enough=q.balance_enough,
            due_at_door_fen=q.due_at_door_fen,
            fulfilment=c.fulfilment.as_dict(),
            distance_m=c.distance_m,
            slot=SlotAnswer(**c.slot.as_dict()) if c.slot else None,
            release_at=_iso(c.release_at),
            promise_minutes=q.promise_minutes,
        )


class OfferedSlot(Answer):
    start: str
    end: str
    release_at: str
    available: bool
    why: str | None

    @classmethod
    def of(cls, w: Offered) -> OfferedSlot:
        return cls(**w.slot.as_dict(), release_at=w.release_at.isoformat(), available=w.available, why=w.why)


class SlotsAnswer(Answer):
    store_id: str
    distance_m: int | None
    delivers_here: bool
    ride_minutes: int
    picking_minutes: int
    slots: list[OfferedSlot]

    @classmethod
    def of(cls, s: DeliverySlots) -> SlotsAnswer:
        return cls(
            store_id=s.store_id,
            distance_m=s.distance_m,
            delivers_here=s.delivers_here,
            ride_minutes=s.ride_minutes,
            picking_minutes=s.picking_minutes,
            slots=[OfferedSlot.of(w) for w in s.slots],
        )


class CatalogProductAnswer(Answer):
    product_id: str
    store_id: str
    location_id: str
    name_zh: str
    name_en: str
    unit: str
    price_fen: int
    grams_per_piece: int | None
    active: bool


# Money


class EntryAnswer(Answer):
    id: int
    holder: str
    order_id: str | None
    kind: str
    account: str
    amount_fen: int
    balance_after_fen: int | None
    note: str
    by: str
    at: str

    @classmethod
    def of(cls, e: ledger.Entry) -> EntryAnswer:
        return cls(
            id=e.id,
            holder=e.holder,
            order_id=e.order_id,
            kind=e.kind.value,
            account=e.account.value,
            amount_fen=e.amount_fen,
            balance_after_fen=e.balance_after_fen,
            note=e.note,
            by=e.by,
            at=e.at.isoformat(),
        )


def _entries(entries: Iterable[ledger.Entry]) -> list[EntryAnswer]:
    return [EntryAnswer.of(e) for e in entries]


class BalanceAnswer(Answer):
    holder: str
    balance_fen: int
    entries: list[EntryAnswer]

    @classmethod
    def of(cls, b: Balance) -> BalanceAnswer:
        return cls(holder=b.holder, balance_fen=b.balance_fen, entries=_entries(b.entries))


class TopUpAnswer(Answer):
    holder: str
    balance_fen: int | None
    amount_fen: int
    entries: list[EntryAnswer]

    @classmethod
    def of(cls, t: TopUp) -> TopUpAnswer:
        return cls(holder=t.holder, balance_fen=t.balance_fen, amount_fen=t.amount_fen, entries=_entries(t.entries))


class OrderLedgerAnswer(Answer):
    order_id: str
    payment: str
    shown_fen: int
    goods_shown_fen: int
    delivery_fee_fen: int
    platform_fee_fen: int
    paid_fen: int
    final_fen: int | None
    refund_fen: int
    extra_charged_fen: int
    due_at_door_fen: int | None
    cash_collected_fen: int | None
    settled: bool
    reconciles: bool
    entries: list[EntryAnswer]

    @classmethod
    def of(cls, o: OrderLedger) -> OrderLedgerAnswer:
        m = o.money
        return cls(
            order_id=o.order_id,
            payment=m.payment,
            shown_fen=m.shown_fen,
            goods_shown_fen=m.goods_shown_fen,
            delivery_fee_fen=m.fees.delivery_fee_fen,
            platform_fee_fen=m.fees.platform_fee_fen,
            paid_fen=m.paid_fen,
            final_fen=m.final_fen,
            refund_fen=m.refund_fen,
            extra_charged_fen=m.extra_charged_fen,
            due_at_door_fen=m.due_at_door_fen,
            cash_collected_fen=m.cash_collected_fen,
            settled=m.settled,
            reconciles=m.reconciles,
            entries=_entries(o.entries),
        )


# Following


class RatingAnswer(Answer):
    order_id: str
    store_id: str
    shop_stars: int | None
    rider_id: str | None
    rider_stars: int | None
    comment: str | None
    rated_at: str

    @classmethod
    def of(cls, r: Rating) -> RatingAnswer:
        return cls(
            order_id=r.order_id,
            store_id=r.store_id,
            shop_stars=r.shop_stars,
            rider_id=r.rider_id,
            rider_stars=r.rider_stars,
            comment=r.comment,
            rated_at=r.rated_at.isoformat(),
        )


class ReorderLineAnswer(Answer):
    product_id: str
    quantity: int
    substitution: Substitution


class ChangeAnswer(Answer):
    """What differs from the past order; the figures only for the kinds that have them."""

    omitted_when_null = frozenset({"was_fen", "now_fen", "unit", "substitute_product_id"})

    kind: str
    product_id: str
    name_zh: str
    name_en: str
    was_fen: int | None = None  # price_changed
    now_fen: int | None = None
    unit: str | None = None
    substitute_product_id: str | None = None  # substitute_gone
    message: str

    @classmethod
    def of(cls, c: Change) -> ChangeAnswer:
        return cls(
            kind=c.kind,
            product_id=c.product_id,
            name_zh=c.name_zh,
            name_en=c.name_en,
            was_fen=c.was_fen,
            now_fen=c.now_fen,
            unit=c.unit,
            substitute_product_id=c.substitute_product_id,
            message=c.message,
        )


class ReorderAnswer(Answer):
    """A checkout body (send it without `changes` to POST /orders/quote or POST /orders) and what changed."""

    omitted_when_null = frozenset({"on_behalf_of"})

    store_id: str
    lines: list[ReorderLineAnswer]
    fulfilment: JSON
    note: str | None
    payment: str
    on_behalf_of: str | None = None  # only when a helper orders again for someone
    changes: list[ChangeAnswer]

    @classmethod
    def of(cls, r: Reorder) -> ReorderAnswer:
        return cls(
            store_id=r.store_id,
            lines=[
                ReorderLineAnswer(
                    product_id=ln.product_id, quantity=ln.quantity, substitution=Substitution.of(ln.substitution)
                )
                for ln in r.lines
            ],
            fulfilment={k: v for k, v in r.fulfilment.as_dict().items() if v is not None},
            note=r.note,
            payment=r.payment,
            on_behalf_of=r.on_behalf_of,
            changes=[ChangeAnswer.of(c) for c in r.changes],
        )


# Help


class ResidentAnswer(Answer):
    resident_id: str
    name: str
    address: JSON | None
    phone: str | None
    call_before_delivery: bool
    pay_on_delivery: bool
    note: str | None
    helper: str
    created_at: str | None

    @classmethod
    def of(cls, r: Resident) -> ResidentAnswer:
        return cls(
            resident_id=r.resident_id,
            name=r.name,
            address=r.address.model_dump(mode="json") if r.address is not None else None,
            phone=r.phone,
            call_before_delivery=r.call_before_delivery,
            pay_on_delivery=r.pay_on_delivery,
            note=r.note,
            helper=r.helper,
            created_at=_iso(r.created_at),
        )


class NamedHelperAnswer(Answer):
    helper: str
    named_at: str

    @classmethod
    def of(cls, h: NamedHelper) -> NamedHelperAnswer:
        return cls(helper=h.helper, named_at=h.named_at.isoformat())


class HelperNamed(Answer):
    helper: str
    named: bool
    new: bool  # false when they were named already


class Preference(Answer):
    product_id: str
    substitution: Substitution


class PreferencesAnswer(Answer):
    holder: str
    preferences: list[Preference]

    @classmethod
    def of(cls, holder: str, remembered: dict[str, SubstitutionChoice]) -> PreferencesAnswer:
        return cls(
            holder=holder,
            preferences=[Preference(product_id=pid, substitution=Substitution.of(c)) for pid, c in remembered.items()],
        )


# Discovery


class Busy(Answer):
    open_orders: int
    level: str


class Stars(Answer):
    stars: float | None
    count: int


class StallAnswer(Answer):
    location_id: str
    name_zh: str
    name_en: str
    category: str
    open_now: bool


class ShopAnswer(Answer):
    """A shop or market serving the point; `no_rider` is present (true) only when dispatch has no rider free."""

    omitted_when_null = frozenset({"no_rider"})

    store_id: str
    kind: str
    category: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    distance_m: int
    walk_minutes: int
    delivers_here: bool
    open_now: bool
    opens_at: str | None
    closes_at: str | None
    paused: bool
    busy: Busy
    delivery_fee_fen: int
    promise_minutes: int | None
    ready_minutes: int | None
    rating: Stars
    stalls: list[StallAnswer]
    no_rider: bool | None = None  # pickup still works

    @classmethod
    def of(cls, s: ShopServing) -> ShopAnswer:
        f, quote = s.found, s.quote
        loc = f.shop.location
        return cls(
            store_id=loc.location_id,
            kind=loc.kind,
            category=f.shop.category,
            name_zh=loc.name_zh,
            name_en=loc.name_en,
            lat=f.shop.point.lat,
            lon=f.shop.point.lon,
            distance_m=f.reach.distance_m,
            walk_minutes=f.reach.walk_minutes,
            delivers_here=f.reach.delivers_here,
            open_now=f.state.open_now,
            opens_at=_iso(f.state.opens_at),
            closes_at=_iso(f.state.closes_at),
            paused=f.state.paused,
            busy=Busy(open_orders=s.open_orders, level=busy_level(s.open_orders).value),
            delivery_fee_fen=loc.delivery_fee_fen,
            promise_minutes=s.promise_minutes,
            ready_minutes=quote.ready_minutes if quote else None,
            rating=Stars(stars=s.rating[0], count=s.rating[1]) if s.rating else Stars(stars=None, count=0),
            stalls=[
                StallAnswer(
                    location_id=st.storefront.location_id,
                    name_zh=st.storefront.location.name_zh,
                    name_en=st.storefront.location.name_en,
                    category=st.storefront.category,
                    open_now=st.open_now,
                )
                for st in s.stalls
            ],
            no_rider=True if quote is not None and quote.rider_to_shop_minutes is None else None,
        )


class StallName(Answer):
    name_zh: str
    name_en: str


class SellerAnswer(Answer):
    """Who sells a product found; `stall` is present only for a market's stall."""

    omitted_when_null = frozenset({"stall"})

    store_id: str
    location_id: str
    name_zh: str
    name_en: str
    distance_m: int
    open_now: bool
    stall: StallName | None = None


class ProductAnswer(Answer):
    product_id: str
    name_zh: str
    name_en: str
    unit: str
    price_fen: int
    grams_per_piece: int | None
    availability: str
    shop: SellerAnswer

    @classmethod
    def of(cls, p: ProductFound) -> ProductAnswer:
        hit = p.hit
        return cls(
            product_id=hit.product_id,
            name_zh=hit.name_zh,
            name_en=hit.name_en,
            unit=hit.unit,
            price_fen=hit.price_fen,
            grams_per_piece=hit.grams_per_piece,
            availability=hit.availability,
            shop=SellerAnswer(
                store_id=hit.store_id,
                location_id=hit.location_id,
                name_zh=p.store.name_zh,
                name_en=p.store.name_en,
                distance_m=hit.distance_m,
                open_now=hit.open_now,
                stall=StallName(name_zh=p.stall.name_zh, name_en=p.stall.name_en) if p.stall else None,
            ),
        )


class LockerAnswer(Answer):
    site_id: str
    name: str
    lat: float
    lon: float
    distance_m: int
    walk_minutes: int
    free: dict[str, int]
    has_room: bool

    @classmethod
    def of(cls, n: NearbyLocker) -> LockerAnswer:
        return cls(
            site_id=n.site.site_id,
            name=n.site.name,
            lat=n.site.point.lat,
            lon=n.site.point.lon,
            distance_m=n.distance_m,
            walk_minutes=n.walk_minutes,
            free=n.site.free,
            has_room=n.site.has_room,
        )
