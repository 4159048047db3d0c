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
from datetime import datetime, timedelta
from typing import Any

from services.inventory.domain.fulfilment import (
    FulfilmentRefused,
    NotFound,
    Outcome,
    PartStatus,
    accept_key,
    acceptance,
    approval_key,
    parse_accept_key,
    parts_of,
)
from services.inventory.domain.picking import AWAITING_SHOPPER, LineState
from services.inventory.domain.shop_hours import refusal
from services.inventory.domain.slots import clock_starts
from services.inventory.domain.stock import LineRequest, ReservationStatus, reserve_all
from services.inventory.service_layer.policy import Policy, now
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.deadlines import Deadline
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

__all__ = [
    "ACCEPT_DEADLINE",
    "APPROVAL_DEADLINE",
    "NotFound",
    "accept",
    "on_accept_deadline",
    "on_order_cancelled",
    "on_order_placed",
    "reject",
]


async def _accept_limit_s(uow: UnitOfWork, location: Any, default: float) -> float:
    """The stall's own limit, else its market's, else the setting."""
    if location["accept_limit_s"]:
        return float(location["accept_limit_s"])
    if location["parent_id"]:
        parent = await uow.inventory.location(location["parent_id"])
        if parent is not None and parent["accept_limit_s"]:
            return float(parent["accept_limit_s"])
    return default


async def on_order_placed(
    uow: UnitOfWork, event: OrderPlaced, policy: Policy | float, at: datetime | None = None
) -> None:
    if isinstance(policy, int | float):
        policy = Policy(accept_limit_s=float(policy))
    if await uow.fulfilment.order(event.order_id) is not None:
        return  # already decided; the inbox normally prevents getting here at all
    at = at or now()
    starts = clock_starts(event.release_at, at)  # a slot order is worked on (so must be open) from its release
    location_ids = list(dict.fromkeys([event.store_id, *(ln.location_id for ln in event.lines)]))
    locations = {lid: await uow.inventory.location(lid) for lid in location_ids}
    closed = refusal([row for row in locations.values() if row is not None], policy.timezone, starts)
    if closed is not None:
        # Orders checked the hours at POST /orders; a change was in flight. Say when it opens.
        log.info("order %s rejected shop_closed: %s", event.order_id, closed[1])
        await uow.publish(
            StockRejected(
                order_id=event.order_id,
                store_id=event.store_id,
                reason=RejectReason.SHOP_CLOSED.value,
                short_lines=[],
                note=closed[1],
            )
        )
        return
    requests = [LineRequest(ln.line_no, ln.product_id, ln.location_id, ln.stock_quantity) for ln in event.lines]
    levels = await uow.inventory.lock_levels([r.product_id for r in requests])
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
    await uow.inventory.save_levels(before, levels, "reserved", event.order_id, "order")
    await uow.stock.add_holds(event.order_id, [(r.line_no, r.product_id, r.quantity) for r in requests])

    parts: list[tuple[str, datetime]] = []
    for location_id in parts_of((ln.line_no, ln.location_id) for ln in event.lines):
        location = locations[location_id]
        limit = await _accept_limit_s(uow, location, policy.accept_limit_s)
        parts.append((location_id, starts + timedelta(seconds=limit)))
    earliest = min(deadline for _, deadline in parts)
    flags = event.flags.model_copy(
        update={"pay_on_delivery": event.flags.pay_on_delivery or event.payment == "on_delivery"}
    )  # the rider collects: staff must know
    await uow.fulfilment.add_order(
        event.order_id,
        event.store_id,
        ReservationStatus.HELD.value,
        earliest,
        placed_by=event.placed_by,
        placed_for=event.placed_for,
        fulfilment_mode=event.fulfilment_mode,
        flags=flags.model_dump(mode="json"),
        shown_fen=sum(ln.estimated_fen for ln in event.lines),
        note=event.note,
        slot=(event.slot.start, event.slot.end) if event.slot else None,
        release_at=event.release_at,
    )
    await uow.fulfilment.add_lines(
        event.order_id,
        [
            {
                "line_no": ln.line_no,
                "product_id": ln.product_id,
                "location_id": ln.location_id,
                "quantity": ln.stock_quantity,
                "unit": ln.unit.value,
                "ordered_pieces": ln.quantity,
                "unit_price_fen": ln.unit_price_fen,
                "estimated_fen": ln.estimated_fen,
                "substitution": ln.substitution.model_dump(mode="json"),
            }
            for ln in event.lines
        ],
    )
    await uow.fulfilment.add_parts(event.order_id, parts)
    for location_id, deadline in parts:
        await uow.schedule(
            Deadline(
                ACCEPT_DEADLINE,
                accept_key(event.order_id, location_id),
                deadline,
                {"order_id": event.order_id, "location_id": location_id},
            )
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
            parts=[PartDeadline(location_id=loc, accept_deadline=deadline) for loc, deadline in parts],
        )
    )
    await check_low_stock(uow, levels)


