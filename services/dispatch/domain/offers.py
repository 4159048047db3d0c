"""Offers: a proposal from a round, put to one rider, who has a short time to take it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, NotFound


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


# The one table of an offer's moves: only a pending offer is answered, once.
TRANSITIONS: Mapping[OfferStatus, frozenset[OfferStatus]] = {
    OfferStatus.PENDING: frozenset(
        {OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.EXPIRED, OfferStatus.WITHDRAWN}
    ),
}


@dataclass
class Offer:
    """An order put to one rider. An *addition* (`adds_to` not empty) puts the order to a rider on
    top of the orders `adds_to` the rider accepted and has not picked up yet: one shop (or shops
    within 300 m), one trip. Accepting it assigns the order like any offer (the rider's trip then
    carries both); declining it leaves the accepted trip as it was, and the rider is not asked for
    the order again."""

    id: str
    order_id: str
    rider_id: str
    status: OfferStatus
    expires_at: datetime
    eta_shop_at: datetime | None = None
    eta_door_at: datetime | None = None
    created_at: datetime | None = None
    answered_at: datetime | None = None
    reason: str | None = None
    version: int = 0
    adds_to: tuple[str, ...] = ()  # an addition: the accepted, not yet picked-up orders it joins

    @property
    def is_addition(self) -> bool:
        return bool(self.adds_to)

    def check_answer(self, rider_id: str, now: datetime) -> None:
        """A rider may answer only their own pending offer, before it lapses."""
        if self.rider_id != rider_id:
            raise NotFound("no such offer")  # someone else's offer is not even shown to exist
        if self.status is not OfferStatus.PENDING:
            raise Conflict(f"this offer is already {self.status.value}")
        if now >= self.expires_at:
            raise Conflict("this offer has lapsed; the order will be offered again")

    def _answer(self, status: OfferStatus, at: datetime, reason: str | None = None) -> None:
        if status not in TRANSITIONS.get(self.status, frozenset()):
            raise Conflict(f"this offer is already {self.status.value}")
        self.status, self.answered_at, self.reason = status, at, reason

    def accept(self, rider_id: str, at: datetime) -> None:
        self.check_answer(rider_id, at)
        self._answer(OfferStatus.ACCEPTED, at)

    def decline(self, rider_id: str, at: datetime) -> None:
        self.check_answer(rider_id, at)
        self._answer(OfferStatus.DECLINED, at)

    def lapse(self, at: datetime) -> None:
        self._answer(OfferStatus.EXPIRED, at, "no answer in time")

    def withdraw(self, at: datetime, reason: str) -> None:
        self._answer(OfferStatus.WITHDRAWN, at, reason)

    def seconds_left(self, now: datetime) -> int:
        return seconds_left(self.expires_at, now)


def check_answer(offer: Offer | None, rider_id: str, now: datetime) -> Offer:
    if offer is None:
        raise NotFound("no such offer")
    offer.check_answer(rider_id, now)
    return offer


def seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(0, int((expires_at - now).total_seconds()))


def is_silent(seen_at: float | None, now: datetime, silent_s: float) -> bool:
    """Not heard from (or never): not offered work."""
    return seen_at is None or now.timestamp() - seen_at > silent_s


def is_behind(eta_shop_at: datetime | None, now: datetime, behind_s: float) -> bool:
    """Still not at the shop this long after they should have been."""
    return eta_shop_at is not None and now - eta_shop_at > timedelta(seconds=behind_s)
