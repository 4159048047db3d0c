"""Use cases for the delivery: dispatch's facts (`linli.dispatch`), and the shopper answering a pickup offer.

Each handler loads the order under a row lock, applies one fact with the domain
(`services.orders.domain.delivery`) and saves it. An event about an order orders never heard
of is dropped, as the other handlers do. Only abandoning a delivery publishes: the order is
cancelled (reason `no_rider`), and `OrderCancelled` tells inventory to release the stock.
Money settles in the same transaction: a cancel refunds, a delivery records the rider's cash.
"""

from __future__ import annotations

from services.orders.domain import delivery as dl
from services.orders.domain.order import Order
from services.orders.service_layer import payments
from services.orders.service_layer.reading import orderers_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.events.contracts import (
    DeliveryAbandoned,
    DeliveryCompleted,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryPromised,
    EtaUpdated,
    LockerCollected,
    LockerDeposited,
    LockerExpired,
    LockerReserved,
    OrderCancelled,
    PickupChoiceMade,
    PickupOffered,
    RiderAssigned,
    RiderAtDoor,
    RiderAtShop,
    RiderUnassigned,
)

SYSTEM_ACTOR = "linli"


async def on_delivery_promised(uow: OrdersUnitOfWork, e: DeliveryPromised) -> None:
    await uow.apply(e.order_id, lambda o: dl.delivery_promised(o, e.promised_at, e.minutes, uow.now(), e.reason))


async def on_rider_assigned(uow: OrdersUnitOfWork, e: RiderAssigned) -> None:
    await uow.apply(
        e.order_id,
        lambda o: dl.rider_assigned(
            o,
            e.rider_id,
            e.rider_name,
            e.vehicle,
            e.eta_shop_at,
            e.eta_door_at,
            assigned_by=e.assigned_by,
            at=uow.now(),
            override=e.override,
        ),
    )


async def on_rider_unassigned(uow: OrdersUnitOfWork, e: RiderUnassigned) -> None:
    await uow.apply(e.order_id, lambda o: dl.rider_unassigned(o, e.rider_id, e.reason, uow.now()))


async def on_rider_at_shop(uow: OrdersUnitOfWork, e: RiderAtShop) -> None:
    await uow.apply(e.order_id, lambda o: dl.rider_at_shop(o, e.rider_id, uow.now()))


async def on_delivery_picked_up(uow: OrdersUnitOfWork, e: DeliveryPickedUp) -> None:
    await uow.apply(e.order_id, lambda o: dl.delivery_picked_up(o, e.rider_id, uow.now()))


async def on_rider_at_door(uow: OrdersUnitOfWork, e: RiderAtDoor) -> None:
    await uow.apply(e.order_id, lambda o: dl.rider_at_door(o, e.rider_id, uow.now()))


async def on_delivery_completed(uow: OrdersUnitOfWork, e: DeliveryCompleted) -> None:
    order = await uow.apply(e.order_id, lambda o: dl.delivery_completed(o, e.rider_id, e.cash_collected_fen, uow.now()))
    if order is not None:
        await payments.collect_cash(uow, order, e.cash_collected_fen, e.rider_id)


async def on_delivery_failed(uow: OrdersUnitOfWork, e: DeliveryFailed) -> None:
    await uow.apply(e.order_id, lambda o: dl.delivery_failed(o, e.rider_id, e.reason, uow.now()))


async def on_eta_updated(uow: OrdersUnitOfWork, e: EtaUpdated) -> None:
    await uow.apply(e.order_id, lambda o: dl.eta_updated(o, e.eta_door_at, e.late_risk, uow.now()))


async def on_pickup_offered(uow: OrdersUnitOfWork, e: PickupOffered) -> None:
    await uow.apply(e.order_id, lambda o: dl.pickup_offered(o, e.reason, e.answer_by, uow.now()))


async def on_delivery_abandoned(uow: OrdersUnitOfWork, e: DeliveryAbandoned) -> None:
    """A system cancel (allowed from PICKING and PACKED too); inventory releases whatever is still held."""
    order = await uow.orders.get(e.order_id, for_update=True)
    if order is None:
        return
    previous = dl.delivery_abandoned(order, e.reason, uow.now())
    await uow.orders.save(order)
    await payments.settle(uow, order)  # cancelled: everything paid comes back
    if previous is not None:
        await uow.publish(
            OrderCancelled(
                order_id=order.id,
                store_id=order.store_id,
                cancelled_by=SYSTEM_ACTOR,
                previous_status=previous,
                reason=e.reason,
            )
        )


async def on_locker_reserved(uow: OrdersUnitOfWork, e: LockerReserved) -> None:
    await uow.apply(e.order_id, lambda o: dl.locker_reserved(o, e.site_id, e.compartment_id, e.size, uow.now()))


async def on_locker_deposited(uow: OrdersUnitOfWork, e: LockerDeposited) -> None:
    await uow.apply(
        e.order_id, lambda o: dl.locker_deposited(o, e.site_id, e.compartment_id, e.code, e.collect_by, uow.now())
    )


async def on_locker_collected(uow: OrdersUnitOfWork, e: LockerCollected) -> None:
    order = await uow.apply(e.order_id, lambda o: dl.locker_collected(o, e.site_id, e.compartment_id, uow.now()))
    if order is not None:
        payments.book_sale(uow, order)  # taken from the locker: the shop's sale is booked


async def on_locker_expired(uow: OrdersUnitOfWork, e: LockerExpired) -> None:
    await uow.apply(e.order_id, lambda o: dl.locker_expired(o, e.site_id, e.compartment_id, uow.now()))


async def answer_pickup_offer(uow: OrdersUnitOfWork, principal: Principal, order_id: str, accept: bool) -> Order:
    """The orderer (shopper, or the helper who ordered) answers dispatch's offer; dispatch hears PickupChoiceMade."""
    order = await orderers_order(
        uow, principal, order_id, "only the shopper who ordered (or their helper) answers the pickup offer"
    )
    dl.answer_pickup_offer(order, accept, principal.subject, uow.now())
    await uow.orders.save(order)
    await payments.settle(uow, order)  # collected at the counter: no delivery fee, if already packed
    await uow.publish(
        PickupChoiceMade(order_id=order.id, store_id=order.store_id, accepted=accept, by=principal.subject)
    )
    return order
