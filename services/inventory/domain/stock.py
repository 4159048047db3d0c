"""Stock and reservations: the rules that make overselling impossible.

A product's stock has what is on the shelf (`on_hand`) and what is promised to orders
(`reserved`); only the difference is available. An order's lines are reserved together or not
at all: half a basket is not what the shopper asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared.errors import Conflict, Invalid


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


class Shortage(Conflict):
    """Not enough available stock for what was asked (HTTP 409)."""


def shortfalls(levels: Mapping[str, StockLevel], requests: Sequence[LineRequest]) -> list[Shortfall]:
    """Every line that cannot be met, with what was asked for and what is there."""
    wanted: dict[str, int] = {}
    for req in requests:
        if req.quantity <= 0:
            raise Invalid(f"line {req.line_no}: quantity must be positive")
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


@dataclass(frozen=True)
class Hold:
    """Stock promised to one order line: `stock.reserved` is always the sum of the live holds."""

    order_id: str
    line_no: int
    product_id: str
    quantity: int


@dataclass(frozen=True)
class Movement:
    """A change of a product's reserved stock for one order, as the stock books record it."""

    product_id: str
    reserved_delta: int
    reason: str
    order_id: str | None
