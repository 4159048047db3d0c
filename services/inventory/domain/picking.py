"""Picking one line: as ordered, weighed, out of stock, or substituted; and who must agree.

The shopper's per-line preference decides whether a substitute goes straight into the bag or
waits for their answer; a weighed line much heavier than its estimate waits for them too, so
nobody is charged a surprise without saying yes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from services.inventory.domain.fulfilment import BadRequest
from shared.events.contracts import LineOutcome, SubstitutionMode
from shared.vocabulary.units import StockUnit


class LineState(StrEnum):
    RESERVED = "reserved"  # waiting to be picked
    PICKED = "picked"
    WEIGHT_PENDING = "weight_pending"  # heavier than the tolerance: the shopper decides
    OUT_OF_STOCK = "out_of_stock"  # refunded
    SUBSTITUTE_PENDING = "substitute_pending"  # a substitute outside the preference: the shopper decides
    SUBSTITUTED = "substituted"
    REFUNDED = "refunded"  # its part was rejected, or its substitute declined


RESOLVED = frozenset({LineState.PICKED, LineState.OUT_OF_STOCK, LineState.SUBSTITUTED, LineState.REFUNDED})
AWAITING_SHOPPER = frozenset({LineState.WEIGHT_PENDING, LineState.SUBSTITUTE_PENDING})


def substitute_needs_approval(mode: SubstitutionMode, named_product: str | None, substitute_product: str) -> bool:
    """`best_match`: any substitute is fine; `product`: only the named one is; `none`: ask for every one."""
    if mode is SubstitutionMode.BEST_MATCH:
        return False
    if mode is SubstitutionMode.PRODUCT:
        return named_product != substitute_product
    return True


@dataclass(frozen=True)
class WeightCheck:
    over_pct: float
    needs_approval: bool


def check_weight(estimated_g: int, actual_g: int, tolerance_pct: float) -> WeightCheck:
    """How far over the estimate a weighed line came out, and whether that is too far to just charge."""
    if actual_g <= 0:
        raise BadRequest("the weight must be at least 1 g")
    if estimated_g <= 0:
        return WeightCheck(0.0, False)
    over = (actual_g - estimated_g) * 100.0 / estimated_g
    return WeightCheck(round(max(over, 0.0), 2), over > tolerance_pct)


def picked_quantity(unit: StockUnit, estimated: int, weight_g: int | None, line_no: int) -> int:
    """What leaves the shelf for a line picked as ordered: the pieces, or the grams actually weighed."""
    if unit is StockUnit.GRAM:
        if weight_g is None:
            raise BadRequest(f"line {line_no} is sold by weight: send weight_g, the grams actually weighed")
        if weight_g <= 0:
            raise BadRequest(f"line {line_no}: weight_g must be at least 1 g")
        return weight_g
    if weight_g is not None:
        raise BadRequest(f"line {line_no} is counted in pieces; send no weight_g")
    return estimated


def first_unresolved(lines: Sequence[tuple[int, LineState]]) -> str | None:
    """Why a part cannot be packed yet, naming the first line that holds it up; None when it can."""
    for line_no, state in sorted(lines):
        if state in AWAITING_SHOPPER:
            what = "its weight" if state is LineState.WEIGHT_PENDING else "its substitute"
            return f"line {line_no} waits for the shopper to approve {what}"
        if state not in RESOLVED:
            return f"line {line_no} is not picked yet: pick it, mark it out of stock or substitute it"
    return None


def packed_outcome(state: LineState) -> LineOutcome:
    if state is LineState.PICKED:
        return LineOutcome.PICKED
    if state is LineState.SUBSTITUTED:
        return LineOutcome.SUBSTITUTED
    return LineOutcome.OUT_OF_STOCK
