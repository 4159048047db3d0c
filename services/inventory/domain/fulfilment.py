"""Parts of an order and what the order as a whole has come to.

An order drawn on a wet market is fulfilled stall by stall: each stall (or the shop, for a
plain shop) has its own part, with its own accept deadline, its own picking and packing. The
order moves on only when every part that still remains has: accepted when all remaining parts
accepted, packed when all remaining parts are packed, rejected when nothing remains.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class PartStatus(StrEnum):
    WAITING = "waiting"  # for its shop or stall to accept, until its accept deadline
    ACCEPTED = "accepted"
    PICKING = "picking"
    PACKED = "packed"
    REJECTED = "rejected"  # refused or timed out: its lines are refunded
    RELEASED = "released"  # the whole order was cancelled or rejected


LIVE_PARTS = frozenset({PartStatus.WAITING, PartStatus.ACCEPTED, PartStatus.PICKING, PartStatus.PACKED})


class FulfilmentRefused(Exception):
    """An action the order's or part's state does not allow now (HTTP 409)."""


class NotFound(Exception):
    """No such order, part or line where the caller looked (HTTP 404)."""


class BadRequest(ValueError):
    """The request itself is wrong, whatever the state (HTTP 422)."""


@dataclass(frozen=True)
class Part:
    location_id: str
    status: PartStatus


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
    remaining = [p for p in parts if p.status in LIVE_PARTS]
    if not remaining:
        return Outcome.NOTHING_LEFT
    if any(p.status is PartStatus.WAITING for p in remaining):
        return Outcome.WAITING
    return Outcome.ACCEPTED


def all_packed(parts: Sequence[Part]) -> bool:
    remaining = [p for p in parts if p.status in LIVE_PARTS]
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
