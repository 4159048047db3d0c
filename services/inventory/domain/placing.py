"""Placed orders decided one after another against the same stock: held whole, or refused with the reason.

A run of placed orders (one, or a consumer's batch) is decided in offset order against running
stock levels: an order earlier in the run takes stock a later one then cannot have, exactly as
if each had been applied alone after the one before. Nothing here reads or writes a database:
the service layer loads the locations and locks the stock rows once for the whole run, and
writes what the run gathered (reservations, lines, parts, holds, movements, events) together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from services.inventory.domain.availability import Watched, announcements, notice
from services.inventory.domain.catalog import Location
from services.inventory.domain.fulfilment import Part, PartStatus, parts_of
from services.inventory.domain.picking import Line
from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.domain.shop_hours import refusal
from services.inventory.domain.slots import clock_starts
from services.inventory.domain.stock import Hold, LineRequest, Movement, Shortfall, StockLevel, reserve_all
from shared.events.contracts import (
    LowStock,
    OrderedLine,
    OrderPlaced,
    PartDeadline,
    ReservedLine,
    ShortLine,
    StockLevelChanged,
    StockRejected,
    StockReserved,
)
from shared.vocabulary.order_status import RejectReason
from shared.vocabulary.units import StockUnit

Said = StockReserved | StockRejected | StockLevelChanged | LowStock
C = TypeVar("C")  # what each event of the run answers (the consumer's envelope)


def involved(event: OrderPlaced) -> list[str]:
    """The order's shop or market first, then each line's location, once each."""
    return list(dict.fromkeys([event.store_id, *(ln.location_id for ln in event.lines)]))


def accept_limit_s(location: Location, locations: Mapping[str, Location], default_s: float) -> float:
    """The stall's own limit, else its market's, else the default."""
    if location.accept_limit_s:
        return float(location.accept_limit_s)
    parent = locations.get(location.parent_id) if location.parent_id else None
    if parent is not None and parent.accept_limit_s:
        return float(parent.accept_limit_s)
    return default_s


def short_of(event: OrderPlaced, short: Sequence[Shortfall]) -> StockRejected:
    """Out of stock when every short line is a known product; an unknown product otherwise."""
    return StockRejected(
        order_id=event.order_id,
        store_id=event.store_id,
        reason=RejectReason.OUT_OF_STOCK.value if all(s.unit for s in short) else RejectReason.UNKNOWN_PRODUCT.value,
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


@dataclass
class Placing(Generic[C]):
    """Orders decided in turn against `levels` (raised by each order held) and `watched` (what was last
    published about each product); what they come to is gathered in order, to be written together."""

    locations: Mapping[str, Location]
    levels: dict[str, StockLevel]
    watched: dict[str, Watched]
    timezone: str
    accept_limit_s: float
    reservations: list[Reservation] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)
    said: list[tuple[C, Said]] = field(default_factory=list)

    def place(self, cause: C, event: OrderPlaced, now: datetime) -> bool:
        """Hold the whole basket or nothing, and split it into parts; True when it was held."""
        starts = clock_starts(event.release_at, now)  # a slot order is worked on (so must be open) from its release
        where = [self.locations.get(lid) for lid in involved(event)]
        closed = refusal([loc for loc in where if loc is not None], self.timezone, starts)
        if closed is not None:
            # Orders checked the hours at POST /orders; a change was in flight. Say when it opens.
            rejected = StockRejected(
                order_id=event.order_id,
                store_id=event.store_id,
                reason=RejectReason.SHOP_CLOSED.value,
                short_lines=[],
                note=closed[1],
            )
            self.said.append((cause, rejected))
            return False
        requests = [LineRequest(ln.line_no, ln.product_id, ln.location_id, ln.stock_quantity) for ln in event.lines]
        before = {
            pid: self.levels[pid].reserved for pid in sorted({r.product_id for r in requests} & self.levels.keys())
        }
        short = reserve_all(self.levels, requests)
        if short:
            self.said.append((cause, short_of(event, short)))
            return False
        self.movements += [
            Movement(pid, self.levels[pid].reserved - was, "reserved", event.order_id)
            for pid, was in before.items()
            if self.levels[pid].reserved != was
        ]
        self.holds += [Hold(event.order_id, r.line_no, r.product_id, r.quantity) for r in requests]
        parts = self._split(event, starts)
        self.reservations.append(_reservation(event, min(p.accept_deadline for p in parts)))
        self.lines += [_line(event.order_id, ln) for ln in event.lines]
        self.parts += parts
        self.said.append((cause, _reserved(event, requests, parts)))
        for pid in before:  # what the low-stock check says after this order, in product id order
            self._notice(cause, pid)
        return True

    def _split(self, event: OrderPlaced, starts: datetime) -> list[Part]:
        """One part per fulfilling location, each with its own accept deadline."""
        parts: list[Part] = []
        for location_id in parts_of((ln.line_no, ln.location_id) for ln in event.lines):
            location = self.locations[location_id]  # reserve_all refused lines of unknown locations
            limit = accept_limit_s(location, self.locations, self.accept_limit_s)
            parts.append(Part(event.order_id, location_id, PartStatus.WAITING, starts + timedelta(seconds=limit)))
        return parts

    def _notice(self, cause: C, product_id: str) -> None:
        watched = self.watched.get(product_id)
        if watched is None:
            return
        watched = replace(watched, available=self.levels[product_id].available)
        noticed = notice(watched)
        self.watched[product_id] = noticed.after
        self.said += [(cause, said) for said in announcements(watched, noticed)]


def _reservation(event: OrderPlaced, earliest: datetime) -> Reservation:
    flags = event.flags.model_copy(
        update={"pay_on_delivery": event.flags.pay_on_delivery or event.payment == "on_delivery"}
    )  # the rider collects: staff must know
    return Reservation(
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


def _line(order_id: str, ln: OrderedLine) -> Line:
    return Line(
        order_id=order_id,
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


def _reserved(event: OrderPlaced, requests: Sequence[LineRequest], parts: Sequence[Part]) -> StockReserved:
    return StockReserved(
        order_id=event.order_id,
        store_id=event.store_id,
        accept_deadline=min(p.accept_deadline for p in parts),
        lines=[
            ReservedLine(line_no=r.line_no, product_id=r.product_id, location_id=r.location_id, quantity=r.quantity)
            for r in requests
        ],
        parts=[PartDeadline(location_id=p.location_id, accept_deadline=p.accept_deadline) for p in parts],
    )
