"""Event handlers of the orders service: parse, call a use case, done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from services.orders.adapters.circle import CircleReadModel
from services.orders.service_layer import delivery, fulfilment, ordering
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import (
    BagReturned,
    DeliveryAbandoned,
    DeliveryCompleted,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryPromised,
    EtaUpdated,
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
    StockLevelChanged,
    StockRejected,
    StockReleased,
    StockReserved,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.events.envelope import Event
from shared.events.topics import CATALOG, CIRCLE, DISPATCH, INVENTORY
from shared.inbox import Handler
from shared.service import Runtime, Subscription, on_event

E = TypeVar("E", bound=Event)


def _use_case(fn: Callable[[UnitOfWork, Any], Awaitable[None]]) -> Callable[[Runtime], Handler]:
    return on_event(lambda _, conn, env: UnitOfWork(conn, cause=env), fn)


async def _upsert_location(uow: UnitOfWork, event: LocationUpserted) -> None:
    await uow.catalog.upsert_location(event)


async def _upsert_product(uow: UnitOfWork, event: ProductUpserted) -> None:
    await uow.catalog.upsert_product(event)


def _reported_at(uow: UnitOfWork) -> datetime:
    """When the publisher saw the fact: what keeps a late redelivery from overwriting a newer state."""
    assert uow.cause is not None, "an event handler's unit of work names its cause"
    return uow.cause.occurred_at


async def _record_stock_level(uow: UnitOfWork, event: StockLevelChanged) -> None:
    await uow.catalog.record_stock_level(event, _reported_at(uow))


async def _upsert_locker_site(uow: UnitOfWork, event: LockerSiteUpdated) -> None:
    await CircleReadModel(uow.conn).upsert_locker_site(event, _reported_at(uow))


async def _record_promise(uow: UnitOfWork, event: PromiseQuoted) -> None:
    await CircleReadModel(uow.conn).record_promise(event)


SUBSCRIPTIONS = [
    Subscription(
        "orders",
        INVENTORY,
        {
            StockReserved: _use_case(ordering.on_stock_reserved),
            StockRejected: _use_case(ordering.on_stock_rejected),
            StockReleased: _use_case(ordering.on_stock_released),
            ShopAccepted: _use_case(ordering.on_shop_accepted),
            ShopRejected: _use_case(ordering.on_shop_rejected),
            PartAccepted: _use_case(fulfilment.on_part_accepted),
            PartRejected: _use_case(fulfilment.on_part_rejected),
            PickingStarted: _use_case(fulfilment.on_picking_started),
            LinePicked: _use_case(fulfilment.on_line_picked),
            LineOutOfStock: _use_case(fulfilment.on_line_out_of_stock),
            WeightApprovalRequested: _use_case(fulfilment.on_weight_approval_requested),
            WeightSettled: _use_case(fulfilment.on_weight_settled),
            SubstitutionProposed: _use_case(fulfilment.on_substitution_proposed),
            SubstitutionSettled: _use_case(fulfilment.on_substitution_settled),
            PartPacked: _use_case(fulfilment.on_part_packed),
            OrderPacked: _use_case(fulfilment.on_order_packed),
            OrderHandedOver: _use_case(fulfilment.on_order_handed_over),
            BagReturned: _use_case(fulfilment.on_bag_returned),
        },
    ),
    Subscription(
        "orders-dispatch",
        DISPATCH,
        {
            DeliveryPromised: _use_case(delivery.on_delivery_promised),
            RiderAssigned: _use_case(delivery.on_rider_assigned),
            RiderUnassigned: _use_case(delivery.on_rider_unassigned),
            RiderAtShop: _use_case(delivery.on_rider_at_shop),
            DeliveryPickedUp: _use_case(delivery.on_delivery_picked_up),
            RiderAtDoor: _use_case(delivery.on_rider_at_door),
            DeliveryCompleted: _use_case(delivery.on_delivery_completed),
            DeliveryFailed: _use_case(delivery.on_delivery_failed),
            EtaUpdated: _use_case(delivery.on_eta_updated),
            PickupOffered: _use_case(delivery.on_pickup_offered),
            DeliveryAbandoned: _use_case(delivery.on_delivery_abandoned),
            LockerReserved: _use_case(delivery.on_locker_reserved),
            LockerDeposited: _use_case(delivery.on_locker_deposited),
            LockerCollected: _use_case(delivery.on_locker_collected),
            LockerExpired: _use_case(delivery.on_locker_expired),
        },
    ),
    Subscription(
        "orders-catalog",
        CATALOG,
        {
            LocationUpserted: _use_case(_upsert_location),
            ProductUpserted: _use_case(_upsert_product),
            StockLevelChanged: _use_case(_record_stock_level),
        },
    ),
    # Compacted: a new group starts from the earliest offset, so it rebuilds the whole circle.
    Subscription(
        "orders-circle",
        CIRCLE,
        {
            LockerSiteUpdated: _use_case(_upsert_locker_site),
            PromiseQuoted: _use_case(_record_promise),
        },
    ),
]
