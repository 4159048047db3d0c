"""Picking one line: as ordered, weighed, out of stock, or substituted; and who must agree.

The shopper's per-line preference decides whether a substitute goes straight into the bag or
waits for their answer; a weighed line much heavier than its estimate waits for them too, so
nobody is charged a surprise without saying yes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.errors import Conflict, Invalid
from shared.events.contracts import LineOutcome, SubstitutionMode
from shared.vocabulary.money import divide_half_up
from shared.vocabulary.units import StockUnit, line_price


class LineState(StrEnum):
    RESERVED = "reserved"  # waiting to be picked
    PICKED = "picked"
    WEIGHT_PENDING = "weight_pending"  # heavier than the tolerance: the shopper decides
    OUT_OF_STOCK = "out_of_stock"  # refunded
    SUBSTITUTE_PENDING = "substitute_pending"  # a substitute outside the preference: the shopper decides
    SUBSTITUTED = "substituted"
    REFUNDED = "refunded"  # its part was rejected, or its substitute declined


L = LineState

# docs/fulfilment.md, "Picking, weights and substitutions": each line ends picked, out of stock,
# substituted or refunded; a heavy weight or a substitute outside the preference waits for the
# shopper, and a declined weight sends the line back to be picked again.
MOVES: Mapping[LineState, frozenset[LineState]] = {
    L.RESERVED: frozenset(
        {L.PICKED, L.WEIGHT_PENDING, L.OUT_OF_STOCK, L.SUBSTITUTE_PENDING, L.SUBSTITUTED, L.REFUNDED}
    ),
    L.WEIGHT_PENDING: frozenset({L.PICKED, L.RESERVED}),
    L.SUBSTITUTE_PENDING: frozenset({L.SUBSTITUTED, L.REFUNDED}),
    L.PICKED: frozenset(),
    L.OUT_OF_STOCK: frozenset(),
    L.SUBSTITUTED: frozenset(),
    L.REFUNDED: frozenset(),
}

RESOLVED = frozenset({L.PICKED, L.OUT_OF_STOCK, L.SUBSTITUTED, L.REFUNDED})
AWAITING_SHOPPER = frozenset({L.WEIGHT_PENDING, L.SUBSTITUTE_PENDING})


def can_move(current: LineState, target: LineState) -> bool:
    return target in MOVES[current]


@dataclass
class Line:
    """One line of an order as the shop fulfils it; `quantity` stays what was reserved at placement."""

    order_id: str
    line_no: int
    product_id: str
    location_id: str
    quantity: int  # in the product's unit: pieces, or grams estimated
    unit: StockUnit
    ordered_pieces: int
    unit_price_fen: int
    estimated_fen: int
    substitution: dict[str, Any] = field(default_factory=lambda: {"mode": "none"})  # the shopper's preference
    state: LineState = L.RESERVED
    picked_quantity: int | None = None
    pending_quantity: int | None = None
    charged_fen: int | None = None
    substitute: dict[str, Any] | None = None  # the SubstituteItem offered, as JSON

    def move(self, target: LineState) -> None:
        if not can_move(self.state, target):
            raise Conflict(f"line {self.line_no} is {self.state.value} and cannot become {target.value}")
        self.state = target

    def require(self, *states: LineState) -> None:
        if self.state not in states:
            raise Conflict(
                f"line {self.line_no} is {self.state.value}; this is possible only while it is "
                f"{' or '.join(s.value for s in states)}"
            )

    def price(self, quantity: int) -> int:
        """The line's price for `quantity` at the price the shopper was shown when ordering."""
        if self.unit_price_fen:
            return line_price(self.unit, self.unit_price_fen, quantity)
        return divide_half_up(self.estimated_fen * quantity, self.quantity)  # older orders without a unit price

    def pick(self, quantity: int, charged_fen: int) -> None:
        self.move(L.PICKED)
        self.picked_quantity, self.charged_fen = quantity, charged_fen

    def await_weight_approval(self, quantity: int) -> None:
        self.move(L.WEIGHT_PENDING)
        self.pending_quantity = quantity

    def settle_weight(self, accepted: bool, timed_out: bool) -> int:
        """The shopper's answer on a heavy line (or none in time); returns what is charged now."""
        actual = self.pending_quantity or 0
        self.pending_quantity = None
        if accepted or timed_out:  # no answer: the heavy piece goes, at the price of the estimate
            charged = self.price(actual) if accepted else self.estimated_fen
            self.pick(actual, charged)
            return charged
        self.move(L.RESERVED)  # back to the shelf: pick a lighter piece, or mark it out of stock
        return 0

    def out_of_stock(self) -> None:
        self.move(L.OUT_OF_STOCK)
        self.charged_fen = 0

    def propose_substitute(
        self, substitute: dict[str, Any], quantity: int, price_fen: int, needs_approval: bool
    ) -> None:
        self.substitute = substitute
        if needs_approval:
            self.move(L.SUBSTITUTE_PENDING)
        else:
            self.move(L.SUBSTITUTED)
            self.picked_quantity, self.charged_fen = quantity, price_fen

    def settle_substitute(self, accepted: bool, quantity: int, price_fen: int) -> None:
        if accepted:
            self.move(L.SUBSTITUTED)
            self.picked_quantity, self.charged_fen = quantity, price_fen
        else:
            self.refund()

    def refund(self) -> None:
        self.move(L.REFUNDED)
        self.charged_fen = 0

    def substitute_needs_approval(self, substitute_product: str) -> bool:
        preference = self.substitution or {}
        mode = SubstitutionMode(preference.get("mode", "none"))
        return substitute_needs_approval(mode, preference.get("product_id"), substitute_product)

    def in_bag(self) -> tuple[str, int]:
        """The product that is in the bag for this line, and how much of it (in its unit)."""
        if self.state is L.SUBSTITUTED and self.substitute is not None:
            return str(self.substitute["product_id"]), int(self.picked_quantity or 0)
        if self.state is L.PICKED:
            return self.product_id, int(self.picked_quantity or 0)
        return self.product_id, 0


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
        raise Invalid("the weight must be at least 1 g")
    if estimated_g <= 0:
        return WeightCheck(0.0, False)
    over = (actual_g - estimated_g) * 100.0 / estimated_g
    return WeightCheck(round(max(over, 0.0), 2), over > tolerance_pct)


def picked_quantity(unit: StockUnit, estimated: int, weight_g: int | None, line_no: int) -> int:
    """What leaves the shelf for a line picked as ordered: the pieces, or the grams actually weighed."""
    if unit is StockUnit.GRAM:
        if weight_g is None:
            raise Invalid(f"line {line_no} is sold by weight: send weight_g, the grams actually weighed")
        if weight_g <= 0:
            raise Invalid(f"line {line_no}: weight_g must be at least 1 g")
        return weight_g
    if weight_g is not None:
        raise Invalid(f"line {line_no} is counted in pieces; send no weight_g")
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
