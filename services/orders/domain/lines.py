"""One order line and what picking made of it: picked, out of stock, substituted, refunded, or waiting.

A line keeps what was shown at checkout (`estimated_fen`) beside what the shop ended up
charging (`final_fen`), so the shopper can see exactly where money came back and why. A
question the shop asks (a heavy weighed line, a substitute outside the preference) sits on
the line as a `PendingApproval` until inventory settles it, even after the shopper answered:
inventory decides whose answer (or the deadline) won.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.events.contracts import ApprovalKind, SubstitutionMode

__all__ = [
    "REFUNDED",
    "LineStatus",
    "OrderLine",
    "PendingApproval",
    "Substitute",
    "SubstituteNumbers",
    "SubstitutionChoice",
    "SubstitutionMode",
    "WeightNumbers",
]


class LineStatus(StrEnum):
    RESERVED = "reserved"  # held for the order, not picked yet
    PICKED = "picked"
    OUT_OF_STOCK = "out_of_stock"  # refunded: nothing on the shelf and no substitute
    SUBSTITUTED = "substituted"
    REFUNDED = "refunded"  # its stall refused, or its substitute was declined
    AWAITING_APPROVAL = "awaiting_approval"


REFUNDED = frozenset({LineStatus.OUT_OF_STOCK, LineStatus.REFUNDED})


@dataclass(frozen=True)
class SubstitutionChoice:
    """The shopper's wish for a line that cannot be picked as ordered."""

    mode: SubstitutionMode = SubstitutionMode.NONE
    product_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "product_id": self.product_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SubstitutionChoice:
        data = data or {}
        return cls(SubstitutionMode(data.get("mode") or "none"), data.get("product_id"))


@dataclass(frozen=True)
class Substitute:
    """What the shop offered instead; `accepted` stays None until it is settled."""

    product_id: str
    location_id: str
    name_zh: str
    name_en: str
    unit: str
    quantity: int
    price_fen: int
    accepted: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Substitute | None:
        return cls(**data) if data else None


@dataclass(frozen=True)
class WeightNumbers:
    """A weighed line over the shop's tolerance: the estimate against what the scale said."""

    estimated_g: int
    actual_g: int
    over_pct: float
    estimated_fen: int
    actual_fen: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SubstituteNumbers:
    """A substitute outside the shopper's preference: what it is, against the line's shown price."""

    substitute: Substitute
    estimated_fen: int
    substitute_fen: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "substitute": self.substitute.as_dict(),
            "estimated_fen": self.estimated_fen,
            "substitute_fen": self.substitute_fen,
        }


@dataclass(frozen=True)
class PendingApproval:
    """A question to the shopper; `numbers` are what they decide on (grams, prices, the substitute)."""

    kind: ApprovalKind
    deadline: datetime | None
    numbers: WeightNumbers | SubstituteNumbers
    answer: bool | None = None  # the shopper's answer, before inventory settles it
    answered_by: str | None = None
    answered_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "deadline": _iso(self.deadline),
            "numbers": self.numbers.as_dict(),
            "answer": self.answer,
            "answered_by": self.answered_by,
            "answered_at": _iso(self.answered_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PendingApproval | None:
        if not data:
            return None
        kind = ApprovalKind(data["kind"])
        numbers = dict(data["numbers"])
        return cls(
            kind,
            _dt(data.get("deadline")),
            WeightNumbers(**numbers)
            if kind is ApprovalKind.WEIGHT
            else SubstituteNumbers(
                Substitute(**numbers["substitute"]), numbers["estimated_fen"], numbers["substitute_fen"]
            ),
            data.get("answer"),
            data.get("answered_by"),
            _dt(data.get("answered_at")),
        )


@dataclass
class OrderLine:
    line_no: int
    product_id: str
    location_id: str
    name_zh: str
    name_en: str
    unit: str
    quantity: int  # pieces
    stock_quantity: int  # in the product's unit: pieces, or estimated grams
    unit_price_fen: int  # per piece, or per kg for weighed goods, snapshotted when placed
    estimated_fen: int
    substitution: SubstitutionChoice = SubstitutionChoice()
    status: LineStatus = LineStatus.RESERVED
    final_quantity: int | None = None  # in the unit of what is in the bag (the substitute's, if substituted)
    final_fen: int | None = None
    refund_fen: int = 0  # money back on this line: all of it if refunded, the difference if cheaper
    substitute: Substitute | None = None
    pending: PendingApproval | None = None

    def settle(self, status: LineStatus, quantity: int | None, price_fen: int) -> None:
        """The line's outcome is known: keep it and what it gives back against the shown price."""
        self.status = status
        self.final_quantity = quantity
        self.final_fen = price_fen
        self.refund_fen = max(0, self.estimated_fen - price_fen)
        self.pending = None

    def refund(self, status: LineStatus, refund_fen: int | None = None) -> None:
        """Nothing of this line goes in the bag; the shopper gets back what they were shown."""
        self.status = status
        self.final_quantity = 0
        self.final_fen = 0
        self.refund_fen = self.estimated_fen if refund_fen is None else refund_fen
        self.pending = None

    def back_to_picking(self) -> None:
        """A declined heavy piece: the shop picks again, so nothing is final yet."""
        self.status = LineStatus.RESERVED
        self.final_quantity = None
        self.final_fen = None
        self.refund_fen = 0
        self.pending = None


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
