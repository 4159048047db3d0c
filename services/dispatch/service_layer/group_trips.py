"""A closed group buy's one trip: planned at the close, sized once packed, complete when the leader confirms.

The trip is an ordinary `Delivery` whose order id is the deal's (the consolidated order's id), so
the planner, the offers, the rider app and the counter's handover treat it as any delivery; what
is particular to it lives here: sizing it against the vehicles (never split), a compartment per
bag at a locker site, and the end, which is the leader's confirmation, not a door code.
"""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.domain.delivery import Delivery, DeliveryStatus
from services.dispatch.domain.group_trips import GroupTrip, TripBag, TripStatus, compartment_key
from services.dispatch.domain.lockers import collect_by, new_code, sizes_from
from services.dispatch.service_layer import intake, lockers
from services.dispatch.service_layer.assigning import follow_load
from services.dispatch.service_layer.intake import Run, drop
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.errors import Conflict, Forbidden
from shared.events.contracts import (
    DeliveryAddress,
    DeliveryCompleted,
    DepositedBag,
    GroupBuyArrived,
    GroupBuyBagsReturned,
    GroupBuyClosed,
    GroupBuyTripAtPickup,
    GroupBuyTripPlanned,
    GroupBuyTripRefused,
    OrderPacked,
    TripCompartment,
)
from shared.vocabulary.fulfilment import FulfilmentMode


def _planned(trip: GroupTrip) -> GroupBuyTripPlanned:
    assert trip.vehicle is not None
    return GroupBuyTripPlanned(
        deal_id=trip.deal_id,
        store_id=trip.store_id,
        kind=trip.kind,
        bags=len(trip.bags),
        weight_g=trip.weight_g,
        vehicle=trip.vehicle,
        compartments=[
            TripCompartment(number=n, compartment_id=c, size="S") for n, c in sorted(trip.compartments.items())
        ],
    )


async def _refuse(uow: DispatchUnitOfWork, trip: GroupTrip, reason: str) -> None:
    """No one trip: compartments freed, the dispatchers and orders told why (the leader goes to the counter)."""
    trip.refuse(reason)
    await _free_compartments(uow, trip, list(trip.compartments))
    await uow.group_trips.save(trip, uow.now())
    await uow.alerts.raise_("group_trip_refused", f"group buy {trip.deal_id}: {reason}", trip.deal_id)
    uow.note("group_trip_refused", {"reason": reason}, trip.deal_id)
    await uow.publish(
        GroupBuyTripRefused(
            deal_id=trip.deal_id, store_id=trip.store_id, reason=reason, bags=len(trip.bags), weight_g=trip.weight_g
        )
    )


async def _free_compartments(uow: DispatchUnitOfWork, trip: GroupTrip, numbers: list[int]) -> None:
    if not trip.site_id or not numbers:
        return
    await uow.lockers.lock_site(trip.site_id)
    for n in numbers:
        await uow.lockers.free(compartment_key(trip.deal_id, n))
        trip.compartments.pop(n, None)
    await lockers.announce(uow, trip.site_id)


async def _book_compartments(uow: DispatchUnitOfWork, trip: GroupTrip) -> str | None:
    """One compartment per bag, under the site's lock; the reason when the site cannot take them all."""
    site_id = trip.site_id or ""
    if not await uow.lockers.lock_site(site_id):
        return f"there is no locker site {site_id} any more"
    for bag in trip.bags:
        comp = await uow.lockers.reserve(site_id, sizes_from("S"), compartment_key(trip.deal_id, bag.number))
        if comp is None:
            return (
                f"locker site {site_id} has {len(trip.compartments)} free compartments for the deal's "
                f"{len(trip.bags)} bags (one each); the leader collects them at the counter"
            )
        trip.compartments[bag.number] = comp.id
    await lockers.announce(uow, site_id)
    return None


