"""Use cases of the orders service: placing and cancelling, and reacting to the shop's stock.

Each function runs inside a unit of work whose transaction the caller owns, so the state
change and the events that announce it commit together or not at all.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from services.orders.domain.basket import BasketProblem, Wanted, check_open, price_basket
from services.orders.domain.order import DISPATCHED_MODES, Order
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.events.contracts import (
    DeliveryAddress,
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


async def place_order(uow: UnitOfWork, principal: Principal, *, store_id: str, wanted: list[Wanted],
                      fulfilment: dict[str, Any], note: str | None, contact_phone: str | None,
                      on_behalf_of: str | None, flags: dict[str, bool] | None = None,
                      timezone: str = "Asia/Shanghai") -> Order:
    """Price the basket against the catalog read model and record the order and OrderPlaced.

    A store or stall that is closed or paused is refused here, naming when it opens again;
    inventory checks again when it reserves, since a change may still be on its way to us.
    """
    if principal.role is Role.HELPER:
        if not on_behalf_of:
            raise BasketProblem(["a helper orders for a resident: set on_behalf_of to the resident's id"])
        placed_for = on_behalf_of
    elif on_behalf_of and on_behalf_of != principal.subject:
        raise Forbidden("only a helper may order on behalf of someone else")
    else:
        placed_for = principal.subject
    store = await uow.catalog.location(store_id)
    named = [w.substitution.product_id for w in wanted if w.substitution.product_id]
    products = await uow.catalog.products([w.product_id for w in wanted] + named)
    lines = price_basket(store, store_id, wanted, products)
    at = now()
    drawn_on = await uow.catalog.locations(sorted({store_id} | {ln.location_id for ln in lines}))
    check_open(drawn_on.values(), at, timezone)
    mode = str(fulfilment.get("mode", "delivery"))
    order = Order.place(id=str(uuid.uuid4()), store_id=store_id, placed_by=principal.subject, placed_for=placed_for,
                        placed_by_role=principal.role.value, fulfilment=fulfilment, lines=lines, at=at,
                        contact_phone=contact_phone, note=note, flags=HandlingFlags(**(flags or {})).model_dump(),
                        delivery_code=new_delivery_code() if mode in DISPATCHED_MODES else None)
    await uow.orders.add(order)
    address = fulfilment.get("address")
    await uow.publish(OrderPlaced(
        order_id=order.id, store_id=store_id, placed_by=order.placed_by, placed_for=order.placed_for,
        fulfilment_mode=order.fulfilment_mode, total_fen=order.total_fen, flags=HandlingFlags(**order.flags),
        note=order.note, address=DeliveryAddress.model_validate(address) if address else None,
        contact_phone=order.contact_phone, delivery_code=order.delivery_code,
        locker_site_id=fulfilment.get("site_id") if mode == "locker" else None,
        lines=[OrderedLine(line_no=ln.line_no, product_id=ln.product_id, location_id=ln.location_id,
                           quantity=ln.quantity, unit=StockUnit(ln.unit), stock_quantity=ln.stock_quantity,
                           unit_price_fen=ln.unit_price_fen, estimated_fen=ln.estimated_fen,
                           substitution=SubstitutionPreference(mode=ln.substitution.mode,
                                                               product_id=ln.substitution.product_id))
               for ln in lines]))
    return order


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
    await uow.publish(OrderCancelled(order_id=order.id, store_id=order.store_id, cancelled_by=principal.subject,
                                     previous_status=previous, reason=order.cancel_reason or "cancelled"))
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
    await uow.publish(OrderRejected(order_id=order.id, store_id=order.store_id, reason=order.reject_reason or "",
                                    details=details))


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
    await uow.publish(OrderRejected(order_id=order.id, store_id=order.store_id, reason=event.reason,
                                    details=details))
