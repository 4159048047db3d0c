"""Rating a finished order: the shop, and the rider who carried it, once, by whoever ordered it.

The rating and `OrderRated` commit together; discovery averages the shop's stars from
`order_ratings`, dispatch keeps each rider's average from the event.
"""

from __future__ import annotations

from services.orders.adapters.following import Rating, Ratings
from services.orders.domain.order import Order
from services.orders.service_layer import ordering
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.events.contracts import OrderRated
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role

# Handed over: at the door, at the counter, or taken out of a locker (IN_LOCKER → COLLECTED).
RATEABLE = frozenset({OrderStatus.DELIVERED, OrderStatus.COLLECTED})
NEVER_RATEABLE = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.RETURNED})


class RatingRefused(Exception):
    """Not now or not again (409)."""


class RatingInvalid(Exception):
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


async def rate(
    uow: UnitOfWork,
    principal: Principal,
    order_id: str,
    *,
    shop_stars: int | None,
    rider_stars: int | None,
    comment: str | None,
) -> Rating:
    order = await ordering.get_order(uow, principal, order_id, for_update=True)
    if principal.role not in (Role.SHOPPER, Role.HELPER) or not order.is_visible_to_orderer(principal.subject):
        raise ordering.Forbidden("only the person who ordered (or their helper) rates an order")
    why = why_not_rateable(order)
    if why:
        raise RatingRefused(why)
    check_stars(order, shop_stars, rider_stars)
    rider_id = str(order.tracking.rider["rider_id"]) if order.tracking.rider and rider_stars is not None else None
    rating = Rating(
        order_id=order.id,
        store_id=order.store_id,
        placed_for=order.placed_for,
        shop_stars=shop_stars,
        rider_id=rider_id,
        rider_stars=rider_stars,
        comment=comment,
        rated_at=ordering.now(),
    )
    ratings = Ratings(uow.conn)
    if not await ratings.add(rating):
        earlier = await ratings.get(order.id)
        when = earlier.rated_at.isoformat(timespec="minutes") if earlier else "earlier"
        raise RatingRefused(f"this order was rated already ({when}); an order is rated once")
    await uow.publish(
        OrderRated(
            order_id=order.id,
            store_id=order.store_id,
            shop_stars=shop_stars,
            rider_id=rider_id,
            rider_stars=rider_stars,
            comment=comment,
            by=principal.subject,
        )
    )
    return rating


async def rating_of(uow: UnitOfWork, principal: Principal, order_id: str) -> Rating | None:
    await ordering.get_order(uow, principal, order_id)
    return await Ratings(uow.conn).get(order_id)