async def on_group_buy_closed(uow: DispatchUnitOfWork, event: GroupBuyClosed) -> None:
    """A deal closed: for a locker site or a place that wants delivery, one trip is planned for every bag."""
    p = event.pickup
    if p.kind == "place" and not p.delivered:
        return  # the leader collects at the counter with the deal's code
    now = uow.now()
    trip = GroupTrip(
        deal_id=event.deal_id,
        store_id=event.store_id,
        leader=event.leader,
        kind="locker" if p.kind == "locker" else "delivery",
        status=TripStatus.PLANNED,
        bags=[TripBag(b.number, b.holder, b.joined_by) for b in event.bags],
        pickup_name=p.name,
        lat=p.lat,
        lon=p.lon,
        site_id=p.locker_site_id if p.kind == "locker" else None,
        window_start=p.window_start,
        window_end=p.window_end,
    )
    if not await uow.group_trips.add(trip, now):
        return  # redelivered: planned before
    sizing = trip.size(None)
    if not sizing.fits:
        await _refuse(uow, trip, sizing.reason or "")
        return
    if trip.kind == "locker":
        short = await _book_compartments(uow, trip)
        if short:
            await _refuse(uow, trip, short)
            return
    shop = await uow.shops.get(event.store_id)
    ready = now + timedelta(minutes=shop.picking_minutes if shop else 10)
    delivery = Delivery(
        order_id=event.deal_id,
        store_id=event.store_id,
        mode=FulfilmentMode.DELIVERY,
        placed_by=event.leader,
        placed_for=event.leader,
        address=DeliveryAddress(text=p.name, lat=p.lat, lon=p.lon),
        note=f"group buy: {len(trip.bags)} bags for {p.name}",
        bags=len(trip.bags),
        ready_at=ready,
        promised_at=max(p.window_start, ready + timedelta(minutes=15)),
    )
    await uow.deliveries.add_many([delivery])
    await uow.group_trips.save(trip, now)
    uow.note("group_trip_planned", {"bags": len(trip.bags), "kind": trip.kind}, event.deal_id)
    await uow.publish(_planned(trip))


async def on_order_packed(uow: DispatchUnitOfWork, event: OrderPacked) -> None:
    """OrderPacked as intake takes it, then a group buy's trip sized by what the counter packed."""
    await intake.on_order_packed(uow, event)
    await _packed(uow, event)


async def on_orders_packed(uow: DispatchUnitOfWork, items: Run[OrderPacked]) -> None:
    await intake.on_orders_packed(uow, items)
    for _, event in items:
        await _packed(uow, event)


async def _packed(uow: DispatchUnitOfWork, event: OrderPacked) -> None:
    trip = await uow.group_trips.get(event.order_id, lock=True)
    if trip is None or trip.status is not TripStatus.PLANNED:
        return
    d = await uow.deliveries.get(event.order_id, lock=True)
    if d is None:
        return
    sizing = trip.size(event.weight_g, max(event.bags, len(trip.bags)))
    if not sizing.fits:
        await _refuse(uow, trip, sizing.reason or "")
        await drop(uow, d.order_id, "one trip cannot carry the group buy")
        return
    trip.packed()
    d.bags = max(event.bags, len(trip.bags))
    d.open(uow.now())
    await uow.deliveries.save(d)
    await uow.group_trips.save(trip, uow.now())
    uow.note("delivery_open", {"store_id": d.store_id, "group_buy": True}, d.order_id, to_order=True)
    await uow.publish(_planned(trip))


async def rider_at_pickup(uow: DispatchUnitOfWork, d: Delivery) -> None:
    """The rider's at-door step on a trip: at a place, the leader is told the bags are there to confirm."""
    trip = await uow.group_trips.get(d.order_id, lock=True)
    if trip is None or trip.kind != "delivery" or d.rider_id is None:
        return
    trip.at_pickup(d.rider_id)
    await uow.group_trips.save(trip, uow.now())
    await uow.publish(
        GroupBuyTripAtPickup(deal_id=trip.deal_id, store_id=trip.store_id, rider_id=d.rider_id, kind="delivery")
    )


