"""The reservation: the stock held for one order, as inventory sees the order.

Its status moves only along `MOVES`, the one table production and tests share: held until
every remaining part accepted, accepted, picking, packed (with its handover code), then
committed at the handover or returned; released from anything before the handover.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.inventory.domain.fulfilment import code_matches
from shared.errors import Conflict, Invalid, WrongCode
from shared.events.contracts import HandlingFlags, HandoverTo
from shared.vocabulary.fulfilment import FulfilmentMode


class ReservationStatus(StrEnum):
    """The order as inventory sees it; each part (shop or stall) has its own status too."""

    HELD = "held"  # some part still waits for its shop or stall to accept; parts lapse at their deadlines
    ACCEPTED = "accepted"  # every remaining part accepted; holds until handover commits it or a release
    PICKING = "picking"  # a part started picking: the shopper can no longer cancel
    PACKED = "packed"  # every remaining part packed; waits for the handover code
    RELEASED = "released"
    COMMITTED = "committed"  # handed over: the stock left the shop
    RETURNED = "returned"  # the bag came back


R = ReservationStatus

# docs/fulfilment.md: the stock is committed at the handover of a packed bag, and only then.
MOVES: Mapping[ReservationStatus, frozenset[ReservationStatus]] = {
    R.HELD: frozenset({R.ACCEPTED, R.RELEASED}),
    R.ACCEPTED: frozenset({R.PICKING, R.RELEASED}),
    R.PICKING: frozenset({R.PACKED, R.RELEASED}),
    R.PACKED: frozenset({R.COMMITTED, R.RETURNED, R.RELEASED}),
    R.COMMITTED: frozenset({R.RETURNED}),
    R.RELEASED: frozenset(),
    R.RETURNED: frozenset(),
}

WORKING = frozenset({R.ACCEPTED, R.PICKING})  # lines can be picked
ENDED = frozenset({R.RELEASED, R.COMMITTED, R.RETURNED})  # nothing of it waits at the shop any more


def can_move(current: ReservationStatus, target: ReservationStatus) -> bool:
    return target in MOVES[current]


@dataclass
class Reservation:
    order_id: str
    store_id: str
    status: ReservationStatus
    accept_deadline: datetime
    fulfilment_mode: FulfilmentMode
    placed_by: str | None = None
    placed_for: str | None = None
    flags: dict[str, Any] = field(default_factory=dict)  # HandlingFlags as stored, shown to staff as they are
    shown_fen: int = 0
    note: str | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    release_at: datetime | None = None
    final_fen: int | None = None
    handover_code: str | None = None
    bags: int | None = None
    weight_g: int | None = None
    packed_at: datetime | None = None
    handed_over_to: HandoverTo | None = None
    handed_over_by: str | None = None
    handed_over_at: datetime | None = None
    returned_at: datetime | None = None
    release_reason: str | None = None
    created_at: datetime | None = None
    version: int = 0  # as loaded; a save of an older version than the stored one is refused

    def move(self, target: ReservationStatus) -> None:
        if not can_move(self.status, target):
            raise Conflict(f"the reservation is {self.status.value} and cannot become {target.value}")
        self.status = target

    @property
    def handling(self) -> HandlingFlags:
        return HandlingFlags.model_validate(self.flags)

    @property
    def pay_on_delivery(self) -> bool:
        return bool(self.flags.get("pay_on_delivery"))

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def code_for_staff(self) -> str | None:
        """The handover code as the counter may see it.

        A rider proves they took the bag by entering the code the counter tells them, so staff
        see it for packed delivery and locker orders. For pickup the shopper's code is the proof
        of who collects: staff must ask for it, never read it.
        """
        if self.status is R.PACKED and self.fulfilment_mode.dispatched:
            return self.handover_code
        return None

    def require_working(self) -> None:
        """Lines are picked only once every part accepted, and only until the order is packed."""
        if self.status is R.HELD:
            raise Conflict("the order is not accepted yet: every shop or stall in it must accept before picking starts")
        if self.status not in WORKING:
            raise Conflict(
                f"the order is {self.status.value}; lines can be picked only while it is accepted or being picked"
            )

    def accept(self) -> None:
        self.move(R.ACCEPTED)

    def start_picking(self) -> bool:
        """True for the order's first start (which tells orders: no more cancelling)."""
        if self.status is not R.ACCEPTED:
            return False
        self.move(R.PICKING)
        return True

    def pack(self, *, final_fen: int, handover_code: str, bags: int, weight_g: int, at: datetime) -> None:
        self.move(R.PACKED)
        self.final_fen, self.handover_code = final_fen, handover_code
        self.bags, self.weight_g, self.packed_at = bags, weight_g, at

    def check_handover(self, code: str, to: HandoverTo, cash_collected_fen: int | None) -> bool:
        """Refuse a handover that cannot happen; True when cash is due at this handover."""
        if self.status is not R.PACKED:
            raise Conflict(f"the order is {self.status.value}; only a packed order can be handed over")
        if to is HandoverTo.RIDER and self.fulfilment_mode is FulfilmentMode.PICKUP:
            raise Invalid("this order is for pickup: the shopper collects it (to: shopper)")
        if not code_matches(self.handover_code, code):
            raise WrongCode("wrong handover code; nothing was handed over")
        cash_due_here = to is HandoverTo.SHOPPER and self.pay_on_delivery
        if cash_due_here and cash_collected_fen is None:
            raise Invalid(
                "this order is paid in cash when it is collected: take the amount due (the shopper's "
                "app shows it) and enter it as cash_collected_fen"
            )
        return cash_due_here

    def hand_over(self, to: HandoverTo, by: str, at: datetime) -> None:
        self.move(R.COMMITTED)
        self.handed_over_to, self.handed_over_by, self.handed_over_at = to, by, at

    @property
    def uncollected(self) -> bool:
        """Packed for pickup and never collected: its holds are still live."""
        return self.status is R.PACKED

    def check_return(self) -> None:
        """A bag comes back after a rider took it, or when a packed pickup order was never collected."""
        if self.status is R.COMMITTED and self.handed_over_to is HandoverTo.RIDER:
            return
        if self.status is R.PACKED and self.fulfilment_mode is FulfilmentMode.PICKUP:
            return
        handed = f" (handed to the {self.handed_over_to.value})" if self.handed_over_to else ""
        raise Conflict(
            f"the order is {self.status.value}{handed}; a bag can be returned after handover to a rider, "
            "or when a packed pickup order was never collected"
        )

    def return_bag(self, at: datetime) -> None:
        self.check_return()
        self.move(R.RETURNED)
        self.returned_at = at

    def release(self, reason: str) -> None:
        self.move(R.RELEASED)
        self.release_reason = reason

    def collect_instead(self) -> bool:
        """The shopper will collect it: a pickup order from now on (unless it already ended)."""
        if self.ended:
            return False
        self.fulfilment_mode = FulfilmentMode.PICKUP
        return True
