"""Parts of an order and what the order as a whole has come to.

An order drawn on a wet market is fulfilled stall by stall: each stall (or the shop, for a
plain shop) has its own part, with its own accept deadline, its own picking and packing. The
order moves on only when every part that still remains has: accepted when all remaining parts
accepted, packed when all remaining parts are packed, rejected when nothing remains.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from shared.errors import Conflict


class PartStatus(StrEnum):
    WAITING = "waiting"  # for its shop or stall to accept, until its accept deadline
    ACCEPTED = "accepted"
    PICKING = "picking"
    PACKED = "packed"
    REJECTED = "rejected"  # refused or timed out: its lines are refunded
    RELEASED = "released"  # the whole order was cancelled or rejected


P = PartStatus

# docs/fulfilment.md: a part is accepted (or refused, or lapses), picked, then packed; a
# cancelled or rejected order releases every part that was not refused already.
MOVES: Mapping[PartStatus, frozenset[PartStatus]] = {
    P.WAITING: frozenset({P.ACCEPTED, P.REJECTED, P.RELEASED}),
    P.ACCEPTED: frozenset({P.PICKING, P.RELEASED}),
    P.PICKING: frozenset({P.PACKED, P.RELEASED}),
    P.PACKED: frozenset({P.RELEASED}),
    P.REJECTED: frozenset(),
    P.RELEASED: frozenset(),
}

LIVE_PARTS = frozenset({P.WAITING, P.ACCEPTED, P.PICKING, P.PACKED})
BEING_WORKED = frozenset({P.ACCEPTED, P.PICKING})  # its lines can be picked


def can_move(current: PartStatus, target: PartStatus) -> bool:
    return target in MOVES[current]


@dataclass
class Part:
    """A shop's or a stall's share of an order: accepted, picked and packed by that location's staff."""

    order_id: str
    location_id: str
    status: PartStatus
    accept_deadline: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    note: str | None = None
    bags: int | None = None
    weight_g: int | None = None
    packed_by: str | None = None
    packed_at: datetime | None = None
    created_at: datetime | None = None
    version: int = 0  # as loaded; a save of an older version than the stored one is refused

    def move(self, target: PartStatus) -> None:
        if not can_move(self.status, target):
            raise Conflict(
                f"{self.location_id}'s part of order {self.order_id} is {self.status.value}; "
                f"it cannot become {target.value}"
            )
        self.status = target

    @property
    def live(self) -> bool:
        return self.status in LIVE_PARTS

    def accept(self, by: str, at: datetime) -> None:
        self.move(P.ACCEPTED)
        self.decided_by, self.decided_at = by, at

    def reject(self, reason: str, note: str | None, by: str, at: datetime) -> None:
        self.move(P.REJECTED)
        self.decided_by, self.decided_at, self.reason, self.note = by, at, reason, note

    def start_picking(self) -> bool:
        if self.status is not P.ACCEPTED:
            return False
        self.move(P.PICKING)
        return True

    def check_workable(self, line_no: int) -> None:
        if self.status not in BEING_WORKED:
            raise Conflict(f"line {line_no} belongs to {self.location_id}'s part, which is {self.status.value}")

    def check_packable(self) -> None:
        if self.status is P.PACKED:
            raise Conflict(f"{self.location_id}'s part of order {self.order_id} is already packed")
        if self.status not in BEING_WORKED:
            raise Conflict(
                f"{self.location_id}'s part of order {self.order_id} is {self.status.value}; it cannot be packed"
            )

    def pack(self, bags: int, weight_g: int, by: str, at: datetime) -> None:
        self.check_packable()
        self.move(P.PACKED)
        self.bags, self.weight_g, self.packed_by, self.packed_at = bags, weight_g, by, at

    def release(self) -> None:
        """The whole order ends: every part not refused already is released."""
        if self.status not in (P.REJECTED, P.RELEASED):
            self.move(P.RELEASED)


def parts_of(lines: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """Line numbers grouped by the location that fulfils them, in order of first appearance."""
    parts: dict[str, list[int]] = {}
    for line_no, location_id in lines:
        parts.setdefault(location_id, []).append(line_no)
    return parts


class Outcome(StrEnum):
    WAITING = "waiting"  # some remaining part has not answered yet
    ACCEPTED = "accepted"  # every remaining part accepted
    NOTHING_LEFT = "nothing_left"  # every part rejected


def acceptance(parts: Sequence[Part]) -> Outcome:
    """Where the order stands once its parts have answered (or not)."""
    remaining = [p for p in parts if p.live]
    if not remaining:
        return Outcome.NOTHING_LEFT
    if any(p.status is PartStatus.WAITING for p in remaining):
        return Outcome.WAITING
    return Outcome.ACCEPTED


def all_packed(parts: Sequence[Part]) -> bool:
    remaining = [p for p in parts if p.live]
    return bool(remaining) and all(p.status is PartStatus.PACKED for p in remaining)


def accept_key(order_id: str, location_id: str) -> str:
    """The accept deadline's key: one deadline per part. Location ids never contain ':'."""
    return f"{order_id}:{location_id}"


def parse_accept_key(key: str) -> tuple[str, str | None]:
    """(order id, location id); a key from before parts (just the order id) names every part."""
    if ":" not in key:
        return key, None
    order_id, _, location_id = key.rpartition(":")
    return order_id, location_id


def approval_key(order_id: str, line_no: int) -> str:
    return f"{order_id}:{line_no}"


def new_handover_code() -> str:
    """Six random digits: shown to the orderer, checked at the counter."""
    return f"{secrets.randbelow(1_000_000):06d}"


def code_matches(expected: str | None, given: str) -> bool:
    """Constant-time, so timing does not reveal how many leading digits were right."""
    if not expected:
        return False
    return hmac.compare_digest(expected.encode(), given.strip().encode())


@dataclass(frozen=True)
class Amounts:
    shown_fen: int
    final_fen: int

    @property
    def difference_fen(self) -> int:
        return self.final_fen - self.shown_fen


def amounts(shown: Iterable[int], charged: Iterable[int | None]) -> Amounts:
    """Shown is every line's estimate at checkout; final is what the resolved lines cost (refunds 0)."""
    return Amounts(sum(shown), sum(c or 0 for c in charged))
