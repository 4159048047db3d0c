"""Reserving stock for placed orders, the parts' accept decisions, and giving stock back.

An order's lines are reserved together or not at all, then split into parts, one per
fulfilling location (the shop, or each stall of a market). Each part waits for its shop or
stall to accept until its own deadline; a part refused or left to lapse is dropped (its lines
refunded, its stock released) and the rest goes on. When nothing remains the order is
rejected; when every remaining part accepted, the order is accepted.

An order for a delivery slot is reserved at once too (the stock is promised), but its parts
wait out of the shop's live queue until its release time; their accept deadlines count from then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from services.inventory.domain.fulfilment import (
    Outcome,
    Part,
    PartStatus,
    accept_key,
    acceptance,
    approval_key,
    parse_accept_key,
)
from services.inventory.domain.picking import AWAITING_SHOPPER
from services.inventory.domain.placing import Placing, involved
from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.deadlines import Deadline
from shared.errors import Conflict, NotFound
from shared.events.contracts import (
    OrderCancelled,
    OrderPlaced,
    PartAccepted,
    PartRejected,
    ShopAccepted,
    ShopRejected,
    StockRejected,
    StockReleased,
)
from shared.events.envelope import RawEnvelope
from shared.vocabulary.order_status import RejectReason

log = logging.getLogger(__name__)

ACCEPT_DEADLINE = "accept"
APPROVAL_DEADLINE = "approval"


async def on_order_placed(uow: InventoryUnitOfWork, event: OrderPlaced) -> None:
    """Hold the whole basket (or nothing), split it into parts and start each part's accept countdown."""
    await _place(uow, [(uow.cause, event)])


async def on_orders_placed(uow: InventoryUnitOfWork, items: Sequence[tuple[RawEnvelope, OrderPlaced]]) -> None:
    """A consumer's run of placed orders in a few statements, with the effects `on_order_placed` has applied
    to each in turn: an order earlier in the run takes stock a later one then cannot have."""
    await _place(uow, items)


async def _place(uow: InventoryUnitOfWork, items: Sequence[tuple[RawEnvelope | None, OrderPlaced]]) -> None:
    """Load every location and lock every stock row the orders involve (one statement each; the rows in product
    id order, as every writer locks them), decide each order in turn, then write what they came to in bulk."""
    orders = [event for _, event in items]
    held = set(await uow.reservations.get_many([e.order_id for e in orders]))  # decided before: nothing to do
    locations = await uow.locations.get_many([lid for e in orders for lid in involved(e)])
    levels, watched = await uow.stock.lock_for_orders(ln.product_id for e in orders for ln in e.lines)
    run: Placing[RawEnvelope | None] = Placing(
        locations, levels, watched, uow.policy.timezone, uow.policy.accept_limit_s
    )
    for cause, event in items:
        if event.order_id not in held and run.place(cause, event, uow.now()):
            held.add(event.order_id)
    for _, said in run.said:
        if isinstance(said, StockRejected) and said.reason == RejectReason.SHOP_CLOSED.value:
            log.info("order %s rejected shop_closed: %s", said.order_id, said.note)
    changed = sorted({m.product_id for m in run.movements})
    await uow.stock.save_reserved([levels[pid] for pid in changed], run.watched, run.movements, run.holds, "order")
    await uow.reservations.add_many(run.reservations)
    await uow.lines.add_many(run.lines)
    await uow.parts.add_many(run.parts)
    await uow.schedule_many(
        [
            Deadline(
                ACCEPT_DEADLINE,
                accept_key(p.order_id, p.location_id),
                p.accept_deadline,
                {"order_id": p.order_id, "location_id": p.location_id},
            )
            for p in run.parts
        ]
    )
    await uow.publish_many(run.said)


async def release_everything(uow: InventoryUnitOfWork, order: Reservation, reason: str, actor: str) -> None:
    """Give back every hold of the order and stop every clock it has running."""
    order_id = order.order_id
    lines = await uow.lines.of_order(order_id)
    await uow.stock.lock(h.product_id for h in await uow.stock.holds(order_id))
    for line in lines:
        await uow.stock.release_line(order_id, line.line_no, f"released: {reason}", actor)
        if line.state in AWAITING_SHOPPER:
            await uow.cancel_deadline(APPROVAL_DEADLINE, approval_key(order_id, line.line_no))
    parts = await uow.parts.of_order(order_id)
    for part in parts:
        await uow.cancel_deadline(ACCEPT_DEADLINE, accept_key(order_id, part.location_id))
        part.release()
    await uow.parts.save_many(parts)
    await uow.cancel_deadline(ACCEPT_DEADLINE, order_id)  # a deadline from before parts
    order.release(reason)
    await uow.reservations.save(order)
    await uow.publish(StockReleased(order_id=order_id, store_id=order.store_id, reason=reason))
    await check_low_stock(uow, [ln.product_id for ln in lines])


async def on_order_cancelled(uow: InventoryUnitOfWork, event: OrderCancelled) -> None:
    """Release whatever the order still holds: reserved, picked, weighed, substituted or packed lines.

    The shopper cancels only before picking; Linli cancels later too (`no_rider`, from PICKING or
    PACKED), so every hold of every line goes back, whatever became of the line.
    """
    order = await uow.reservations.get(event.order_id, for_update=True)
    if order is None or order.ended:
        return
    await release_everything(uow, order, event.reason or "cancelled", event.cancelled_by)


