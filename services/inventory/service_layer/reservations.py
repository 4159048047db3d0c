"""Reserving stock for placed orders, and giving it back.

A reservation is held only while the order waits for the shop: if the shop has not accepted
by the accept deadline, the stock goes back on sale and the order is rejected `shop_timeout`.
Once accepted, it holds until handover commits it or a cancellation releases it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.inventory.domain.stock import (
    LineRequest,
    ReservationRefused,
    ReservationStatus,
    check_transition,
    release,
    reserve_all,
)
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.deadlines import Deadline
from shared.events.contracts import (
    OrderCancelled,
    OrderPlaced,
    ReservedLine,
    ShopAccepted,
    ShopRejected,
    ShortLine,
    StockRejected,
    StockReleased,
    StockReserved,
)
from shared.vocabulary.order_status import RejectReason
from shared.vocabulary.units import StockUnit

ACCEPT_DEADLINE = "accept"


class NotFound(Exception):
    pass


def now() -> datetime:
    return datetime.now(UTC)


async def on_order_placed(uow: UnitOfWork, event: OrderPlaced, default_accept_limit_s: float) -> None:
    if await uow.inventory.reservation(event.order_id) is not None:
        return  # already decided; the inbox normally prevents getting here at all
    requests = [LineRequest(ln.line_no, ln.product_id, ln.location_id, ln.stock_quantity) for ln in event.lines]
    levels = await uow.inventory.lock_levels([r.product_id for r in requests])
    before = {pid: lvl.reserved for pid, lvl in levels.items()}
    short = reserve_all(levels, requests)
    if short:
        await uow.publish(StockRejected(
            order_id=event.order_id, store_id=event.store_id,
            reason=RejectReason.OUT_OF_STOCK.value if all(s.unit for s in short) else
            RejectReason.UNKNOWN_PRODUCT.value,
            short_lines=[ShortLine(product_id=s.product_id, location_id=s.location_id, requested=s.requested,
                                   available=s.available, unit=StockUnit(s.unit) if s.unit else None)
                         for s in short]))
        return
    await uow.inventory.save_levels(before, levels, "reserved", event.order_id, "order")
    store = await uow.inventory.location(event.store_id)
    limit = (store["accept_limit_s"] if store and store["accept_limit_s"] else None) or default_accept_limit_s
    deadline = now() + timedelta(seconds=limit)
    await uow.inventory.add_reservation(event.order_id, event.store_id, deadline, requests)
    await uow.schedule(Deadline(ACCEPT_DEADLINE, event.order_id, deadline, {"store_id": event.store_id}))
    await uow.publish(StockReserved(
        order_id=event.order_id, store_id=event.store_id, accept_deadline=deadline,
        lines=[ReservedLine(line_no=r.line_no, product_id=r.product_id, location_id=r.location_id,
                            quantity=r.quantity) for r in requests]))


async def _release(uow: UnitOfWork, order_id: str, store_id: str, reason: str, actor: str) -> bool:
    reservation = await uow.inventory.reservation(order_id, for_update=True)
    if reservation is None:
        return False
    status = ReservationStatus(reservation["status"])
    if status not in (ReservationStatus.HELD, ReservationStatus.ACCEPTED):
        return False
    lines = await uow.inventory.reservation_lines(order_id)
    levels = await uow.inventory.lock_levels([ln.product_id for ln in lines])
    before = {pid: lvl.reserved for pid, lvl in levels.items()}
    release(levels, lines)
    await uow.inventory.save_levels(before, levels, f"released: {reason}", order_id, actor)
    await uow.inventory.set_reservation_status(order_id, ReservationStatus.RELEASED, reason)
    await uow.cancel_deadline(ACCEPT_DEADLINE, order_id)
    await uow.publish(StockReleased(order_id=order_id, store_id=store_id, reason=reason))
    return True


async def on_order_cancelled(uow: UnitOfWork, event: OrderCancelled) -> None:
    await _release(uow, event.order_id, event.store_id, "cancelled", event.cancelled_by)


async def on_accept_deadline(uow: UnitOfWork, deadline: Deadline) -> None:
    """The shop let the accept limit pass: give the stock back and tell the shopper why."""
    reservation = await uow.inventory.reservation(deadline.key, for_update=True)
    if reservation is None or reservation["status"] != ReservationStatus.HELD.value:
        return
    store_id = reservation["store_id"]
    await _release(uow, deadline.key, store_id, RejectReason.SHOP_TIMEOUT.value, "accept deadline")
    await uow.publish(ShopRejected(order_id=deadline.key, store_id=store_id, reason=RejectReason.SHOP_TIMEOUT.value,
                                   note="the shop did not accept the order in time"))


async def accept(uow: UnitOfWork, store_id: str, order_id: str, by: str) -> None:
    reservation = await uow.inventory.reservation(order_id, for_update=True)
    if reservation is None or reservation["store_id"] != store_id:
        raise NotFound(f"no order {order_id} waiting at store {store_id}")
    check_transition(ReservationStatus(reservation["status"]), ReservationStatus.ACCEPTED)
    await uow.inventory.set_reservation_status(order_id, ReservationStatus.ACCEPTED)
    await uow.cancel_deadline(ACCEPT_DEADLINE, order_id)
    await uow.publish(ShopAccepted(order_id=order_id, store_id=store_id, accepted_by=by))


async def reject(uow: UnitOfWork, store_id: str, order_id: str, by: str, note: str | None) -> None:
    reservation = await uow.inventory.reservation(order_id, for_update=True)
    if reservation is None or reservation["store_id"] != store_id:
        raise NotFound(f"no order {order_id} waiting at store {store_id}")
    if reservation["status"] != ReservationStatus.HELD.value:
        raise ReservationRefused(f"the order is already {reservation['status']}; only a waiting order can be "
                                 "rejected")
    await _release(uow, order_id, store_id, RejectReason.SHOP_REJECTED.value, by)
    await uow.publish(ShopRejected(order_id=order_id, store_id=store_id, reason=RejectReason.SHOP_REJECTED.value,
                                   note=note))
