"""Use cases of the orders service: placing and cancelling, and reacting to the shop's stock.

Each function runs inside a unit of work, so the state change and the events that announce it
commit together or not at all.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.orders.domain import discovery, helpers, ledger, settlement, slots
from services.orders.domain.basket import BasketProblem, CatalogLocation, Wanted, check_open, price_basket
from services.orders.domain.delivery import promise_placed
from services.orders.domain.discovery import LockerSite
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import OrderLine
from services.orders.domain.order import Order
from services.orders.domain.placing import Placement, PlacingAsk, PlacingNeeds
from services.orders.service_layer import payments, residents
from services.orders.service_layer.reading import get_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, NotFound
from shared.events.contracts import (
    DeliverySlot,
    HandlingFlags,
    OrderAccepted,
    OrderCancelled,
    OrderConfirmed,
    OrderedLine,
    OrderPlaced,
    OrderRejected,
    ShopAccepted,
    ShopRejected,
    StockRejected,
    StockReleased,
    StockReserved,
    SubstitutionPreference,
)
from shared.events.envelope import RawEnvelope
from shared.vocabulary import geo
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus, RejectReason, can_move
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit


def new_delivery_code() -> str:
    """Six random digits the shopper gives the rider at the door (or that dispatch checks for a locker)."""
    return f"{secrets.randbelow(1_000_000):06d}"


class LockerFull(Conflict):
    """The read model shows no free compartment at the chosen locker site; the message names the nearest with room."""


@dataclass
class Checkout:
    """Everything placing an order decides before it stores anything; POST /orders/quote shows it."""

    placed_for: str
    store: CatalogLocation
    lines: list[OrderLine]
    fulfilment: Fulfilment
    payment: ledger.Payment
    fees: ledger.Fees
    flags: HandlingFlags
    contact_phone: str | None
    slot: slots.Slot | None = None
    release_at: datetime | None = None
    distance_m: int | None = None
    given: list[int] = field(default_factory=list)  # line numbers whose substitution the request gave

    @property
    def goods_fen(self) -> int:
        return sum(ln.estimated_fen for ln in self.lines)

    @property
    def total_fen(self) -> int:
        return self.goods_fen + self.fees.total_fen

    @property
    def prepaid(self) -> bool:
        return self.payment == "balance"


@dataclass(frozen=True)
class Quote:
    """The checkout as POST /orders/quote answers it: what placing would decide, and the balance it meets."""

    checkout: Checkout
    balance_fen: int | None  # prepaid only
    promise_minutes: int | None

    @property
    def balance_enough(self) -> bool | None:
        if not self.checkout.prepaid:
            return None
        return self.balance_fen is not None and self.balance_fen >= self.checkout.total_fen

    @property
    def due_at_door_fen(self) -> int | None:
        return None if self.checkout.prepaid else self.checkout.total_fen


@dataclass(frozen=True)
class DeliverySlots:
    """The windows a delivery from one shop to one door could be booked for."""

    store_id: str
    distance_m: int | None
    delivers_here: bool
    ride_minutes: int
    picking_minutes: int
    slots: list[slots.Offered]


async def checkout(  # noqa: PLR0913 (a checkout request, each part by name)
    uow: OrdersUnitOfWork,
    principal: Principal,
    *,
    store_id: str,
    wanted: list[Wanted],
    fulfilment: Fulfilment,
    contact_phone: str | None,
    on_behalf_of: str | None,
    timezone: str,
    flags: HandlingFlags = HandlingFlags(),
    payment: ledger.Payment | None = None,
    platform_fee_fen: int = 0,
    placing: bool = False,
) -> tuple[Checkout, PlacingNeeds]:
    """Decide everything about an order without storing it; each refusal says what to do instead.

    Everything it decides on is read in one go (`uow.placing.needs`), the balance locked until
    commit when `placing` an order that may be prepaid. A store or stall closed or paused now is
    refused, naming when it opens; a slot order is checked against the hours at its release
    time instead. Inventory and dispatch check again when the order reaches them, since a change
    may still be on its way to us.
    """
    at = uow.now()
    holder = residents.placed_for(principal, on_behalf_of)
    mode = fulfilment.mode
    named = [w.substitution.product_id for w in wanted if w.substitution is not None and w.substitution.product_id]
    needs = await uow.placing.needs(
        PlacingAsk(
            placed_for=holder,
            store_id=store_id,
            product_ids=[w.product_id for w in wanted] + named,
            open_ids=[w.product_id for w in wanted if w.substitution is None],
            helper=principal.subject if principal.role is Role.HELPER else None,
            locker_site_id=str(fulfilment.site_id) if mode is FulfilmentMode.LOCKER else None,
            lock_balance=placing and (payment == "balance" or (payment is None and not flags.pay_on_delivery)),
        )
    )
    orderer = residents.orderer(principal, holder, needs)
    if mode is FulfilmentMode.DELIVERY and not fulfilment.address:
        if not orderer.address:
            raise BasketProblem(["a delivery needs fulfilment.address (text, lat, lon), or choose pickup"])
        fulfilment = fulfilment.with_address(orderer.address)
    given = {w.product_id for w in wanted if w.substitution is not None}
    wanted = [
        w if w.substitution is not None else replace(w, substitution=needs.remembered.get(w.product_id)) for w in wanted
    ]
    store = needs.locations.get(store_id)
    lines = price_basket(store, store_id, wanted, needs.products)
    assert store is not None  # price_basket refuses an unknown store
    drawn_on = [
        needs.locations[i] for i in sorted({store_id} | {ln.location_id for ln in lines}) if i in needs.locations
    ]
    chosen: ledger.Payment = payment or (
        "on_delivery"
        if flags.pay_on_delivery or (orderer.pay_on_delivery_default and mode is FulfilmentMode.DELIVERY)
        else "balance"
    )
    try:
        ledger.check_payment(chosen, mode)
    except ledger.PaymentRefused as e:
        raise BasketProblem([str(e)]) from e
    # A resident's "call first" cannot be switched off by accident; paying at the door is the payment chosen.
    handling = helpers.merged_flags(flags, orderer.flags).model_copy(
        update={"pay_on_delivery": chosen == "on_delivery"}
    )
    result = Checkout(
        placed_for=orderer.placed_for,
        store=store,
        lines=lines,
        fulfilment=fulfilment,
        payment=chosen,
        fees=ledger.Fees(ledger.delivery_fee_for(mode, store.delivery_fee_fen), platform_fee_fen),
        flags=handling,
        contact_phone=contact_phone or orderer.phone,
        given=[ln.line_no for ln in lines if ln.product_id in given],
    )
    if mode is FulfilmentMode.DELIVERY:
        _check_door(result, drawn_on, at, timezone)
    else:
        if fulfilment.slot:
            raise BasketProblem([f"a slot is for delivery to the door, not {mode}"])
        check_open(drawn_on, at, timezone)
    if mode is FulfilmentMode.LOCKER:
        _check_locker(str(fulfilment.site_id), needs.locker_sites)
    return result, needs


def _check_door(result: Checkout, drawn_on: Iterable[CatalogLocation], at: datetime, timezone: str) -> None:
    """Inside the delivery radius (by street); a slot kept by its release time and the hours then."""
    door = result.fulfilment.door
    assert door is not None  # checkout filled in the address or refused
    shop = result.store.point
    ride = 0
    if shop is not None:
        result.distance_m = slots.check_radius(
            shop, door, result.store.delivery_radius_m, f"{result.store.name_en} ({result.store.name_zh})"
        )
        ride = slots.ride_minutes(shop, door)
    asked = result.fulfilment.slot
    if not asked:
        check_open(drawn_on, at, timezone)
        return
    slot = slots.Slot(_aware(asked["start"]), _aware(asked["end"]))
    result.release_at = slots.check_slot(slot, at, result.store.picking_minutes, ride, drawn_on, timezone)
    result.slot = slot
    result.fulfilment = result.fulfilment.with_slot(slot.as_dict())


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _check_locker(site_id: str, sites: dict[str, LockerSite]) -> None:
    """Known to the read model and with a free compartment, else the nearest site that has room."""
    site = sites.get(site_id)
    if site is None or not site.active:
        raise BasketProblem([f"no locker site {site_id}; GET /circle/lockers lists the sites near you"])
    if site.has_room:
        return
    others = sorted(
        (s for s in sites.values() if s.active and s.has_room and s.site_id != site_id),
        key=lambda s: geo.street_metres(site.point, s.point),
    )
    instead = (
        f"; the nearest site with room is {others[0].name} ({others[0].site_id}), "
        f"{round(geo.street_metres(site.point, others[0].point))} m away"
        if others
        else "; no site has room now: choose delivery to the door or pickup"
    )
    raise LockerFull(f"locker site {site.name} ({site_id}) has no free compartment{instead}")


async def place_order(  # noqa: PLR0913 (a checkout request and its note, each part by name)
    uow: OrdersUnitOfWork,
    principal: Principal,
    *,
    store_id: str,
    wanted: list[Wanted],
    fulfilment: Fulfilment,
    note: str | None,
    contact_phone: str | None,
    on_behalf_of: str | None,
    timezone: str,
    flags: HandlingFlags = HandlingFlags(),
    payment: ledger.Payment | None = None,
    platform_fee_fen: int = 0,
) -> Order:
    """Check out, pay (prepaid: from the balance, or 402), and record the order and OrderPlaced together.

    Two statements: what placing needs is read in one, and the order with its lines, timeline,
    payment, remembered choices and OrderPlaced is written in one as the unit of work commits.
    """
    c, needs = await checkout(
        uow,
        principal,
        store_id=store_id,
        wanted=wanted,
        fulfilment=fulfilment,
        contact_phone=contact_phone,
        on_behalf_of=on_behalf_of,
        flags=flags,
        payment=payment,
        platform_fee_fen=platform_fee_fen,
        timezone=timezone,
        placing=True,
    )
    paid = ledger.at_placing(c.payment, c.total_fen, needs.balance_fen)  # prepaid: the debit, or 402
    order = Order.place(
        id=str(uuid.uuid4()),
        store_id=store_id,
        placed_by=principal.subject,
        placed_for=c.placed_for,
        placed_by_role=principal.role.value,
        fulfilment=c.fulfilment,
        lines=c.lines,
        at=uow.now(),
        contact_phone=c.contact_phone,
        note=note,
        flags=c.flags,
        delivery_code=new_delivery_code() if c.fulfilment.dispatched else None,
        payment=c.payment,
        fees=c.fees,
        slot=c.slot.as_dict() if c.slot else None,
        release_at=c.release_at,
    )
    order.postings.extend(paid)
    uow.journal.add(
        settlement.for_postings(paid, holder=order.placed_for, by=principal.subject, at=uow.now(), order=order)
    )
    minutes = promise_now(c, needs.quote)
    if minutes is not None:  # the promise the checkout showed is the order's: dispatch adopts it
        placed_at = uow.now()
        promise_placed(order, placed_at + timedelta(minutes=minutes), minutes, placed_at)
    remember = {ln.product_id: ln.substitution for ln in c.lines if ln.line_no in c.given}
    await uow.placing.save(Placement(order, paid, principal.subject, remember))
    await uow.publish(_placed(order, c))
    return order


def _placed(order: Order, c: Checkout) -> OrderPlaced:
    return OrderPlaced(
        order_id=order.id,
        store_id=order.store_id,
        placed_by=order.placed_by,
        placed_for=order.placed_for,
        fulfilment_mode=order.fulfilment_mode,
        total_fen=order.total_fen,
        flags=order.flags,
        note=order.note,
        address=c.fulfilment.address,
        contact_phone=order.contact_phone,
        delivery_code=order.delivery_code,
        locker_site_id=c.fulfilment.site_id if c.fulfilment.mode is FulfilmentMode.LOCKER else None,
        slot=DeliverySlot(start=c.slot.start, end=c.slot.end) if c.slot else None,
        release_at=c.release_at,
        delivery_fee_fen=c.fees.delivery_fee_fen,
        platform_fee_fen=c.fees.platform_fee_fen,
        payment=c.payment,
        promised_at=order.tracking.promised_at,
        lines=[
            OrderedLine(
                line_no=ln.line_no,
                product_id=ln.product_id,
                location_id=ln.location_id,
                quantity=ln.quantity,
                unit=StockUnit(ln.unit),
                stock_quantity=ln.stock_quantity,
                unit_price_fen=ln.unit_price_fen,
                estimated_fen=ln.estimated_fen,
                substitution=SubstitutionPreference(mode=ln.substitution.mode, product_id=ln.substitution.product_id),
            )
            for ln in c.lines
        ],
    )


async def quote(uow: OrdersUnitOfWork, principal: Principal, **checkout_args: Any) -> Quote:
    """The checkout breakdown, storing nothing; refuses (402) what placing would refuse."""
    c, needs = await checkout(uow, principal, **checkout_args)
    balance = needs.balance_fen if c.prepaid else None
    if balance is not None:
        ledger.at_placing(c.payment, c.total_fen, balance)
    return Quote(c, balance, promise_now(c, needs.quote))


def promise_now(c: Checkout, quote: discovery.Quote | None) -> int | None:
    """What Linli promises for a delivery now, as discovery shows it, from dispatch's latest quote
    for the store; None for slots, pickup, lockers, or when dispatch reports no rider."""
    door = c.fulfilment.door
    if c.slot is not None or c.fulfilment.mode is not FulfilmentMode.DELIVERY or door is None:
        return None
    shop = c.store.point
    if shop is None:
        return None
    return discovery.promise_minutes(quote, shop, door)


async def delivery_slots(uow: OrdersUnitOfWork, store_id: str, door: geo.Point, timezone: str) -> DeliverySlots:
    """The windows a delivery from this shop to `door` could be booked for (GET /stores/{id}/slots)."""
    store = await uow.catalog.location(store_id)
    if store is None or store.kind == "stall":
        raise NotFound(f"no shop or market {store_id!r}; a stall's goods are ordered from its market")
    shop = store.point
    ride = slots.ride_minutes(shop, door) if shop else 0
    distance = round(geo.street_metres(shop, door)) if shop else None
    delivers = distance is None or distance <= store.delivery_radius_m
    windows = slots.offered(uow.now(), store.picking_minutes, ride, [store], timezone)
    if not delivers:
        windows = [
            replace(
                w,
                available=False,
                why=f"the address is {distance} m away; {store.name_en} delivers within {store.delivery_radius_m} m",
            )
            for w in windows
        ]
    return DeliverySlots(store_id, distance, delivers, ride, store.picking_minutes, windows)


async def cancel_order(uow: OrdersUnitOfWork, principal: Principal, order_id: str) -> Order:
    order = await get_order(uow, principal, order_id, for_update=True)
    if principal.role not in (Role.ADMIN, Role.SHOPPER, Role.HELPER):
        raise Forbidden(f"a {principal.role.value} cannot cancel an order; the shop rejects instead")
    previous = order.cancel(uow.now(), principal.subject)
    await uow.orders.save(order)
    await payments.settle(uow, order, principal.subject)
    await uow.publish(
        OrderCancelled(
            order_id=order.id,
            store_id=order.store_id,
            cancelled_by=principal.subject,
            previous_status=previous,
            reason=order.cancel_reason or "cancelled",
        )
    )
    return order


async def _order_for_event(uow: OrdersUnitOfWork, order_id: str) -> Order | None:
    return await uow.orders.get(order_id, for_update=True)


async def _move_or_note(uow: OrdersUnitOfWork, order: Order, target: OrderStatus, what: str) -> bool:
    """Apply a move if the order can still make it; otherwise keep the late fact on the timeline."""
    if can_move(order.status, target):
        return True
    order.note_fact(uow.now(), f"{what} arrived after the order was {order.status.value}; nothing changed")
    await uow.orders.save(order)
    return False


def _reserved(order: Order, event: StockReserved, at: datetime) -> OrderConfirmed | None:
    """Confirm the order, or keep a late reservation on its timeline; the event to publish, if any."""
    if not can_move(order.status, OrderStatus.CONFIRMED):
        order.note_fact(at, f"stock reservation arrived after the order was {order.status.value}; nothing changed")
        return None
    order.confirm(at)
    order.note_fact(at, "waiting for the shop to accept", {"accept_deadline": event.accept_deadline.isoformat()})
    return OrderConfirmed(order_id=order.id, store_id=order.store_id)


async def on_stock_reserved(uow: OrdersUnitOfWork, event: StockReserved) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None:
        return
    confirmed = _reserved(order, event, uow.now())
    await uow.orders.save(order)
    if confirmed is not None:
        await uow.publish(confirmed)


async def on_stock_reserved_many(uow: OrdersUnitOfWork, items: Sequence[tuple[RawEnvelope, StockReserved]]) -> None:
    """A run of reservations at once, with the effects of `on_stock_reserved` for each in turn.

    The run's orders are read (and locked) in one statement and saved in one, however many
    there are; each OrderConfirmed names the reservation that caused it.
    """
    orders = await uow.orders.get_many([event.order_id for _, event in items], for_update=True)
    touched: dict[str, Order] = {}
    for env, event in items:
        order = orders.get(event.order_id)
        if order is None:
            continue
        uow.cause = env
        touched[order.id] = order
        confirmed = _reserved(order, event, uow.now())
        if confirmed is not None:
            await uow.publish(confirmed)
    await uow.orders.save_many(list(touched.values()))


async def on_stock_rejected(uow: OrdersUnitOfWork, event: StockRejected) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.REJECTED, "stock rejection"):
        return
    details: dict[str, Any] = {"short_lines": [s.model_dump(mode="json") for s in event.short_lines]}
    if event.note:
        details["note"] = event.note
    order.reject(event.reason or RejectReason.OUT_OF_STOCK.value, uow.now(), details)
    await uow.orders.save(order)
    await payments.settle(uow, order)
    await uow.publish(
        OrderRejected(order_id=order.id, store_id=order.store_id, reason=order.reject_reason or "", details=details)
    )


def _rejected(order: Order, event: StockRejected, at: datetime) -> OrderRejected | None:
    """Reject the order for want of stock, or keep a late rejection on its timeline."""
    if not can_move(order.status, OrderStatus.REJECTED):
        order.note_fact(at, f"stock rejection arrived after the order was {order.status.value}; nothing changed")
        return None
    details: dict[str, Any] = {"short_lines": [s.model_dump(mode="json") for s in event.short_lines]}
    if event.note:
        details["note"] = event.note
    order.reject(event.reason or RejectReason.OUT_OF_STOCK.value, at, details)
    return OrderRejected(order_id=order.id, store_id=order.store_id, reason=order.reject_reason or "", details=details)


async def on_stock_rejected_many(uow: OrdersUnitOfWork, items: Sequence[tuple[RawEnvelope, StockRejected]]) -> None:
    """A run of rejections at once (a shop sold out under a rush): read and locked in one statement,
    refunded in one, saved in one, with the effects of `on_stock_rejected` for each in turn."""
    orders = await uow.orders.get_many([event.order_id for _, event in items], for_update=True)
    touched: dict[str, Order] = {}
    refunded: dict[str, Order] = {}
    for env, event in items:
        order = orders.get(event.order_id)
        if order is None:
            continue
        uow.cause = env
        touched[order.id] = order
        rejected = _rejected(order, event, uow.now())
        if rejected is not None:
            refunded[order.id] = order
            await uow.publish(rejected)
    await payments.settle_many(uow, list(refunded.values()))
    await uow.orders.save_many(list(touched.values()))


async def on_stock_released(uow: OrdersUnitOfWork, event: StockReleased) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None:
        return
    order.note_fact(uow.now(), "stock released", {"reason": event.reason})
    await uow.orders.save(order)


async def on_shop_accepted(uow: OrdersUnitOfWork, event: ShopAccepted) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.ACCEPTED, "shop acceptance"):
        return
    order.accept(uow.now(), event.accepted_by)
    await uow.orders.save(order)
    await uow.publish(OrderAccepted(order_id=order.id, store_id=order.store_id))


async def on_shop_rejected(uow: OrdersUnitOfWork, event: ShopRejected) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.REJECTED, "shop rejection"):
        return
    details: dict[str, Any] = {"note": event.note} if event.note else {}
    order.reject(event.reason, uow.now(), details)
    await uow.orders.save(order)
    await payments.settle(uow, order)
    await uow.publish(OrderRejected(order_id=order.id, store_id=order.store_id, reason=event.reason, details=details))
