"""Use cases of the orders service: placing and cancelling, and reacting to the shop's stock.

Each function runs inside a unit of work whose transaction the caller owns, so the state
change and the events that announce it commit together or not at all.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from services.orders.adapters.circle import CircleReadModel
from services.orders.domain import discovery, ledger, slots
from services.orders.domain.basket import BasketProblem, CatalogLocation, Wanted, check_open, price_basket
from services.orders.domain.lines import OrderLine
from services.orders.domain.order import DISPATCHED_MODES, Order

# Module imports: residents, preferences and payments import this module too.
from services.orders.service_layer import payments, preferences, residents
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.events.contracts import (
    DeliveryAddress,
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
from shared.vocabulary import geo
from shared.vocabulary.order_status import OrderStatus, RejectReason, can_move
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit


class NotFound(Exception):
    pass


class Forbidden(Exception):
    pass


def now() -> datetime:
    return datetime.now(UTC)


def new_delivery_code() -> str:
    """Six random digits the shopper gives the rider at the door (or that dispatch checks for a locker)."""
    return f"{secrets.randbelow(1_000_000):06d}"


class LockerFull(Exception):
    """The read model shows no free compartment at the chosen locker site (HTTP 409)."""


@dataclass
class Checkout:
    """Everything placing an order decides before it stores anything; POST /orders/quote shows it."""

    placed_for: str
    store: CatalogLocation
    lines: list[OrderLine]
    fulfilment: dict[str, Any]
    payment: ledger.Payment
    fees: ledger.Fees
    flags: dict[str, bool]
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

    def view(self, balance_fen: int | None) -> dict[str, Any]:
        prepaid = self.payment == "balance"
        return {
            "store_id": self.store.location_id,
            "placed_for": self.placed_for,
            "lines": [
                {
                    "line_no": ln.line_no,
                    "product_id": ln.product_id,
                    "name_zh": ln.name_zh,
                    "name_en": ln.name_en,
                    "unit": ln.unit,
                    "quantity": ln.quantity,
                    "unit_price_fen": ln.unit_price_fen,
                    "estimated_fen": ln.estimated_fen,
                    "estimate": ln.unit == StockUnit.GRAM.value,
                    "substitution": ln.substitution.as_dict(),
                }
                for ln in self.lines
            ],
            "goods_fen": self.goods_fen,
            "delivery_fee_fen": self.fees.delivery_fee_fen,
            "platform_fee_fen": self.fees.platform_fee_fen,
            "total_fen": self.total_fen,
            "payment": self.payment,
            "balance_fen": balance_fen,
            "balance_enough": (balance_fen is not None and balance_fen >= self.total_fen) if prepaid else None,
            "due_at_door_fen": None if prepaid else self.total_fen,
            "fulfilment": self.fulfilment,
            "distance_m": self.distance_m,
            "slot": self.slot.as_dict() if self.slot else None,
            "release_at": self.release_at.isoformat() if self.release_at else None,
        }


async def checkout(
    uow: UnitOfWork,
    principal: Principal,
    *,
    store_id: str,
    wanted: list[Wanted],
    fulfilment: dict[str, Any],
    contact_phone: str | None,
    on_behalf_of: str | None,
    flags: dict[str, bool] | None = None,
    payment: ledger.Payment | None = None,
    platform_fee_fen: int = 0,
    timezone: str = "Asia/Shanghai",
    at: datetime | None = None,
) -> Checkout:
    """Decide everything about an order without storing it; each refusal says what to do instead.

    A store or stall closed or paused now is refused, naming when it opens; a slot order is
    checked against the hours at its release time instead. Inventory and dispatch check again
    when the order reaches them, since a change may still be on its way to us.
    """
    at = at or now()
    orderer = await residents.resolve_orderer(uow, principal, on_behalf_of)
    fulfilment = dict(fulfilment)
    mode = str(fulfilment.get("mode", "delivery"))
    if mode == "delivery" and not fulfilment.get("address"):
        if not orderer.address:
            raise BasketProblem(["a delivery needs fulfilment.address (text, lat, lon), or choose pickup"])
        fulfilment["address"] = dict(orderer.address)
    given = {w.product_id for w in wanted if w.substitution is not None}
    remembered = await preferences.remembered(
        uow, orderer.placed_for, [w.product_id for w in wanted if w.substitution is None]
    )
    wanted = [
        w if w.substitution is not None else replace(w, substitution=remembered.get(w.product_id)) for w in wanted
    ]
    store = await uow.catalog.location(store_id)
    named = [w.choice.product_id for w in wanted if w.choice.product_id]
    products = await uow.catalog.products([w.product_id for w in wanted] + named)
    lines = price_basket(store, store_id, wanted, products)
    assert store is not None  # price_basket refuses an unknown store
    drawn_on = await uow.catalog.locations(sorted({store_id} | {ln.location_id for ln in lines}))
    asked = dict(flags or {})
    chosen: ledger.Payment = payment or (
        "on_delivery"
        if asked.get("pay_on_delivery") or (orderer.pay_on_delivery_default and mode == "delivery")
        else "balance"
    )
    try:
        ledger.check_payment(chosen, mode)
    except ledger.PaymentRefused as e:
        raise BasketProblem([str(e)]) from e
    result = Checkout(
        placed_for=orderer.placed_for,
        store=store,
        lines=lines,
        fulfilment=fulfilment,
        payment=chosen,
        fees=ledger.Fees(ledger.delivery_fee_for(mode, store.delivery_fee_fen), platform_fee_fen),
        flags=HandlingFlags(
            call_before_delivery=bool(asked.get("call_before_delivery") or orderer.flags.get("call_before_delivery")),
            pay_on_delivery=chosen == "on_delivery",
        ).model_dump(),
        contact_phone=contact_phone or orderer.phone,
        given=[ln.line_no for ln in lines if ln.product_id in given],
    )
    if mode == "delivery":
        await _check_door(uow, result, drawn_on.values(), at, timezone)
    else:
        if fulfilment.get("slot"):
            raise BasketProblem([f"a slot is for delivery to the door, not {mode}"])
        check_open(drawn_on.values(), at, timezone)
    if mode == "locker":
        await _check_locker(uow, str(fulfilment.get("site_id")))
    return result


async def _check_door(uow: UnitOfWork, result: Checkout, drawn_on: Any, at: datetime, timezone: str) -> None:
    """Inside the delivery radius (by street); a slot kept by its release time and the hours then."""
    address = result.fulfilment["address"]
    door = geo.Point(float(address["lat"]), float(address["lon"]))
    shop = result.store.point
    ride = 0
    if shop is not None:
        try:
            result.distance_m = slots.check_radius(
                shop, door, result.store.delivery_radius_m, f"{result.store.name_en} ({result.store.name_zh})"
            )
        except slots.OutsideDeliveryArea as e:
            raise BasketProblem([str(e)]) from e
        ride = slots.ride_minutes(shop, door)
    asked = result.fulfilment.get("slot")
    if not asked:
        check_open(drawn_on, at, timezone)
        return
    slot = slots.Slot(_aware(asked["start"]), _aware(asked["end"]))
    try:
        result.release_at = slots.check_slot(slot, at, result.store.picking_minutes, ride, drawn_on, timezone)
    except slots.SlotProblem as e:
        raise BasketProblem([str(e)]) from e
    result.slot = slot
    result.fulfilment["slot"] = slot.as_dict()


def _aware(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _check_locker(uow: UnitOfWork, site_id: str) -> None:
    """Known to the read model and with a free compartment, else the nearest site that has room."""
    circle = CircleReadModel(uow.conn)
    site = await circle.locker_site(site_id)
    if site is None or not site.active:
        raise BasketProblem([f"no locker site {site_id}; GET /circle/lockers lists the sites near you"])
    if site.has_room:
        return
    others = sorted(
        (s for s in await circle.locker_sites() if s.has_room and s.site_id != site_id),
        key=lambda s: geo.street_metres(site.point, s.point),
    )
    instead = (
        f"; the nearest site with room is {others[0].name} ({others[0].site_id}), "
        f"{round(geo.street_metres(site.point, others[0].point))} m away"
        if others
        else "; no site has room now: choose delivery to the door or pickup"
    )
    raise LockerFull(f"locker site {site.name} ({site_id}) has no free compartment{instead}")


async def place_order(
    uow: UnitOfWork,
    principal: Principal,
    *,
    store_id: str,
    wanted: list[Wanted],
    fulfilment: dict[str, Any],
    note: str | None,
    contact_phone: str | None,
    on_behalf_of: str | None,
    flags: dict[str, bool] | None = None,
    payment: ledger.Payment | None = None,
    platform_fee_fen: int = 0,
    timezone: str = "Asia/Shanghai",
) -> Order:
    """Check out, pay (prepaid: from the balance, or 402), and record the order and OrderPlaced together."""
    at = now()
    c = await checkout(
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
        at=at,
    )
    balance = await payments.check_affordable(uow, c.placed_for, c.payment, c.total_fen)
    mode = str(c.fulfilment.get("mode", "delivery"))
    order = Order.place(
        id=str(uuid.uuid4()),
        store_id=store_id,
        placed_by=principal.subject,
        placed_for=c.placed_for,
        placed_by_role=principal.role.value,
        fulfilment=c.fulfilment,
        lines=c.lines,
        at=at,
        contact_phone=c.contact_phone,
        note=note,
        flags=c.flags,
        delivery_code=new_delivery_code() if mode in DISPATCHED_MODES else None,
        payment=c.payment,
        fees=c.fees,
        slot=c.slot.as_dict() if c.slot else None,
        release_at=c.release_at,
    )
    await uow.orders.add(order)
    await payments.pay_for(uow, order, balance)
    await preferences.remember(uow, c.placed_for, [ln for ln in c.lines if ln.line_no in c.given])
    address = c.fulfilment.get("address")
    await uow.publish(
        OrderPlaced(
            order_id=order.id,
            store_id=store_id,
            placed_by=order.placed_by,
            placed_for=order.placed_for,
            fulfilment_mode=order.fulfilment_mode,
            total_fen=order.total_fen,
            flags=HandlingFlags(**order.flags),
            note=order.note,
            address=DeliveryAddress.model_validate(address) if address else None,
            contact_phone=order.contact_phone,
            delivery_code=order.delivery_code,
            locker_site_id=c.fulfilment.get("site_id") if mode == "locker" else None,
            slot=DeliverySlot(start=c.slot.start, end=c.slot.end) if c.slot else None,
            release_at=c.release_at,
            delivery_fee_fen=c.fees.delivery_fee_fen,
            platform_fee_fen=c.fees.platform_fee_fen,
            payment=c.payment,
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
                    substitution=SubstitutionPreference(
                        mode=ln.substitution.mode, product_id=ln.substitution.product_id
                    ),
                )
                for ln in c.lines
            ],
        )
    )
    return order


async def quote(uow: UnitOfWork, principal: Principal, **checkout_args: Any) -> dict[str, Any]:
    """The checkout breakdown, storing nothing; refuses (402) what placing would refuse."""
    c = await checkout(uow, principal, **checkout_args)
    balance = await uow.ledger.balance(c.placed_for) if c.payment == "balance" else None
    if balance is not None:
        ledger.at_placing(c.payment, c.total_fen, balance)
    return {**c.view(balance), "promise_minutes": await _promise_now(uow, c)}


async def _promise_now(uow: UnitOfWork, c: Checkout) -> int | None:
    """What Linli would promise for a delivery now, as discovery shows it; None for slots, pickup,
    lockers, or when dispatch reports no free rider."""
    address = c.fulfilment.get("address")
    if c.slot is not None or c.fulfilment.get("mode") != "delivery" or not address:
        return None
    shop = c.store.point
    if shop is None:
        return None
    quotes = await CircleReadModel(uow.conn).quotes([c.store.location_id])
    return discovery.promise_minutes(quotes.get(c.store.location_id), shop, geo.Point(address["lat"], address["lon"]))


async def delivery_slots(uow: UnitOfWork, store_id: str, door: geo.Point, timezone: str) -> dict[str, Any]:
    """The windows a delivery from this shop to `door` could be booked for (GET /stores/{id}/slots)."""
    store = await uow.catalog.location(store_id)
    if store is None or store.kind == "stall":
        raise NotFound(f"no shop or market {store_id!r}; a stall's goods are ordered from its market")
    shop = store.point
    ride = slots.ride_minutes(shop, door) if shop else 0
    distance = round(geo.street_metres(shop, door)) if shop else None
    delivers = distance is None or distance <= store.delivery_radius_m
    windows = slots.offered(now(), store.picking_minutes, ride, [store], timezone)
    if not delivers:
        windows = [
            replace(
                w,
                available=False,
                why=f"the address is {distance} m away; {store.name_en} delivers within {store.delivery_radius_m} m",
            )
            for w in windows
        ]
    return {
        "store_id": store_id,
        "distance_m": distance,
        "delivers_here": delivers,
        "ride_minutes": ride,
        "picking_minutes": store.picking_minutes,
        "slots": [w.as_dict() for w in windows],
    }


def can_see(principal: Principal, order: Order) -> bool:
    if principal.role in (Role.ADMIN, Role.DISPATCHER):
        return True
    if principal.role in (Role.SHOPPER, Role.HELPER):
        return order.is_visible_to_orderer(principal.subject)
    if principal.role is Role.STORE_STAFF:
        return principal.store == order.store_id or any(ln.location_id == principal.store for ln in order.lines)
    return False


async def get_order(uow: UnitOfWork, principal: Principal, order_id: str, *, for_update: bool = False) -> Order:
    order = await uow.orders.get(order_id, for_update=for_update)
    # Someone else's order is "not found": its existence is not theirs to learn either.
    if order is None or not can_see(principal, order):
        raise NotFound(f"no order {order_id} that you can see")
    return order


async def cancel_order(uow: UnitOfWork, principal: Principal, order_id: str) -> Order:
    order = await get_order(uow, principal, order_id, for_update=True)
    if principal.role not in (Role.ADMIN, Role.SHOPPER, Role.HELPER):
        raise Forbidden(f"a {principal.role.value} cannot cancel an order; the shop rejects instead")
    previous = order.cancel(now(), principal.subject)
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


async def _order_for_event(uow: UnitOfWork, order_id: str) -> Order | None:
    return await uow.orders.get(order_id, for_update=True)


async def _move_or_note(uow: UnitOfWork, order: Order, target: OrderStatus, what: str) -> bool:
    """Apply a move if the order can still make it; otherwise keep the late fact on the timeline."""
    if can_move(order.status, target):
        return True
    order.note_fact(now(), f"{what} arrived after the order was {order.status.value}; nothing changed")
    await uow.orders.save(order)
    return False


async def on_stock_reserved(uow: UnitOfWork, event: StockReserved) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.CONFIRMED, "stock reservation"):
        return
    order.confirm(now())
    order.note_fact(now(), "waiting for the shop to accept", {"accept_deadline": event.accept_deadline.isoformat()})
    await uow.orders.save(order)
    await uow.publish(OrderConfirmed(order_id=order.id, store_id=order.store_id))


async def on_stock_rejected(uow: UnitOfWork, event: StockRejected) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.REJECTED, "stock rejection"):
        return
    details: dict[str, Any] = {"short_lines": [s.model_dump(mode="json") for s in event.short_lines]}
    if event.note:
        details["note"] = event.note
    order.reject(event.reason or RejectReason.OUT_OF_STOCK.value, now(), details)
    await uow.orders.save(order)
    await payments.settle(uow, order)
    await uow.publish(
        OrderRejected(order_id=order.id, store_id=order.store_id, reason=order.reject_reason or "", details=details)
    )


async def on_stock_released(uow: UnitOfWork, event: StockReleased) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None:
        return
    order.note_fact(now(), "stock released", {"reason": event.reason})
    await uow.orders.save(order)


async def on_shop_accepted(uow: UnitOfWork, event: ShopAccepted) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.ACCEPTED, "shop acceptance"):
        return
    order.accept(now(), event.accepted_by)
    await uow.orders.save(order)
    await uow.publish(OrderAccepted(order_id=order.id, store_id=order.store_id))


async def on_shop_rejected(uow: UnitOfWork, event: ShopRejected) -> None:
    order = await _order_for_event(uow, event.order_id)
    if order is None or not await _move_or_note(uow, order, OrderStatus.REJECTED, "shop rejection"):
        return
    details: dict[str, Any] = {"note": event.note} if event.note else {}
    order.reject(event.reason, now(), details)
    await uow.orders.save(order)
    await payments.settle(uow, order)
    await uow.publish(OrderRejected(order_id=order.id, store_id=order.store_id, reason=event.reason, details=details))
