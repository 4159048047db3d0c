"""Offers: a proposal from a round, put to one rider, who has a short time to take it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from services.dispatch.domain.delivery import Forbidden, NotFound, Refused


class OfferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Offer:
    id: str
    order_id: str
    rider_id: str
    status: OfferStatus
    expires_at: datetime


def check_answer(offer: Offer | None, rider_id: str, now: datetime) -> None:
    """A rider may answer only their own pending offer, before it lapses."""
    if offer is None:
        raise NotFound("no such offer")
    if offer.rider_id != rider_id:
        raise NotFound("no such offer")  # someone else's offer is not even shown to exist
    if offer.status is not OfferStatus.PENDING:
        raise Refused(f"this offer is already {offer.status.value}")
    if now >= offer.expires_at:
        raise Refused("this offer has lapsed; the order will be offered again")


def seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(0, int((expires_at - now).total_seconds()))


def is_silent(seen_at: float | None, now: datetime, silent_s: float) -> bool:
    """Not heard from (or never): not offered work."""
    return seen_at is None or now.timestamp() - seen_at > silent_s


def is_behind(eta_shop_at: datetime | None, now: datetime, behind_s: float) -> bool:
    """Still not at the shop this long after they should have been."""
    return eta_shop_at is not None and now - eta_shop_at > timedelta(seconds=behind_s)


def check_rider_for(rider_id: str, assigned_rider: str | None) -> None:
    if assigned_rider != rider_id:
        raise Forbidden("only the rider assigned to this order can do that")
