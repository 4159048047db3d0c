"""The order aggregate: what was asked for, for whom, and everything that has happened to it.

All moves go through the shared transition table; the timeline records each move and each
notable fact (stock released, a late event ignored) with its time and cause, because "why is
my order like this?" is the question every shopper, helper and shop eventually asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.orders.domain.lines import OrderLine
from shared.vocabulary.order_status import OrderStatus, can_move, check_move

__all__ = ["Order", "OrderLine", "TimelineEntry"]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    cause: str
    status: OrderStatus | None = None  # None for a fact that did not move the order
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Order:
    id: str
    store_id: str
    placed_by: str
    placed_for: str
    placed_by_role: str
    fulfilment: dict[str, Any]
    lines: list[OrderLine]
    status: OrderStatus = OrderStatus.PLACED
    contact_phone: str | None = None
    note: str | None = None
    flags: dict[str, bool] = field(default_factory=dict)
    packed: Packed | None = None
    return_refund_fen: int | None = None  # the whole final amount, when the bag came back
    reject_reason: str | None = None
    reject_details: dict[str, Any] = field(default_factory=dict)
    timeline: list[TimelineEntry] = field(default_factory=list)
    created_at: datetime | None = None
    version: int = 0
    new_entries: list[TimelineEntry] = field(default_factory=list, repr=False)
    changed_lines: set[int] = field(default_factory=set, repr=False)

    @classmethod
    def place(cls, *, id: str, store_id: str, placed_by: str, placed_for: str, placed_by_role: str,
              fulfilment: dict[str, Any], lines: list[OrderLine], at: datetime, contact_phone: str | None = None,
              note: str | None = None, flags: dict[str, bool] | None = None) -> Order:
        if not lines:
            raise ValueError("an order needs at least one line")
        order = cls(id=id, store_id=store_id, placed_by=placed_by, placed_for=placed_for,
                    placed_by_role=placed_by_role, fulfilment=fulfilment, lines=lines,
                    contact_phone=contact_phone, note=note, flags=dict(flags or {}), created_at=at)
        order._record(TimelineEntry(at, "placed", OrderStatus.PLACED,
                                    {"by": placed_by, "for": placed_for, "total_fen": order.total_fen}))
        return order

    @property
    def total_fen(self) -> int:
        return sum(line.estimated_fen for line in self.lines)

    @property
    def refund_fen(self) -> int:
        """Money back against the shown total: refunded or cheaper lines, and a returned bag."""
        return sum(line.refund_fen for line in self.lines) + (self.return_refund_fen or 0)

    def line(self, line_no: int) -> OrderLine | None:
        return next((ln for ln in self.lines if ln.line_no == line_no), None)

    @property
    def fulfilment_mode(self) -> str:
        return str(self.fulfilment.get("mode", "delivery"))

    def _record(self, entry: TimelineEntry) -> None:
        self.timeline.append(entry)
        self.new_entries.append(entry)

    def move(self, target: OrderStatus, at: datetime, cause: str, detail: dict[str, Any] | None = None) -> None:
        check_move(self.status, target)
        self.status = target
        self.version += 1
        self._record(TimelineEntry(at, cause, target, detail or {}))

    def note_fact(self, at: datetime, cause: str, detail: dict[str, Any] | None = None) -> None:
        self._record(TimelineEntry(at, cause, None, detail or {}))

    def move_or_note(self, target: OrderStatus, at: datetime, cause: str, what: str,
                     detail: dict[str, Any] | None = None) -> bool:
        """Make the move if the order still can; otherwise keep the late fact on the timeline."""
        if can_move(self.status, target):
            self.move(target, at, cause, detail)
            return True
        self.note_fact(at, f"{what} arrived after the order was {self.status.value}; nothing changed", detail)
        return False

    def confirm(self, at: datetime) -> None:
        self.move(OrderStatus.CONFIRMED, at, "stock reserved")

    def reject(self, reason: str, at: datetime, details: dict[str, Any] | None = None) -> None:
        self.move(OrderStatus.REJECTED, at, f"rejected: {reason}", {"reason": reason, **(details or {})})
        self.reject_reason = reason
        self.reject_details = details or {}

    def accept(self, at: datetime, by: str) -> None:
        self.move(OrderStatus.ACCEPTED, at, "accepted by the shop", {"by": by})

    def cancel(self, at: datetime, by: str) -> OrderStatus:
        previous = self.status
        self.move(OrderStatus.CANCELLED, at, "cancelled", {"by": by})
        return previous

    def is_visible_to_orderer(self, subject: str) -> bool:
        return subject in (self.placed_by, self.placed_for)


@dataclass(frozen=True)
class Packed:
    """The bag as the shop packed it: the final price and what it takes to hand it over."""

    final_fen: int
    difference_fen: int
    bags: int
    weight_g: int
    pickup_point: dict[str, Any]
    handover_code: str