async def rider_hands_over(uow: DispatchUnitOfWork, d: Delivery, rider_id: str) -> bool:
    """The rider's delivered step on a trip (True: handled here). At a place, refused: the leader confirms the
    arrival. At a locker site, every bag goes into its own compartment, each with its code for its holder."""
    trip = await uow.group_trips.get(d.order_id, lock=True)
    if trip is None:
        return False
    if trip.kind == "delivery":
        raise Conflict(
            f"hand the {len(trip.bags)} bags of group buy {trip.deal_id} to its leader at {trip.pickup_name}: "
            "the leader (a helper, an admin) confirms their arrival in the app, and that completes the trip"
        )
    if d.rider_id != rider_id:
        raise Forbidden("only the rider assigned to this order can do that")
    if d.status is DeliveryStatus.PICKED_UP:
        d.arrive_at_door(rider_id, uow.now())
    trip.at_pickup(rider_id)
    site_id = trip.site_id or ""
    await uow.lockers.lock_site(site_id)
    until = max(collect_by(uow.now(), uow.settings.locker_collect_limit_s), trip.window_end)
    deposited = []
    for number, comp_id in sorted(trip.compartments.items()):
        code = new_code()
        await uow.lockers.occupy(site_id, comp_id, code, until)
        deposited.append(DepositedBag(number=number, compartment_id=comp_id, code=code, collect_by=until))
    d.deliver(rider_id, "", None, uow.now())
    await uow.deliveries.save(d)
    await uow.group_trips.save(trip, uow.now())
    await lockers.announce(uow, site_id)
    await uow.publish(
        GroupBuyTripAtPickup(
            deal_id=trip.deal_id,
            store_id=trip.store_id,
            rider_id=rider_id,
            kind="locker",
            site_id=site_id,
            deposited=deposited,
        )
    )
    await uow.publish(DeliveryCompleted(order_id=d.order_id, store_id=d.store_id, rider_id=rider_id))
    await follow_load(uow, rider_id)
    return True


async def on_group_buy_arrived(uow: DispatchUnitOfWork, event: GroupBuyArrived) -> None:
    """The leader confirmed the bags are at the pickup point: the rider's trip is complete (or, when no rider
    had it yet, it is no longer needed)."""
    trip = await uow.group_trips.get(event.deal_id, lock=True)
    if trip is None or not trip.arrived():
        return
    await uow.group_trips.save(trip, uow.now())
    d = await uow.deliveries.get(event.deal_id, lock=True)
    if d is None or d.rider_id is None or d.status not in (DeliveryStatus.PICKED_UP, DeliveryStatus.AT_DOOR):
        await drop(uow, event.deal_id, f"the bags' arrival was confirmed by {event.confirmed_by}")
        return
    rider_id = d.rider_id
    if d.status is DeliveryStatus.PICKED_UP:
        d.arrive_at_door(rider_id, uow.now())
    d.deliver(rider_id, "", None, uow.now())
    await uow.deliveries.save(d)
    uow.note("delivered", {"rider_id": rider_id, "confirmed_by": event.confirmed_by}, d.order_id, to_order=True)
    await uow.publish(DeliveryCompleted(order_id=d.order_id, store_id=d.store_id, rider_id=rider_id))
    await follow_load(uow, rider_id)


async def on_bags_returned(uow: DispatchUnitOfWork, event: GroupBuyBagsReturned) -> None:
    """Bags uncollected at the window's end go back to the shop: their compartments are free again."""
    trip = await uow.group_trips.get(event.deal_id, lock=True)
    if trip is None:
        return
    await _free_compartments(uow, trip, [b.number for b in event.bags if b.number in trip.compartments])
    await uow.group_trips.save(trip, uow.now())
