"""What dispatch does with the events of orders, inventory and the catalog, and its own deadlines.

Each use case is `(uow, event)` or `(uow, deadline)`; the consumer or the scheduler opens the unit
of work around it. Events that come late (the delivery already moved on) change nothing.
"""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.adapters.places import Shop
from services.dispatch.domain.assignment import promise
from services.dispatch.domain.delivery import BEFORE_PICKUP, Delivery, DeliveryStatus, Happening, Packing
from services.dispatch.domain.eta import ready_at
from services.dispatch.domain.promises import promised_minutes, slot_times
from services.dispatch.service_layer import lockers
from services.dispatch.service_layer.assigning import NO_RIDER, PICKUP_ANSWER, follow_load, no_rider_limit_s
from services.dispatch.service_layer.riders import rider_views, withdraw_offers
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.deadlines import Deadline
from shared.events.contracts import (
    DeliveryAbandoned,
    DeliveryAddress,
    DeliveryPromised,
    HandoverTo,
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
    PickupOffered,
    RiderUnassigned,
)
from shared.vocabulary.geo import Point
from shared.vocabulary.money import due_at_door


async def on_order_placed(uow: DispatchUnitOfWork, event: OrderPlaced) -> None:
    """A delivery for every delivery or locker order, and a promised time for its door.

    A slot order is promised by the end of its slot and will be packed from its release, not from now.
    """
    if not event.fulfilment_mode.dispatched:
        return
    now = uow.now()
    shop = await uow.shops.get(event.store_id)
    picking = shop.picking_minutes if shop else 10
    site = await uow.lockers.site(event.locker_site_id) if event.locker_site_id else None
    address = event.address
    if address is None and site is not None:
        address = DeliveryAddress(text=site.name, lat=site.lat, lon=site.lon)
    if event.slot is not None and event.release_at is not None:
        times = slot_times(event.release_at, event.slot.end, picking, now)
        ready, promised = times.ready_at, times.promised_at
    else:
        ready = ready_at(now, picking, await uow.deliveries.queued_at(event.store_id, now))
        pickup = Point(shop.lat, shop.lon) if shop else None
        door = Point(address.lat, address.lon) if address else None
        pickup, door = pickup or door, door or pickup
        if pickup is None or door is None:
            promised = ready + timedelta(minutes=30)
        else:
            promised = promise(pickup, door, ready, await rider_views(uow), now)
    delivery = Delivery(
        order_id=event.order_id,
        store_id=event.store_id,
        mode=event.fulfilment_mode,
        placed_by=event.placed_by,
        placed_for=event.placed_for,
        address=address,
        contact_phone=event.contact_phone,
        note=event.note,
        delivery_code=event.delivery_code,
        locker_site_id=event.locker_site_id,
        call_first=event.flags.call_before_delivery,
        pay_on_delivery=event.flags.pay_on_delivery or event.payment == "on_delivery",
        payment=event.payment,
        delivery_fee_fen=event.delivery_fee_fen,
        platform_fee_fen=event.platform_fee_fen,
        total_fen=event.total_fen,
        ready_at=ready,
        promised_at=promised,
        release_at=event.release_at,
        slot_start=event.slot.start if event.slot else None,
        slot_end=event.slot.end if event.slot else None,
    )
    if not await uow.deliveries.add(delivery):
        return
    await uow.publish(
        DeliveryPromised(
            order_id=event.order_id,
            store_id=event.store_id,
            promised_at=promised,
            minutes=promised_minutes(promised, now),
        )
    )


async def on_order_confirmed(uow: DispatchUnitOfWork, event: OrderConfirmed) -> None:
    """Nothing to plan yet: the order log records it (see tracking.py)."""


async def on_order_accepted(uow: DispatchUnitOfWork, event: OrderAccepted) -> None:
    """The delivery needs a rider now; the no-rider clock starts."""
    d = await uow.deliveries.get(event.order_id, lock=True)
    if d is None or not d.can(Happening.ACCEPTED):
        return
    d.open(uow.now())
    await uow.deliveries.save(d)
    limit = await no_rider_limit_s(uow, event.store_id)
    await uow.schedule(NO_RIDER, event.order_id, uow.now() + timedelta(seconds=limit))
    uow.note("delivery_open", {"store_id": event.store_id}, event.order_id, to_order=True)


async def on_order_cancelled(uow: DispatchUnitOfWork, event: OrderCancelled) -> None:
    await drop(uow, event.order_id, f"order cancelled ({event.reason})")


async def on_order_rejected(uow: DispatchUnitOfWork, event: OrderRejected) -> None:
    await drop(uow, event.order_id, "order rejected")


async def drop(uow: DispatchUnitOfWork, order_id: str, reason: str) -> bool:
    """The order will not be carried: offers withdrawn, rider and compartment freed, deadlines cancelled."""
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None or not d.can(Happening.DROPPED):
        return False
    had_rider = d.rider_id if d.status in BEFORE_PICKUP else None
    await withdraw_offers(uow, reason, order_id=order_id)
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    if d.compartment_id:
        await lockers.release(uow, d)
    d.drop(uow.now())
    await uow.deliveries.save(d)
    if had_rider:
        await uow.publish(RiderUnassigned(order_id=order_id, store_id=d.store_id, rider_id=had_rider, reason=reason))
        await follow_load(uow, had_rider)
    uow.note("delivery_dropped", {"reason": reason}, order_id, to_order=True)
    return True


