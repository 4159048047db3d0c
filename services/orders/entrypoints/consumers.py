"""Event handlers of the orders service: parse, call a use case, done."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from services.orders.service_layer import codes, delivery, fulfilment, group_buys, group_trips, news, ordering
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.events.contracts import (
    BagReturned,
    CodeLockedOut,
    DealStockRefused,
    DealStockReleased,
    DealStockReserved,
    DeliveryAbandoned,
    DeliveryCompleted,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryPromised,
    EtaUpdated,
    GroupBuyBagPacked,
    GroupBuyLockerOpened,
    GroupBuyTripAtPickup,
    GroupBuyTripPlanned,
    GroupBuyTripRefused,
    HandoverCodeLockedOut,
    LineOutOfStock,
    LinePicked,
    LocationUpserted,
    LockerCollected,
    LockerDeposited,
    LockerExpired,
    LockerReserved,
    LockerSiteUpdated,
    OrderHandedOver,
    OrderPacked,
    PartAccepted,
    PartPacked,
    PartRejected,
    PickingStarted,
    PickupOffered,
    ProductUpserted,
    PromiseQuoted,
    RiderAssigned,
    RiderAtDoor,
    RiderAtShop,
    RiderUnassigned,
    ShopAccepted,
    ShopRejected,
    StaffRegistryChanged,
    StockLevelChanged,
    StockRejected,
    StockReleased,
    StockReserved,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.events.topics import CATALOG, CIRCLE, DISPATCH, INVENTORY
from shared.service import Subscription


async def _upsert_location(uow: OrdersUnitOfWork, event: LocationUpserted) -> None:
    await uow.catalog.upsert_location(event)


async def _upsert_product(uow: OrdersUnitOfWork, event: ProductUpserted) -> None:
    await uow.catalog.upsert_product(event)


async def _record_staff_registry(uow: OrdersUnitOfWork, event: StaffRegistryChanged) -> None:
    await uow.catalog.record_staff_registry(event, _reported_at(uow))


def _reported_at(uow: OrdersUnitOfWork) -> datetime:
    """When the publisher saw the fact: what keeps a late redelivery from overwriting a newer state."""
    assert uow.cause is not None, "an event handler's unit of work names its cause"
    return uow.cause.occurred_at


async def _record_stock_level(uow: OrdersUnitOfWork, event: StockLevelChanged) -> None:
    await uow.catalog.record_stock_level(event, _reported_at(uow))


async def _upsert_locker_site(uow: OrdersUnitOfWork, event: LockerSiteUpdated) -> None:
    await uow.circle.upsert_locker_site(event, _reported_at(uow))


async def _record_promise(uow: OrdersUnitOfWork, event: PromiseQuoted) -> None:
    await uow.circle.record_promise(event)


SUBSCRIPTIONS = [
    Subscription(
        "orders",
        INVENTORY,
        {
            StockReserved: ordering.on_stock_reserved,
            StockRejected: ordering.on_stock_rejected,
            StockReleased: ordering.on_stock_released,
            ShopAccepted: ordering.on_shop_accepted,
            ShopRejected: ordering.on_shop_rejected,
            PartAccepted: fulfilment.on_part_accepted,
            PartRejected: fulfilment.on_part_rejected,
            PickingStarted: fulfilment.on_picking_started,
            LinePicked: fulfilment.on_line_picked,
            LineOutOfStock: fulfilment.on_line_out_of_stock,
            WeightApprovalRequested: fulfilment.on_weight_approval_requested,
            WeightSettled: fulfilment.on_weight_settled,
            SubstitutionProposed: fulfilment.on_substitution_proposed,
            SubstitutionSettled: fulfilment.on_substitution_settled,
            PartPacked: fulfilment.on_part_packed,
            OrderPacked: group_trips.on_order_packed,  # fulfilment's, then a group buy's counter code
            OrderHandedOver: fulfilment.on_order_handed_over,
            BagReturned: fulfilment.on_bag_returned,
            HandoverCodeLockedOut: codes.on_handover_code_locked_out,
            DealStockReserved: group_buys.on_deal_stock_reserved,
            DealStockRefused: group_buys.on_deal_stock_refused,
            DealStockReleased: group_buys.on_deal_stock_released,
            GroupBuyBagPacked: group_buys.on_group_buy_bag_packed,
        },
        batch_handlers={
            StockReserved: ordering.on_stock_reserved_many,
            StockRejected: ordering.on_stock_rejected_many,
        },
    ),
    Subscription(
        "orders-dispatch",
        DISPATCH,
        {
            DeliveryPromised: delivery.on_delivery_promised,
            RiderAssigned: delivery.on_rider_assigned,
            RiderUnassigned: delivery.on_rider_unassigned,
            RiderAtShop: delivery.on_rider_at_shop,
            DeliveryPickedUp: delivery.on_delivery_picked_up,
            RiderAtDoor: delivery.on_rider_at_door,
            DeliveryCompleted: delivery.on_delivery_completed,
            DeliveryFailed: delivery.on_delivery_failed,
            EtaUpdated: delivery.on_eta_updated,
            PickupOffered: delivery.on_pickup_offered,
            DeliveryAbandoned: delivery.on_delivery_abandoned,
            LockerReserved: delivery.on_locker_reserved,
            LockerDeposited: delivery.on_locker_deposited,
            LockerCollected: delivery.on_locker_collected,
            LockerExpired: delivery.on_locker_expired,
            CodeLockedOut: codes.on_code_locked_out,
            GroupBuyTripPlanned: group_trips.on_trip_planned,
            GroupBuyTripRefused: group_trips.on_trip_refused,
            GroupBuyTripAtPickup: group_trips.on_trip_at_pickup,
            GroupBuyLockerOpened: group_trips.on_locker_opened,
        },
    ),
    Subscription(
        "orders-catalog",
        CATALOG,
        {
            LocationUpserted: _upsert_location,
            ProductUpserted: _upsert_product,
            StockLevelChanged: _record_stock_level,
            StaffRegistryChanged: _record_staff_registry,
        },
    ),
    # Compacted: a new group starts from the earliest offset, so it rebuilds the whole circle.
    Subscription(
        "orders-circle",
        CIRCLE,
        {
            LockerSiteUpdated: _upsert_locker_site,
            PromiseQuoted: _record_promise,
        },
    ),
]


# Text messages for the moments these events make (service_layer/news.py), written after the
# event is applied, in its unit of work: they exist exactly when the event's effects do.
NEWS: dict[type, news.MomentOf] = {
    StockReserved: news.confirmed,
    StockRejected: news.rejected,
    ShopRejected: news.rejected,
    DeliveryPickedUp: news.left_shop,
    EtaUpdated: news.late,
    RiderAtDoor: news.at_door,
    LockerDeposited: news.in_locker,
}


def _telling(sub: Subscription) -> Subscription:
    return dataclasses.replace(
        sub,
        handlers={t: news.telling(h, NEWS[t]) if t in NEWS else h for t, h in sub.handlers.items()},
        batch_handlers={t: news.telling_many(h, NEWS[t]) if t in NEWS else h for t, h in sub.batch_handlers.items()},
    )


SUBSCRIPTIONS = [_telling(sub) for sub in SUBSCRIPTIONS]
