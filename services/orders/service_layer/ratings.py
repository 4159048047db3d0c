"""Rating a finished order: the shop, and the rider who carried it, once, by whoever ordered it.

The rating and `OrderRated` commit together; discovery averages the shop's stars from
`order_ratings`, dispatch keeps each rider's average from the event.
"""

from __future__ import annotations

from services.orders.domain.rating import Rating, RatingRefused, check_stars, why_not_rateable
from services.orders.service_layer.reading import get_order, orderers_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import NotFound
from shared.events.contracts import OrderRated


async def rate(
    uow: OrdersUnitOfWork,
    principal: Principal,
    order_id: str,
    *,
    shop_stars: int | None,
    rider_stars: int | None,
    comment: str | None,
) -> Rating:
    order = await orderers_order(
        uow, principal, order_id, "only the person who ordered (or their helper) rates an order"
    )
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
        rated_at=uow.now(),
    )
    if not await uow.ratings.add(rating):
        earlier = await uow.ratings.get(order.id)
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


async def rating_of(uow: OrdersUnitOfWork, principal: Principal, order_id: str) -> Rating:
    """The order's rating; "not found" until it is rated."""
    await get_order(uow, principal, order_id)
    rating = await uow.ratings.get(order_id)
    if rating is None:
        raise NotFound(f"order {order_id} is not rated yet; POST /orders/{order_id}/rating to rate it")
    return rating
