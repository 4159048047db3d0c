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
from datetime import timedelta

from services.inventory.domain.catalog import Location
from services.inventory.domain.fulfilment import (
    Outcome,
    Part,
    PartStatus,
    accept_key,
    acceptance,
    approval_key,
    parse_accept_key,
    parts_of,
)
from services.inventory.domain.picking import AWAITING_SHOPPER, Line
from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.domain.shop_hours import refusal
from services.inventory.domain.slots import clock_starts
from services.inventory.domain.stock import LineRequest, reserve_all
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.deadlines import Deadline
from shared.errors import Conflict, NotFound
from shared.events.contracts import (
    OrderCancelled,
    OrderPlaced,
    PartAccepted,
    PartDeadline,
    PartRejected,
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

log = logging.getLogger(__name__)

ACCEPT_DEADLINE = "accept"
APPROVAL_DEADLINE = "approval"


async def _accept_limit_s(uow: InventoryUnitOfWork, location: Location) -> float:
    """The stall's own limit, else its market's, else the setting."""
    if location.accept_limit_s:
        return float(location.accept_limit_s)
    if location.parent_id:
        parent = await uow.locations.get(location.parent_id)
        if parent is not None and parent.accept_limit_s:
            return float(parent.accept_limit_s)
    return uow.policy.accept_limit_s


async def _reject_closed(uow: InventoryUnitOfWork, event: OrderPlaced, why: str) -> None:
    # Orders checked the hours at POST /orders; a change was in flight. Say when it opens.
    log.info("order %s rejected shop_closed: %s", event.order_id, why)
    await uow.publish(
        StockRejected(
            order_id=event.order_id,
            store_id=event.store_id,
            reason=RejectReason.SHOP_CLOSED.value,
            short_lines=[],
            note=why,
        )
    )


async def on_order_placed(uow: InventoryUnitOfWork, event: OrderPlaced) -> None:
    """Hold the whole basket (or nothing), split it into parts and start each part's accept countdown."""
    if await uow.reservations.get(event.order_id) is not None:
        return  # already decided; the inbox normally prevents getting here at all
    starts = clock_starts(event.release_at, uow.now())  # a slot order is worked on (so must be open) from its release
    location_ids = list(dict.fromkeys([event.store_id, *(ln.location_id for ln in event.lines)]))
    locations = {lid: await uow.locations.get(lid) for lid in location_ids}
    closed = refusal([loc for loc in locations.values() if loc is not None], uow.policy.timezone, starts)
    if closed is not None:
        await _reject_closed(uow, event, closed[1])
        return
    requests = [LineRequest(ln.line_no, ln.product_id, ln.location_id, ln.stock_quantity) for ln in event.lines]
    levels = await uow.stock.lock(r.product_id for r in requests)
    before = {pid: lvl.reserved for pid, lvl in levels.items()}
    short = reserve_all(levels, requests)
    if short:
        await uow.publish(
            StockRejected(
                order_id=event.order_id,
                store_id=event.store_id,
                reason=RejectReason.OUT_OF_STOCK.value
                if all(s.unit for s in short)
                else RejectReason.UNKNOWN_PRODUCT.value,
                short_lines=[
                    ShortLine(
                        product_id=s.product_id,
                        location_id=s.location_id,
                        requested=s.requested,
                        available=s.available,
                        unit=StockUnit(s.unit) if s.unit else None,
                    )
                    for s in short
                ],
            )
        )
        return
    await uow.stock.save_levels(before, levels, "reserved", event.order_id, "order")
    await uow.stock.add_holds(event.order_id, [(r.line_no, r.product_id, r.quantity) for r in requests])

    parts: list[Part] = []
    for location_id in parts_of((ln.line_no, ln.location_id) for ln in event.lines):
        location = locations[location_id]
        assert location is not None  # reserve_all refused lines of unknown locations
        deadline = starts + timedelta(seconds=await _accept_limit_s(uow, location))
        parts.append(Part(event.order_id, location_id, PartStatus.WAITING, deadline))
    earliest = min(p.accept_deadline for p in parts)
    flags = event.flags.model_copy(
        update={"pay_on_delivery": event.flags.pay_on_delivery or event.payment == "on_delivery"}
    )  # the rider collects: staff must know
    await uow.reservations.add(
        Reservation(
            order_id=event.order_id,
            store_id=event.store_id,
            status=ReservationStatus.HELD,
            accept_deadline=earliest,
            fulfilment_mode=event.fulfilment_mode,
            placed_by=event.placed_by,
            placed_for=event.placed_for,
            flags=flags.model_dump(mode="json"),
            shown_fen=sum(ln.estimated_fen for ln in event.lines),
            note=event.note,
            slot_start=event.slot.start if event.slot else None,
            slot_end=event.slot.end if event.slot else None,
            release_at=event.release_at,
        )
    )
    await uow.lines.add_many(
        [
            Line(
                order_id=event.order_id,
                line_no=ln.line_no,
                product_id=ln.product_id,
                location_id=ln.location_id,
                quantity=ln.stock_quantity,
                unit=ln.unit,
                ordered_pieces=ln.quantity,
                unit_price_fen=ln.unit_price_fen,
                estimated_fen=ln.estimated_fen,
                substitution=ln.substitution.model_dump(mode="json"),
            )
            for ln in event.lines
        ]
    )
    await uow.parts.add_many(parts)
    for part in parts:
        await uow.schedule(
            ACCEPT_DEADLINE,
            accept_key(event.order_id, part.location_id),
            part.accept_deadline,
            {"order_id": event.order_id, "location_id": part.location_id},
        )
    await uow.publish(
        StockReserved(
            order_id=event.order_id,
            store_id=event.store_id,
            accept_deadline=earliest,
            lines=[
                ReservedLine(line_no=r.line_no, product_id=r.product_id, location_id=r.location_id, quantity=r.quantity)
                for r in requests
            ],
            parts=[PartDeadline(location_id=p.location_id, accept_deadline=p.accept_deadline) for p in parts],
        )
    )
    await check_low_stock(uow, levels)


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
