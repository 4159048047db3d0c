"""Stock and reservations: the rules that make overselling impossible.

A product's stock has what is on the shelf (`on_hand`) and what is promised to orders
(`reserved`); only the difference is available. An order's lines are reserved together or not
at all: half a basket is not what the shopper asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum


@dataclass
class StockLevel:
    product_id: str
    location_id: str
    unit: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class LineRequest:
    line_no: int
    product_id: str
    location_id: str
    quantity: int  # in the product's unit


@dataclass(frozen=True)
class Shortfall:
    product_id: str
    location_id: str | None
    requested: int
    available: int
    unit: str | None


class ReservationStatus(StrEnum):
    """The order as inventory sees it; each part (shop or stall) has its own status too."""

    HELD = "held"  # some part still waits for its shop or stall to accept; parts lapse at their deadlines
    ACCEPTED = "accepted"  # every remaining part accepted; holds until handover commits it or a release
    PICKING = "picking"  # a part started picking: the shopper can no longer cancel
    PACKED = "packed"  # every remaining part packed; waits for the handover code
    RELEASED = "released"
    COMMITTED = "committed"  # handed over: the stock left the shop
    RETURNED = "returned"  # the bag came back


class ReservationRefused(Exception):
    pass


def shortfalls(levels: Mapping[str, StockLevel], requests: Sequence[LineRequest]) -> list[Shortfall]:
    """Every line that cannot be met, with what was asked for and what is there."""
    wanted: dict[str, int] = {}
    for req in requests:
        if req.quantity <= 0:
            raise ValueError(f"line {req.line_no}: quantity must be positive")
        wanted[req.product_id] = wanted.get(req.product_id, 0) + req.quantity
    short: list[Shortfall] = []
    for req in requests:
        level = levels.get(req.product_id)
        if level is None:
            short.append(Shortfall(req.product_id, req.location_id, req.quantity, 0, None))
        elif level.location_id != req.location_id:
            short.append(Shortfall(req.product_id, req.location_id, req.quantity, 0, level.unit))
        elif wanted[req.product_id] > level.available:
            short.append(Shortfall(req.product_id, req.location_id, req.quantity, max(level.available, 0), level.unit))
    return short


def reserve_all(levels: Mapping[str, StockLevel], requests: Sequence[LineRequest]) -> list[Shortfall]:
    """Reserve every line, or none; returns the shortfalls (empty when all was reserved)."""
    short = shortfalls(levels, requests)
    if short:
        return short
    for req in requests:
        levels[req.product_id].reserved += req.quantity
    return []


def release(levels: Mapping[str, StockLevel], requests: Sequence[LineRequest]) -> None:
    for req in requests:
        level = levels[req.product_id]
        if req.quantity > level.reserved:
            raise ReservationRefused(
                f"cannot release {req.quantity} of {req.product_id}: only {level.reserved} reserved"
            )
        level.reserved -= req.quantity


def check_transition(current: ReservationStatus, target: ReservationStatus) -> None:
    allowed = {
        ReservationStatus.HELD: {ReservationStatus.ACCEPTED, ReservationStatus.RELEASED},
        ReservationStatus.ACCEPTED: {
            ReservationStatus.PICKING,
            ReservationStatus.RELEASED,
            ReservationStatus.COMMITTED,
        },
        ReservationStatus.PICKING: {ReservationStatus.PACKED, ReservationStatus.RELEASED},
        ReservationStatus.PACKED: {ReservationStatus.COMMITTED, ReservationStatus.RETURNED, ReservationStatus.RELEASED},
        ReservationStatus.COMMITTED: {ReservationStatus.RETURNED},
    }
    if target not in allowed.get(current, set()):
        raise ReservationRefused(f"the reservation is {current.value} and cannot become {target.value}")