async def on_pickup_choice(uow: DispatchUnitOfWork, event: PickupChoiceMade) -> None:
    if event.accepted:
        await drop(uow, event.order_id, "switched to pickup")
        return
    await abandon(uow, event.order_id)


async def abandon(uow: DispatchUnitOfWork, order_id: str) -> None:
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None or not d.can(Happening.ABANDONED):
        return
    await withdraw_offers(uow, "abandoned", order_id=order_id)
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    if d.compartment_id:
        await lockers.release(uow, d)
    d.abandon(uow.now())
    await uow.deliveries.save(d)
    await uow.publish(DeliveryAbandoned(order_id=order_id, store_id=d.store_id, reason="no_rider"))


async def on_no_rider_deadline(uow: DispatchUnitOfWork, deadline: Deadline) -> None:
    """Nobody took it in time: offer the shopper to collect it themselves."""
    order_id = deadline.key
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None or not d.can(Happening.NO_RIDER):
        return
    now = uow.now()
    answer_by = now + timedelta(seconds=uow.settings.pickup_offer_answer_s)
    await withdraw_offers(uow, "no rider in time", order_id=order_id)
    d.offer_pickup(answer_by)
    await uow.deliveries.save(d)
    await uow.schedule(PICKUP_ANSWER, order_id, answer_by)
    await uow.publish(PickupOffered(order_id=order_id, store_id=d.store_id, reason="no_rider", answer_by=answer_by))
    message = f"no rider took order {order_id}: the shopper is offered pickup until {answer_by:%H:%M}"
    await uow.alerts.raise_("no_rider", message, order_id)
    uow.note("alert", {"kind": "no_rider", "message": message}, order_id)


async def on_pickup_answer_deadline(uow: DispatchUnitOfWork, deadline: Deadline) -> None:
    """The shopper did not answer the pickup offer in time: the order is abandoned."""
    d = await uow.deliveries.get(deadline.key)
    if d is not None and d.status is DeliveryStatus.PICKUP_OFFERED:
        await abandon(uow, deadline.key)


async def on_order_packed(uow: DispatchUnitOfWork, event: OrderPacked) -> None:
    """The bag's size, where to take it, and for pay on delivery the cash due at the door."""
    d = await uow.deliveries.get(event.order_id, lock=True)
    if d is None:
        return
    pickup = event.pickup_point.location_id
    known = await uow.shops.get(pickup) is not None
    pay_on_delivery = d.pay_on_delivery or event.flags.pay_on_delivery
    due = due_at_door(event.final_fen, d.delivery_fee_fen, d.platform_fee_fen) if pay_on_delivery else None
    packed_at = uow.cause.occurred_at if uow.cause is not None else uow.now()
    d.pack(
        Packing(
            bags=event.bags,
            weight_g=event.weight_g,
            call_first=event.flags.call_before_delivery,
            pay_on_delivery=pay_on_delivery,
            final_fen=event.final_fen,
            due_at_door_fen=due,
            handover_code=event.handover_code,
            packed_at=packed_at,
            pickup_location=pickup if known else None,
            pickup_name_zh=event.pickup_point.name_zh,
            pickup_name_en=event.pickup_point.name_en,
        )
    )
    await uow.deliveries.save(d)
    uow.note("packed", {"bags": event.bags, "weight_g": event.weight_g}, event.order_id, to_order=True)


async def on_handed_over(uow: DispatchUnitOfWork, event: OrderHandedOver) -> None:
    """The bag is with the rider, also when the counter staff entered the code themselves."""
    if event.to is not HandoverTo.RIDER:
        return
    d = await uow.deliveries.get(event.order_id, lock=True)
    if d is None or not d.can(Happening.HANDED_OVER):
        return
    d.handed_over(uow.now())
    await uow.deliveries.save(d)
    uow.note("picked_up", {"rider_id": d.rider_id, "by": event.by}, event.order_id, to_order=True)


async def on_location(uow: DispatchUnitOfWork, event: LocationUpserted) -> None:
    await uow.shops.put(
        Shop(
            location_id=event.location_id,
            parent_id=event.parent_id,
            name_zh=event.name_zh,
            name_en=event.name_en,
            lat=event.lat,
            lon=event.lon,
            picking_minutes=event.picking_minutes,
            no_rider_limit_s=getattr(event, "no_rider_limit_s", None),
            kind=event.kind,
            active=event.active,
        )
    )


async def on_order_rated(uow: DispatchUnitOfWork, event: OrderRated) -> None:
    """The rider's stars count towards their average, once per order."""
    if event.rider_id is None or event.rider_stars is None:
        return
    if await uow.riders.rate(event.order_id, event.rider_id, event.rider_stars, uow.now()):
        uow.note("rider_rated", {"rider_id": event.rider_id, "stars": event.rider_stars}, event.order_id)