async def release_everything(uow: UnitOfWork, order: Any, reason: str, actor: str) -> None:
    """Give back every hold of the order and stop every clock it has running."""
    order_id = order["order_id"]
    lines = await uow.fulfilment.lines(order_id)
    await uow.stock.lock([h["product_id"] for h in await uow.stock.holds(order_id)])
    for line in lines:
        await uow.stock.release_line(order_id, line["line_no"], f"released: {reason}", actor)
        if LineState(line["state"]) in AWAITING_SHOPPER:
            await uow.cancel_deadline(APPROVAL_DEADLINE, approval_key(order_id, line["line_no"]))
    for part in await uow.fulfilment.parts(order_id):
        await uow.cancel_deadline(ACCEPT_DEADLINE, accept_key(order_id, part["location_id"]))
        if PartStatus(part["status"]) is not PartStatus.REJECTED:
            await uow.fulfilment.set_part(order_id, part["location_id"], PartStatus.RELEASED)
    await uow.cancel_deadline(ACCEPT_DEADLINE, order_id)  # a deadline from before parts
    await uow.fulfilment.set_status(order_id, ReservationStatus.RELEASED.value, reason)
    await uow.publish(StockReleased(order_id=order_id, store_id=order["store_id"], reason=reason))
    await check_low_stock(uow, [ln["product_id"] for ln in lines])


async def on_order_cancelled(uow: UnitOfWork, event: OrderCancelled) -> None:
    """Release whatever the order still holds: reserved, picked, weighed, substituted or packed lines.

    The shopper cancels only before picking; Linli cancels later too (`no_rider`, from PICKING or
    PACKED), so every hold of every line goes back, whatever became of the line.
    """
    order = await uow.fulfilment.order(event.order_id, for_update=True)
    if order is None or order["status"] in (
        ReservationStatus.RELEASED,
        ReservationStatus.COMMITTED,
        ReservationStatus.RETURNED,
    ):
        return
    await release_everything(uow, order, event.reason or "cancelled", event.cancelled_by)


async def _parts_at(uow: UnitOfWork, order: Any, location_id: str) -> list[Any]:
    """The parts a location answers for: its own, or every part when it is the order's shop or market."""
    parts = await uow.fulfilment.parts(order["order_id"])
    if location_id == order["store_id"]:
        return parts
    return [p for p in parts if p["location_id"] == location_id]


async def _order_at(uow: UnitOfWork, location_id: str, order_id: str) -> tuple[Any, list[Any]]:
    order = await uow.fulfilment.order(order_id, for_update=True)
    parts = await _parts_at(uow, order, location_id) if order is not None else []
    if order is None or not parts:
        raise NotFound(f"no order {order_id} waiting at store {location_id}")
    return order, parts


async def _settle_acceptance(uow: UnitOfWork, order: Any, by: str) -> None:
    """After a part's answer: accept the order when every remaining part has accepted."""
    if order["status"] != ReservationStatus.HELD.value:
        return
    if acceptance(await uow.fulfilment.part_states(order["order_id"])) is Outcome.ACCEPTED:
        await uow.fulfilment.set_status(order["order_id"], ReservationStatus.ACCEPTED.value)
        await uow.publish(ShopAccepted(order_id=order["order_id"], store_id=order["store_id"], accepted_by=by))


