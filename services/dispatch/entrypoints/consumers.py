"""Event and deadline handlers of the dispatch service: each event type, each deadline kind, one use case.

The consumer (or the deadline scheduler) opens dispatch's unit of work around the use case, so
its effects, its events, the inbox claim and its live notes commit together.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.dispatch.service_layer import codes, group_trips, intake, lockers
from services.dispatch.service_layer.assigning import NO_RIDER, PICKUP_ANSWER
from services.dispatch.service_layer.tracking import logged, logged_many
from shared.deadlines import DeadlineHandler
from shared.events.contracts import (
    GroupBuyArrived,
    GroupBuyBagsReturned,
    GroupBuyClosed,
    HandoverCodeLockedOut,
    LocationUpserted,
    OrderAccepted,
    OrderCancelled,
    OrderConfirmed,
    OrderHandedOver,
    OrderPacked,
    OrderPlaced,
    OrderRated,
    OrderRejected,
    PickupChoiceMade,
)
from shared.events.topics import CATALOG, INVENTORY, ORDERS
from shared.service import Subscription

SUBSCRIPTIONS = [
    Subscription(
        "dispatch",
        ORDERS,
        {
            OrderPlaced: logged(intake.on_order_placed),
            OrderConfirmed: logged(intake.on_order_confirmed),
            OrderRejected: logged(intake.on_order_rejected),
            OrderAccepted: logged(intake.on_order_accepted),
            OrderCancelled: logged(intake.on_order_cancelled),
            PickupChoiceMade: intake.on_pickup_choice,
            OrderRated: intake.on_order_rated,
            GroupBuyClosed: group_trips.on_group_buy_closed,
            GroupBuyArrived: group_trips.on_group_buy_arrived,
            GroupBuyBagsReturned: group_trips.on_bags_returned,
        },
        # The hot path, set-based: a run of one type is logged in a few statements whatever its length.
        batch_handlers={
            OrderPlaced: logged_many(intake.on_order_placed, intake.on_orders_placed),
            OrderConfirmed: logged_many(intake.on_order_confirmed),  # nothing to plan: logging is all
            OrderAccepted: logged_many(intake.on_order_accepted, intake.on_orders_accepted),
            OrderRejected: logged_many(intake.on_order_rejected),
            OrderCancelled: logged_many(intake.on_order_cancelled),
        },
    ),
    Subscription(
        "dispatch-inventory",
        INVENTORY,
        {
            OrderPacked: group_trips.on_order_packed,  # intake's, then a group buy's trip sized
            OrderHandedOver: intake.on_handed_over,
            HandoverCodeLockedOut: codes.on_counter_code_locked_out,
        },
        batch_handlers={OrderPacked: group_trips.on_orders_packed},
    ),
    Subscription("dispatch-catalog", CATALOG, {LocationUpserted: intake.on_location}),
]

DEADLINES: Mapping[str, DeadlineHandler] = {
    NO_RIDER: intake.on_no_rider_deadline,  # type: ignore[dict-item]  # given dispatch's unit of work
    PICKUP_ANSWER: intake.on_pickup_answer_deadline,  # type: ignore[dict-item]
    lockers.COLLECT: lockers.on_collect_deadline,  # type: ignore[dict-item]
}
