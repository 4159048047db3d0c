"""The order aggregate: what was asked for, for whom, and everything that has happened to it.

All moves go through the shared transition table; the timeline records each move and each
notable fact (stock released, a late event ignored) with its time and cause, because "why is
my order like this?" is the question every shopper, helper and shop eventually asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from services.orders.domain import ledger
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import OrderLine
from shared.errors import Invalid
from shared.events.contracts import HandlingFlags
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus, can_move, check_move

__all__ = ["Fulfilment", "Order", "OrderLine", "TimelineEntry", "Tracking"]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    cause: str
    status: OrderStatus | None = None  # None for a fact that did not move the order
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Packed:
    """The bag as the shop packed it: the final price and what it takes to hand it over."""

    final_fen: int
    difference_fen: int
    bags: int
    weight_g: int
    pickup_point: dict[str, Any]
    handover_code: str


@dataclass
class Tracking:
    """What dispatch has told us about the delivery: the promise, the live ETA, the rider, offers, the locker.

    `rider`, `pickup_offer` and `locker` are small JSON-ready dicts; times in them are ISO strings.
    """

    promised_at: datetime | None = None
    promised_minutes: int | None = None
    eta_shop_at: datetime | None = None
    eta_door_at: datetime | None = None
    late_risk: bool = False
    rider: dict[str, Any] | None = None  # rider_id, name, vehicle, assigned_by, assigned_at
    pickup_offer: dict[str, Any] | None = None  # reason, answer_by, offered_at, answer, answered_by, answered_at
    locker: dict[str, Any] | None = None  # site_id, compartment_id, size, code, collect_by, expired, collected
    cash_collected_fen: int | None = None
    failure_reason: str | None = None

    _TIMES: ClassVar[tuple[str, ...]] = ("promised_at", "eta_shop_at", "eta_door_at")

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "promised_minutes": self.promised_minutes,
            "late_risk": self.late_risk,
            "rider": self.rider,
            "pickup_offer": self.pickup_offer,
            "locker": self.locker,
            "cash_collected_fen": self.cash_collected_fen,
            "failure_reason": self.failure_reason,
        }
        for name in self._TIMES:
            value = getattr(self, name)
            data[name] = value.isoformat() if value else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Tracking:
        data = dict(data or {})
        times = {name: datetime.fromisoformat(data[name]) if data.get(name) else None for name in cls._TIMES}
        return cls(
            promised_minutes=data.get("promised_minutes"),
            late_risk=bool(data.get("late_risk")),
            rider=data.get("rider"),
            pickup_offer=data.get("pickup_offer"),
            locker=data.get("locker"),
            cash_collected_fen=data.get("cash_collected_fen"),
            failure_reason=data.get("failure_reason"),
            **times,
        )


@dataclass
class Order:
    id: str
    store_id: str
    placed_by: str
    placed_for: str
    placed_by_role: str
    fulfilment: Fulfilment
    lines: list[OrderLine]
    status: OrderStatus = OrderStatus.PLACED
    contact_phone: str | None = None
    note: str | None = None
    flags: HandlingFlags = field(default_factory=HandlingFlags)
    packed: Packed | None = None
    return_refund_fen: int | None = None  # the whole final amount, when the bag came back
    reject_reason: str | None = None
    reject_details: dict[str, Any] = field(default_factory=dict)
    delivery_code: str | None = None  # the shopper gives it to the rider at the door; orderer only
    cancel_reason: str | None = None  # 'cancelled' by the orderer, or e.g. 'no_rider' by Linli
    tracking: Tracking = field(default_factory=Tracking)
    timeline: list[TimelineEntry] = field(default_factory=list)
    created_at: datetime | None = None
    payment: ledger.Payment = "balance"
    delivery_fee_fen: int = 0
    platform_fee_fen: int = 0
    slot: dict[str, str] | None = None  # {"start", "end"} as ISO strings, for a delivery in a chosen window
    release_at: datetime | None = None  # when a slot order enters the shop's queue
    postings: list[ledger.Posting] = field(default_factory=list)  # its ledger entries, oldest first
    version: int = 0
    new_entries: list[TimelineEntry] = field(default_factory=list, repr=False)
    changed_lines: set[int] = field(default_factory=set, repr=False)

    @classmethod
    def place(  # noqa: PLR0913 (an order is born with all of these, each by name)
        cls,
        *,
        id: str,
        store_id: str,
        placed_by: str,
        placed_for: str,
        placed_by_role: str,
        fulfilment: Fulfilment,
        lines: list[OrderLine],
        at: datetime,
        contact_phone: str | None = None,
        note: str | None = None,
        flags: HandlingFlags = HandlingFlags(),
        delivery_code: str | None = None,
        payment: ledger.Payment = "balance",
        fees: ledger.Fees = ledger.Fees(),
        slot: dict[str, str] | None = None,
        release_at: datetime | None = None,
    ) -> Order:
        if not lines:
            raise Invalid("an order needs at least one line")
        order = cls(
            id=id,
            store_id=store_id,
            placed_by=placed_by,
            placed_for=placed_for,
            placed_by_role=placed_by_role,
            fulfilment=fulfilment,
            lines=lines,
            contact_phone=contact_phone,
            note=note,
            flags=flags,
            created_at=at,
            delivery_code=delivery_code,
            payment=payment,
            delivery_fee_fen=fees.delivery_fee_fen,
            platform_fee_fen=fees.platform_fee_fen,
            slot=slot,
            release_at=release_at,
        )
        detail: dict[str, Any] = {
            "by": placed_by,
            "for": placed_for,
            "total_fen": order.total_fen,
            "shown_fen": order.shown_fen,
            "payment": payment,
        }
        if slot:
            detail["slot"] = slot
        order._record(TimelineEntry(at, "placed", OrderStatus.PLACED, detail))
        return order

    @property
    def total_fen(self) -> int:
        """The goods as shown at checkout (estimates for weighed goods), without fees."""
        return sum(line.estimated_fen for line in self.lines)

    @property
    def fees(self) -> ledger.Fees:
        return ledger.Fees(self.delivery_fee_fen, self.platform_fee_fen)

    @property
    def shown_fen(self) -> int:
        """What the shopper was shown to pay: goods and fees."""
        return self.total_fen + self.fees.total_fen

    @property
    def final_charge_fen(self) -> int | None:
        """What the order costs in the end, once packed or ended (goods as packed, plus fees)."""
        return ledger.final_fen(
            self.status, self.packed.final_fen if self.packed else None, self.fees, carried=self.dispatched
        )

    def money(self) -> ledger.Summary:
        return ledger.summarize(
            self.payment,
            self.total_fen,
            self.fees,
            self.final_charge_fen,
            self.postings,
            delivered=self.status in ledger.DELIVERED,
        )

    @property
    def refund_fen(self) -> int:
        """Money back against the shown total: refunded or cheaper lines, and a returned bag."""
        return sum(line.refund_fen for line in self.lines) + (self.return_refund_fen or 0)

    def line(self, line_no: int) -> OrderLine | None:
        return next((ln for ln in self.lines if ln.line_no == line_no), None)

    @property
    def fulfilment_mode(self) -> FulfilmentMode:
        return self.fulfilment.mode

    @property
    def dispatched(self) -> bool:
        """A rider carries it (delivery to the door, or to a locker), so dispatch follows it."""
        return self.fulfilment.dispatched

    def _record(self, entry: TimelineEntry) -> None:
        self.timeline.append(entry)
        self.new_entries.append(entry)

    def move(
        self,
        target: OrderStatus,
        at: datetime,
        cause: str,
        detail: dict[str, Any] | None = None,
        *,
        system: bool = False,
    ) -> None:
        check_move(self.status, target, system=system)
        self.status = target
        self.version += 1
        self._record(TimelineEntry(at, cause, target, detail or {}))

    def note_fact(self, at: datetime, cause: str, detail: dict[str, Any] | None = None) -> None:
        self._record(TimelineEntry(at, cause, None, detail or {}))

    def move_or_note(
        self, target: OrderStatus, at: datetime, cause: str, what: str, detail: dict[str, Any] | None = None
    ) -> bool:
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

    def cancel(
        self, at: datetime, by: str, reason: str = "cancelled", *, system: bool = False, cause: str = "cancelled"
    ) -> OrderStatus:
        """The orderer cancels (until picking starts); Linli itself may cancel later (`system`, e.g. no_rider)."""
        previous = self.status
        self.move(OrderStatus.CANCELLED, at, cause, {"by": by, "reason": reason}, system=system)
        self.cancel_reason = reason
        return previous

    def is_visible_to_orderer(self, subject: str) -> bool:
        return subject in (self.placed_by, self.placed_for)