async def accept(uow: UnitOfWork, location_id: str, order_id: str, by: str) -> None:
    """The shop or stall takes its part on (the market or shop itself: every waiting part)."""
    order, parts = await _order_at(uow, location_id, order_id)
    waiting = [p for p in parts if p["status"] == PartStatus.WAITING.value]
    if not waiting:
        states = ", ".join(sorted({p["status"] for p in parts}))
        detail = order["status"] if order["status"] != ReservationStatus.HELD.value else states
        raise FulfilmentRefused(f"the order is already {detail}; nothing of it waits for {location_id} to accept")
    at = now()
    for part in waiting:
        await uow.fulfilment.set_part(order_id, part["location_id"], PartStatus.ACCEPTED, decided_by=by, decided_at=at)
        await uow.cancel_deadline(ACCEPT_DEADLINE, accept_key(order_id, part["location_id"]))
        await uow.publish(
            PartAccepted(order_id=order_id, store_id=order["store_id"], location_id=part["location_id"], accepted_by=by)
        )
    await uow.cancel_deadline(ACCEPT_DEADLINE, order_id)  # a deadline from before parts
    await _settle_acceptance(uow, order, by)


async def drop_parts(uow: UnitOfWork, order: Any, parts: list[Any], reason: str, note: str | None, by: str) -> None:
    """Refused or lapsed parts: their lines refunded, their stock released; the order goes on if anything remains."""
    order_id = order["order_id"]
    at = now()
    dropped: list[tuple[str, list[int], int]] = []
    # Lock every product involved at once, in id order, as every other writer does.
    await uow.stock.lock([h["product_id"] for h in await uow.stock.holds(order_id)])
    for part in parts:
        lines = await uow.fulfilment.lines(order_id, part["location_id"])
        for line in lines:
            await uow.stock.release_line(order_id, line["line_no"], f"released: {reason}", by)
        await uow.fulfilment.set_lines_of_part(order_id, part["location_id"], LineState.REFUNDED)
        await uow.fulfilment.set_part(
            order_id, part["location_id"], PartStatus.REJECTED, decided_by=by, decided_at=at, reason=reason, note=note
        )
        await uow.cancel_deadline(ACCEPT_DEADLINE, accept_key(order_id, part["location_id"]))
        dropped.append((part["location_id"], [ln["line_no"] for ln in lines], sum(ln["estimated_fen"] for ln in lines)))
        await check_low_stock(uow, [ln["product_id"] for ln in lines])
    if acceptance(await uow.fulfilment.part_states(order_id)) is Outcome.NOTHING_LEFT:
        await release_everything(uow, order, reason, by)
        await uow.publish(ShopRejected(order_id=order_id, store_id=order["store_id"], reason=reason, note=note))
        return
    for location_id, line_nos, refund in dropped:
        await uow.publish(
            PartRejected(
                order_id=order_id,
                store_id=order["store_id"],
                location_id=location_id,
                reason=reason,
                note=note,
                line_nos=line_nos,
                refund_fen=refund,
            )
        )
    accepted_by = next(
        (
            p["decided_by"]
            for p in await uow.fulfilment.parts(order_id)
            if p["status"] == PartStatus.ACCEPTED.value and p["decided_by"]
        ),
        by,
    )
    await _settle_acceptance(uow, order, accepted_by)


async def reject(uow: UnitOfWork, location_id: str, order_id: str, by: str, note: str | None) -> None:
    """The shop or stall refuses its part (the market or shop itself: every waiting part)."""
    order, parts = await _order_at(uow, location_id, order_id)
    waiting = [p for p in parts if p["status"] == PartStatus.WAITING.value]
    if not waiting:
        raise FulfilmentRefused(f"the order is already {order['status']}; only a waiting order can be rejected")
    await drop_parts(uow, order, waiting, RejectReason.SHOP_REJECTED.value, note, by)


async def on_accept_deadline(uow: UnitOfWork, deadline: Deadline) -> None:
    """A part's accept limit passed: drop it, and reject the order if that leaves nothing."""
    order_id, location_id = parse_accept_key(deadline.key)
    order = await uow.fulfilment.order(order_id, for_update=True)
    if order is None:
        return
    lapsed = [
        p
        for p in await uow.fulfilment.parts(order_id)
        if p["status"] == PartStatus.WAITING.value and location_id in (None, p["location_id"])
    ]
    if not lapsed:
        return
    where = "the shop" if location_id in (None, order["store_id"]) else f"stall {location_id}"
    await drop_parts(
        uow,
        order,
        lapsed,
        RejectReason.SHOP_TIMEOUT.value,
        f"{where} did not accept the order in time",
        "accept deadline",
    )
