"""Rating a finished order: the shop and the rider who carried it, once, and only once handed over."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.orders.domain.order import Order
from shared.errors import Conflict, Invalid
from shared.vocabulary.order_status import OrderStatus

# Handed over: at the door, at the counter, or taken out of a locker (IN_LOCKER → COLLECTED).
RATEABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.COLLECTED})
NEVER_RATEABLE = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.RETURNED})


@dataclass(frozen=True)
class Rating:
    order_id: str
    store_id: str
    placed_for: str
    shop_stars: int | None
    rider_id: str | None
    rider_stars: int | None
    comment: str | None
    rated_at: datetime


class RatingRefused(Conflict):
    """Not now or not again (409)."""


class RatingInvalid(Invalid):
    """The rating itself does not fit the order (422)."""


def why_not_rateable(order: Order) -> str | None:
    """Why this order cannot be rated now, saying when it can; None if it can."""
    if order.status in RATEABLE:
        return None
    if order.status in NEVER_RATEABLE:
        return f"the order was {order.status.value}: only an order that was handed over can be rated"
    if order.status is OrderStatus.IN_LOCKER:
        return "the bag is still in the locker: rate the order once you have taken it out"
    if order.status is OrderStatus.READY_FOR_PICKUP:
        return "the order waits at the shop's counter: rate it once you have collected it"
    return f"the order is {order.status.value}: rate it once it is delivered or collected"


def check_stars(order: Order, shop_stars: int | None, rider_stars: int | None) -> None:
    if shop_stars is None and rider_stars is None:
        raise RatingInvalid("give shop_stars (1-5), rider_stars (1-5) or both")
    if rider_stars is not None and not order.tracking.rider:
        raise RatingInvalid("no rider carried this order: leave out rider_stars")
