"""What inventory hears: each event type and each deadline kind goes straight to its use case.

The consumer opens the unit of work, claims the event in its inbox, runs the use case and
commits; the deadline scheduler does the same for a due deadline.
"""

from __future__ import annotations

from services.inventory.service_layer import fulfilment, group_buys, reservations
from shared.deadlines import DeadlineHandler
from shared.events.contracts import (
    ApprovalGiven,
    DeliveryPickedUp,
    GroupBuyAccepted,
    GroupBuyBagsReturned,
    GroupBuyCancelled,
    GroupBuyClosed,
    GroupBuyFailed,
    GroupBuyTripRefused,
    OrderCancelled,
    OrderPlaced,
    PickupChoiceMade,
)
from shared.events.topics import DISPATCH, ORDERS
from shared.service import Subscription

SUBSCRIPTIONS = [
    Subscription(
        "inventory",
        ORDERS,
        {
            OrderPlaced: reservations.on_order_placed,
            OrderCancelled: reservations.on_order_cancelled,
            ApprovalGiven: fulfilment.on_approval_given,
            PickupChoiceMade: fulfilment.on_pickup_choice_made,
            GroupBuyAccepted: group_buys.on_group_buy_accepted,
            GroupBuyCancelled: group_buys.on_group_buy_cancelled,
            GroupBuyFailed: group_buys.on_group_buy_failed,
            GroupBuyClosed: group_buys.on_group_buy_closed,
            GroupBuyBagsReturned: group_buys.on_group_buy_bags_returned,
        },
        batch_handlers={OrderPlaced: reservations.on_orders_placed},
    ),
    Subscription(
        "inventory-dispatch",
        DISPATCH,
        {
            DeliveryPickedUp: fulfilment.on_delivery_picked_up,
            GroupBuyTripRefused: group_buys.on_group_buy_trip_refused,  # the leader collects at the counter
        },
    ),
]
DEADLINES: dict[str, DeadlineHandler] = {
    reservations.ACCEPT_DEADLINE: reservations.on_accept_deadline,  # type: ignore[dict-item]
    reservations.APPROVAL_DEADLINE: fulfilment.on_approval_deadline,  # type: ignore[dict-item]
}
