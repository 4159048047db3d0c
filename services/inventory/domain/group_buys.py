"""The stock behind a group buy: the deal's whole cap held at once, then one consolidated order at its cutoff.

A `DealStock` moves only along `MOVES`: held (every line's cap, or nothing: refused), then released
(the deal was cancelled or failed) or ordered (the cutoff: the consolidated order keeps what the
bags took, and the rest goes back). Holding uses the same all-or-nothing rule as an order's
basket (`stock.reserve_all`), under the same row locks. Nothing here reads or writes a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from services.inventory.domain.fulfilment import Part, PartStatus, parts_of
from services.inventory.domain.picking import Line
from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.domain.stock import Hold, LineRequest, Movement, Shortfall, StockLevel, reserve_all
from shared.errors import Conflict
from shared.events.contracts import GroupBuyAccepted, GroupBuyClosed
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.units import StockUnit


class DealStockStatus(StrEnum):
    HELD = "held"
    REFUSED = "refused"  # the caps exceeded what was available: nothing was held
    RELEASED = "released"
    ORDERED = "ordered"  # the cutoff turned it into the consolidated order


S = DealStockStatus
MOVES: Mapping[DealStockStatus, frozenset[DealStockStatus]] = {
    S.HELD: frozenset({S.RELEASED, S.ORDERED}),
    S.REFUSED: frozenset(),
    S.RELEASED: frozenset(),
    S.ORDERED: frozenset(),
}


@dataclass(frozen=True)
class HeldLine:
    line_no: int
    product_id: str
    location_id: str
    unit: str
    quantity: int  # the cap, in the product's unit
    group_price_fen: int


@dataclass
class DealStock:
    deal_id: str
    store_id: str
    status: DealStockStatus
    lines: list[HeldLine]
    created_at: datetime
    reason: str | None = None
    version: int = 0

    def move(self, target: DealStockStatus) -> None:
        if target not in MOVES[self.status]:
            raise Conflict(f"the deal's stock is {self.status.value} and cannot become {target.value}")
        self.status = target

    def release(self, reason: str) -> None:
        self.move(S.RELEASED)
        self.reason = reason


@dataclass(frozen=True)
class Held:
    """What holding a deal came to: the deal's stock, and (when held) the holds and movements to write."""

    stock: DealStock
    short: list[Shortfall]
    holds: list[Hold]
    movements: list[Movement]


def hold(event: GroupBuyAccepted, levels: dict[str, StockLevel], now: datetime) -> Held:
    """Hold every line's whole cap, or none (the levels are raised in place when held)."""
    lines = [
        HeldLine(ln.line_no, ln.product_id, ln.location_id, ln.unit.value, ln.stock_quantity, ln.group_price_fen)
        for ln in event.lines
    ]
    requests = [LineRequest(ln.line_no, ln.product_id, ln.location_id, ln.quantity) for ln in lines]
    before = {pid: levels[pid].reserved for pid in {r.product_id for r in requests} & levels.keys()}
    short = reserve_all(levels, requests)
    if short:
        return Held(DealStock(event.deal_id, event.store_id, S.REFUSED, lines, now, "out_of_stock"), short, [], [])
    movements = [
        Movement(pid, levels[pid].reserved - was, f"held for group buy {event.deal_id}", event.deal_id)
        for pid, was in sorted(before.items())
        if levels[pid].reserved != was
    ]
    holds = [Hold(event.deal_id, r.line_no, r.product_id, r.quantity) for r in requests]
    return Held(DealStock(event.deal_id, event.store_id, S.HELD, lines, now), [], holds, movements)


@dataclass(frozen=True)
class Consolidated:
    """The cutoff's one order for the shop, already accepted, and what each held line keeps."""

    reservation: Reservation
    lines: list[Line]
    parts: list[Part]
    keep: dict[int, int]  # line_no -> quantity the order keeps held (0: released whole)


def consolidate(stock: DealStock, event: GroupBuyClosed, now: datetime) -> Consolidated:
    """The deal's totals become one accepted order; order-line limits do not apply, only the deal's caps."""
    held = {ln.line_no: ln for ln in stock.lines}
    keep = {ln.line_no: 0 for ln in stock.lines}
    for total in event.totals:
        line = held.get(total.line_no)
        if line is None or line.product_id != total.product_id:
            raise Conflict(f"line {total.line_no} of the closed deal was never held for it")
        if total.stock_quantity > line.quantity:
            raise Conflict(
                f"{total.product_id}: the bags took {total.stock_quantity}, more than the {line.quantity} held"
            )
        keep[total.line_no] = total.stock_quantity
    stock.move(S.ORDERED)
    bags = len(event.bags)
    reservation = Reservation(
        order_id=event.order_id,
        store_id=stock.store_id,
        status=ReservationStatus.ACCEPTED,  # the shop accepted the deal: that counts for its order
        accept_deadline=now,
        # Dispatch's one trip carries it to a delivered place or a locker site; else the leader collects it.
        fulfilment_mode=FulfilmentMode.DELIVERY
        if event.pickup.delivered or event.pickup.kind == "locker"
        else FulfilmentMode.PICKUP,
        placed_by=event.leader,
        placed_for=event.leader,
        shown_fen=event.goods_fen,
        note=f"group buy: {bags} bag{'s' if bags != 1 else ''} for {event.pickup.name}",
    )
    lines = [
        Line(
            order_id=event.order_id,
            line_no=t.line_no,
            product_id=t.product_id,
            location_id=t.location_id,
            quantity=t.stock_quantity,
            unit=StockUnit(t.unit),
            ordered_pieces=t.quantity,
            unit_price_fen=t.unit_price_fen,
            estimated_fen=t.estimated_fen,
        )
        for t in event.totals
    ]
    parts = [
        Part(event.order_id, location_id, PartStatus.WAITING, now)
        for location_id in parts_of((ln.line_no, ln.location_id) for ln in lines)
    ]
    return Consolidated(reservation, lines, parts, keep)