async def _order_at(uow: InventoryUnitOfWork, location_id: str, order_id: str) -> tuple[Reservation, list[Part]]:
    """The order and the parts a location answers for: its own, or every part when it is the order's shop or market."""
    order = await uow.reservations.get(order_id, for_update=True)
    parts = await uow.parts.of_order(order_id) if order is not None else []
    if order is not None and location_id != order.store_id:
        parts = [p for p in parts if p.location_id == location_id]
    if order is None or not parts:
        raise NotFound(f"no order {order_id} waiting at store {location_id}")
    return order, parts


async def _settle_acceptance(uow: InventoryUnitOfWork, order: Reservation, by: str) -> None:
    """After a part's answer: accept the order when every remaining part has accepted."""
    if order.status is not ReservationStatus.HELD:
        return
    if acceptance(await uow.parts.of_order(order.order_id)) is Outcome.ACCEPTED:
        order.accept()
        await uow.reservations.save(order)
        await uow.publish(ShopAccepted(order_id=order.order_id, store_id=order.store_id, accepted_by=by))


async def accept(uow: InventoryUnitOfWork, location_id: str, order_id: str, by: str) -> None:
    """The shop or stall takes its part on (the market or shop itself: every waiting part)."""
    order, parts = await _order_at(uow, location_id, order_id)
    waiting = [p for p in parts if p.status is PartStatus.WAITING]
    if not waiting:
        states = ", ".join(sorted({p.status.value for p in parts}))
        detail = order.status.value if order.status is not ReservationStatus.HELD else states
        raise Conflict(f"the order is already {detail}; nothing of it waits for {location_id} to accept")
    for part in waiting:
        part.accept(by, uow.now())
    await uow.parts.save_many(waiting)
    for part in waiting:
        await uow.cancel_deadline(ACCEPT_DEADLINE, accept_key(order_id, part.location_id))
        await uow.publish(
            PartAccepted(order_id=order_id, store_id=order.store_id, location_id=part.location_id, accepted_by=by)
        )
    await uow.cancel_deadline(ACCEPT_DEADLINE, order_id)  # a deadline from before parts
    await _settle_acceptance(uow, order, by)


async def drop_parts(
    uow: InventoryUnitOfWork, order: Reservation, parts: list[Part], reason: str, note: str | None, by: str
) -> None:
    """Refused or lapsed parts: their lines refunded, their stock released; the order goes on if anything remains."""
    order_id = order.order_id
    dropped: list[tuple[str, list[int], int]] = []
    # Lock every product involved at once, in id order, as every other writer does.
    await uow.stock.lock(h.product_id for h in await uow.stock.holds(order_id))
    all_lines = await uow.lines.of_order(order_id)
    for part in parts:
        lines = [ln for ln in all_lines if ln.location_id == part.location_id]
        for line in lines:
            await uow.stock.release_line(order_id, line.line_no, f"released: {reason}", by)
            line.refund()
        await uow.lines.save_many(lines)
        part.reject(reason, note, by, uow.now())
        await uow.cancel_deadline(ACCEPT_DEADLINE, accept_key(order_id, part.location_id))
        dropped.append((part.location_id, [ln.line_no for ln in lines], sum(ln.estimated_fen for ln in lines)))
        await check_low_stock(uow, [ln.product_id for ln in lines])
    await uow.parts.save_many(parts)
    remaining = await uow.parts.of_order(order_id)
    if acceptance(remaining) is Outcome.NOTHING_LEFT:
        await release_everything(uow, order, reason, by)
        await uow.publish(ShopRejected(order_id=order_id, store_id=order.store_id, reason=reason, note=note))
        return
    for location_id, line_nos, refund in dropped:
        await uow.publish(
            PartRejected(
                order_id=order_id,
                store_id=order.store_id,
                location_id=location_id,
                reason=reason,
                note=note,
                line_nos=line_nos,
                refund_fen=refund,
            )
        )
    accepted_by = next(
        (p.decided_by for p in remaining if p.status is PartStatus.ACCEPTED and p.decided_by),
        by,
    )
    await _settle_acceptance(uow, order, accepted_by)


async def reject(uow: InventoryUnitOfWork, location_id: str, order_id: str, by: str, note: str | None) -> None:
    """The shop or stall refuses its part (the market or shop itself: every waiting part)."""
    order, parts = await _order_at(uow, location_id, order_id)
    waiting = [p for p in parts if p.status is PartStatus.WAITING]
    if not waiting:
        raise Conflict(f"the order is already {order.status.value}; only a waiting order can be rejected")
    await drop_parts(uow, order, waiting, RejectReason.SHOP_REJECTED.value, note, by)


async def on_accept_deadline(uow: InventoryUnitOfWork, deadline: Deadline) -> None:
    """A part's accept limit passed: drop it, and reject the order if that leaves nothing."""
    order_id, location_id = parse_accept_key(deadline.key)
    order = await uow.reservations.get(order_id, for_update=True)
    if order is None:
        return
    lapsed = [
        p
        for p in await uow.parts.of_order(order_id)
        if p.status is PartStatus.WAITING and location_id in (None, p.location_id)
    ]
    if not lapsed:
        return
    where = "the shop" if location_id in (None, order.store_id) else f"stall {location_id}"
    await drop_parts(
        uow,
        order,
        lapsed,
        RejectReason.SHOP_TIMEOUT.value,
        f"{where} did not accept the order in time",
        "accept deadline",
    )
