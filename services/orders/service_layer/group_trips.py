"""A closed group buy's trip as orders follows it, for the leader's page and the neighbours' bags.

Dispatch carries the bags (one delivery, or a compartment per bag at a locker site) and says so in
its events; when no trip carries them, the leader collects at the counter with the consolidated
order's handover code, which only the leader sees. The leader (a helper with a bag in it, an
admin) confirms the arrival; while dispatch's rider has not reached the pickup point it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.orders.adapters.group_trips import DealTrip
from services.orders.domain import settlement
from services.orders.domain.group_buys import DealStatus, GroupBuy
from services.orders.service_layer import fulfilment, group_buys, residents
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Conflict, Forbidden
from shared.events.contracts import (
    GroupBuyArrived,
    GroupBuyLockerOpened,
    GroupBuyTripAtPickup,
    GroupBuyTripPlanned,
    GroupBuyTripRefused,
    OrderPacked,
)
from shared.vocabulary.roles import Role


async def _trip(uow: OrdersUnitOfWork, deal_id: str, kind: str) -> DealTrip:
    return await uow.group_trips.get(deal_id, lock=True) or DealTrip(deal_id, kind, "planned")


async def on_trip_planned(uow: OrdersUnitOfWork, e: GroupBuyTripPlanned) -> None:
    trip = await _trip(uow, e.deal_id, e.kind)
    if trip.status in ("at_pickup", "arrived", "refused"):
        return  # a late redelivery
    trip.kind, trip.bags, trip.weight_g, trip.vehicle = e.kind, e.bags, e.weight_g, e.vehicle
    trip.status = "planned" if e.weight_g is None else "open"
    trip.compartments = {c.number: {"compartment_id": c.compartment_id} for c in e.compartments}
    await uow.group_trips.put(trip, uow.now())


async def on_trip_refused(uow: OrdersUnitOfWork, e: GroupBuyTripRefused) -> None:
    """No one trip can carry the bags: the leader collects them at the counter, and is told why."""
    trip = await _trip(uow, e.deal_id, "delivery")
    trip.status, trip.reason, trip.bags, trip.weight_g, trip.vehicle = "refused", e.reason, e.bags, e.weight_g, None
    trip.compartments = {}
    await uow.group_trips.put(trip, uow.now())


async def on_trip_at_pickup(uow: OrdersUnitOfWork, e: GroupBuyTripAtPickup) -> None:
    trip = await _trip(uow, e.deal_id, e.kind)
    if trip.status == "arrived":
        return
    trip.status, trip.rider_id, trip.site_id = "at_pickup", e.rider_id, e.site_id
    for bag in e.deposited:
        trip.compartments[bag.number] = {
            "compartment_id": bag.compartment_id,
            "code": bag.code,
            "collect_by": bag.collect_by.isoformat(),
        }
    await uow.group_trips.put(trip, uow.now())


async def on_locker_opened(uow: OrdersUnitOfWork, e: GroupBuyLockerOpened) -> None:
    """A neighbour opened their bag's compartment with its code: the bag is collected, once."""
    deal = await uow.group_buys.get(e.deal_id, for_update=True)
    if deal is None or deal.status is not DealStatus.CLOSED:
        return
    share = next((s for s in deal.bags() if s.number == e.number), None)
    if share is None or share.bag_state != "waiting":
        return
    now = uow.now()
    share.collected_at, share.collected_by, share.updated_at = now, e.opened_by, now
    uow.journal.add([settlement.share_settled(deal, share, e.opened_by, now)])  # the shop's sale
    await uow.group_buys.save(deal, [share])


async def on_order_packed(uow: OrdersUnitOfWork, e: OrderPacked) -> None:
    """An order packed, as fulfilment takes it; a group buy's consolidated order also gives the leader the
    code to collect it with at the counter (when no trip of dispatch's carries it)."""
    await fulfilment.on_order_packed(uow, e)
    if not await uow.group_trips.is_deal(e.order_id):
        return
    trip = await _trip(uow, e.order_id, "counter")
    if trip.kind == "counter":
        trip.status = "counter"
    trip.counter_code = e.handover_code
    trip.bags, trip.weight_g = trip.bags or e.bags, e.weight_g
    await uow.group_trips.put(trip, uow.now())


async def confirm_arrival(uow: OrdersUnitOfWork, principal: Principal, deal_id: str) -> GroupBuy:
    """The bags are at the pickup point (the leader, a helper with a bag in it, an admin): dispatch's trip is
    complete. Refused while its rider has not reached the pickup point."""
    trip = await uow.group_trips.get(deal_id, lock=True)
    if trip is not None and trip.on_its_way:
        raise Conflict(
            "the bags are still on their way: dispatch's rider has not reached the pickup point yet "
            f"(the trip is {trip.status})"
        )
    deal = await group_buys.confirm_arrival(uow, principal, deal_id)
    if trip is not None and trip.kind != "counter" and trip.status != "refused":
        trip.status = "arrived"
        await uow.group_trips.put(trip, uow.now())
    await uow.publish(GroupBuyArrived(deal_id=deal.id, store_id=deal.store_id, confirmed_by=principal.subject))
    return deal


@dataclass(frozen=True)
class TripView:
    trip: DealTrip | None
    deal: GroupBuy
    counter_code: str | None  # the leader's (and admins') only
    compartments: dict[int, dict[str, Any]]  # per bag; codes only in the holder's own


async def trip_of(uow: OrdersUnitOfWork, principal: Principal, deal_id: str, resident: str | None) -> TripView:
    """The leader, the shop and admins see the whole trip; a neighbour (a helper, for a resident) sees their
    own bag's compartment and its code."""
    deal = await group_buys.get_deal(uow, deal_id)
    trip = await uow.group_trips.get(deal_id)
    comps = trip.compartments if trip else {}
    if group_buys.sees_shares(principal, deal):
        leader = principal.subject == deal.leader or principal.role is Role.ADMIN
        code = trip.counter_code if trip and leader and trip.status in ("counter", "refused") else None
        return TripView(trip, deal, code, {n: {"compartment_id": c["compartment_id"]} for n, c in comps.items()})
    mine = await group_buys.share_of(uow, principal, deal, resident)
    if mine is None or mine.number is None:
        raise Forbidden("the deal's leader, its shop, admins and its neighbours (for their own bag) see its trip")
    if principal.role is Role.HELPER and not await residents.may_act_for(uow, principal, mine.holder):
        raise Forbidden(f"you may not see {mine.holder}'s bag")
    own = comps.get(mine.number)
    return TripView(trip, deal, None, {mine.number: dict(own)} if own and mine.bag_state == "waiting" else {})
