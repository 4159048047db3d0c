"""Assignment: the rounds that turn plan_round's proposals into offers, riders' answers, assignment
by hand, and taking an order back from a rider who went silent or fell behind."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch.domain.assignment import OpenOrder, Proposal, RiderView, single_trip
from services.dispatch.domain.delivery import BEFORE_PICKUP, CARRYING, Delivery, DeliveryStatus
from services.dispatch.domain.eta import eta_change, live_eta
from services.dispatch.domain.offers import Offer, OfferStatus, check_answer, is_behind, is_silent
from services.dispatch.domain.riders import Position, Rider
from services.dispatch.service_layer import lockers, planning
from services.dispatch.service_layer.quoting import quote_promises
from services.dispatch.service_layer.riders import rider_views, withdraw_offers
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.errors import Conflict, NotFound
from shared.events.contracts import EtaUpdated, RiderAssigned, RiderUnassigned
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.geo import Point

OPEN_OR_WITH_RIDER = frozenset({DeliveryStatus.OPEN}) | BEFORE_PICKUP | CARRYING
ROUND_LOCK = 0x6469737061  # one round at a time across dispatch processes
NO_RIDER = "no_rider"
PICKUP_ANSWER = "pickup_answer"


@dataclass
class RoundCounts:
    """What one round did, for logs and tests."""

    lapsed: int = 0
    taken_back: int = 0
    offers: int = 0
    eta_updates: int = 0
    quotes: int = 0
    skipped: int = 0

    def any(self) -> bool:
        return any((self.lapsed, self.taken_back, self.offers, self.eta_updates, self.quotes))


@dataclass(frozen=True)
class OfferForRider:
    """A pending offer as its rider sees it: the job and the countdown, no customer."""

    offer: Offer
    delivery: Delivery
    here: Point | None
    seconds_left: int


async def run_round(uow: DispatchUnitOfWork) -> RoundCounts:
    """One round: lapse old offers, take orders back from silent or late riders, offer the open ones,
    refresh the live ETAs and the shops' quotes."""
    if not await uow.deliveries.try_round_lock(ROUND_LOCK):
        return RoundCounts(skipped=1)
    counts = RoundCounts()
    riders = await uow.riders.all()
    found = await uow.positions.positions([r.id for r in riders])
    views = await rider_views(uow, riders, found)
    if await uow.deliveries.in_play(OPEN_OR_WITH_RIDER):  # else no offer to lapse, order to offer or follow
        counts.lapsed = await _lapse_offers(uow)
        counts.taken_back = await _take_back(uow, riders, found)
        if counts.lapsed or counts.taken_back:
            views = await rider_views(uow, riders, found)  # riders freed of an order or offer
        counts.offers = await _offer_open(uow, views)
        counts.eta_updates = await refresh_etas(uow, riders, found)
    counts.quotes = await quote_promises(uow, riders, found)
    return counts


async def _lapse_offers(uow: DispatchUnitOfWork) -> int:
    lapsed = await uow.offers.pending(lapsed_at=uow.now())
    for offer in lapsed:
        offer.lapse(uow.now())
        uow.note("offer_lapsed", {"offer_id": offer.id, "rider_id": offer.rider_id}, offer.order_id)
    await uow.offers.save_many(lapsed)
    await uow.offers.exclude_many([(o.order_id, o.rider_id, "no answer") for o in lapsed])
    return len(lapsed)


async def _take_back(uow: DispatchUnitOfWork, riders: list[Rider], found: dict[str, Position | None]) -> int:
    """Orders not yet picked up go back from riders gone silent, and from riders far behind their ETA."""
    now, taken = uow.now(), 0
    for r in riders:
        pos = found.get(r.id)
        if not is_silent(pos.seen_at if pos else None, now, uow.settings.rider_silent_s):
            continue
        await withdraw_offers(uow, "silent", rider_id=r.id)
        for d in await uow.deliveries.of_rider(r.id, BEFORE_PICKUP):
            await unassign(uow, d, "silent", exclude=False)
            taken += 1
    for d in await uow.deliveries.in_status([DeliveryStatus.ASSIGNED]):
        if d.eta_shop_at is not None and is_behind(d.eta_shop_at, now, uow.settings.rider_behind_s):
            late_s = int((now - d.eta_shop_at).total_seconds())
            await unassign(uow, d, f"behind: {late_s}s past the ETA to the shop", exclude=True)
            taken += 1
    return taken


def _open_order(d: Delivery, excluded: frozenset[str], now: datetime) -> OpenOrder | None:
    shop, door = d.shop, d.door
    if shop is None or door is None:
        return None
    promised = d.promised_at or now + timedelta(minutes=30)
    return OpenOrder(d.order_id, d.store_id, shop, door, d.ready_at or now, promised, excluded)


async def _offer_open(uow: DispatchUnitOfWork, views: list[RiderView]) -> int:
    """Offer the open deliveries that have no pending offer to the riders free of one, as the planner
    proposes, within the riders' shifts, with additions, holds and undeliverable alerts (planning.py)."""
    return await planning.plan_and_offer(uow, views)


async def _make_offer(uow: DispatchUnitOfWork, proposal: Proposal, order_id: str) -> None:
    now = uow.now()
    offer = Offer(
        str(uuid.uuid4()),
        order_id,
        proposal.rider_id,
        OfferStatus.PENDING,
        now + timedelta(seconds=uow.settings.offer_limit_s),
        proposal.eta_shop_at,
        proposal.eta_door_at.get(order_id, proposal.eta_shop_at),
        now,
    )
    await uow.offers.add(offer)
    uow.note(
        "offer",
        {"offer_id": offer.id, "rider_id": offer.rider_id, "expires_at": offer.expires_at.isoformat()},
        order_id,
    )


async def refresh_etas(uow: DispatchUnitOfWork, riders: list[Rider], found: dict[str, Position | None]) -> int:
    """Follow each assigned rider: EtaUpdated when the door ETA moves, late_risk (and an alert) past the promise.

    The deliveries that moved are saved together, in one statement.
    """
    now = uow.now()
    vehicles = {r.id: r.vehicle.value for r in riders}
    moved: list[Delivery] = []
    for d in await uow.deliveries.in_status(BEFORE_PICKUP | CARRYING):
        pos, door = found.get(d.rider_id or ""), d.door
        if pos is None or door is None:
            continue
        here = Point(pos.lat, pos.lon)
        vehicle = vehicles.get(d.rider_id or "", "bicycle")
        eta = live_eta(here, vehicle, now, d.shop, door, d.ready_at, picked_up=d.carrying)
        change = eta_change(d.eta_door_at, eta, d.promised_at, d.late_risk)
        if change is None:
            continue
        d.follow_eta(change.eta_door_at, change.late_risk)
        moved.append(d)
        await uow.publish(
            EtaUpdated(
                order_id=d.order_id, store_id=d.store_id, eta_door_at=change.eta_door_at, late_risk=change.late_risk
            )
        )
        if change.newly_late and d.promised_at is not None:
            message = f"order {d.order_id} will be late: door at {eta:%H:%M}, promised {d.promised_at:%H:%M}"
            await uow.alerts.raise_("late_risk", message, d.order_id, d.rider_id)
            uow.note("alert", {"kind": "late_risk", "message": message}, d.order_id)
    await uow.deliveries.save_many(moved)
    return len(moved)


async def offers_for(uow: DispatchUnitOfWork, rider_id: str) -> list[OfferForRider]:
    """The rider's pending offers, with the deliveries they are for (loaded together)."""
    now = uow.now()
    pos = (await uow.positions.positions([rider_id])).get(rider_id)
    here = Point(pos.lat, pos.lon) if pos else None
    offers = [o for o in await uow.offers.pending(rider_id=rider_id) if o.expires_at > now]
    deliveries = {d.order_id: d for d in await uow.deliveries.get_many([o.order_id for o in offers])}
    return [
        OfferForRider(o, deliveries[o.order_id], here, o.seconds_left(now)) for o in offers if o.order_id in deliveries
    ]


async def accept_offer(uow: DispatchUnitOfWork, rider_id: str, offer_id: str) -> Delivery:
    now = uow.now()
    offer = check_answer(await uow.offers.get(offer_id, lock=True), rider_id, now)
    d = await uow.deliveries.get(offer.order_id, lock=True)
    if d is None or d.status is not DeliveryStatus.OPEN:
        raise Conflict("this order no longer needs a rider")
    rider = await uow.riders.get(rider_id, lock=True)
    if rider is None:
        raise NotFound(f"no rider profile for {rider_id}")
    rider.check_room((await uow.deliveries.carrying()).get(rider_id, 0))
    offer.accept(rider_id, now)
    await uow.offers.save(offer)
    await _assign(uow, d, rider, offer.eta_shop_at or now, offer.eta_door_at or now, "dispatch")
    return d


async def decline_offer(uow: DispatchUnitOfWork, rider_id: str, offer_id: str) -> Offer:
    offer = check_answer(await uow.offers.get(offer_id, lock=True), rider_id, uow.now())
    offer.decline(rider_id, uow.now())
    await uow.offers.save(offer)
    await uow.offers.exclude(offer.order_id, rider_id, "declined")
    uow.note("offer_declined", {"offer_id": offer.id, "rider_id": rider_id}, offer.order_id)
    return offer


async def assign_by_hand(uow: DispatchUnitOfWork, order_id: str, rider_id: str, by: str) -> Delivery:
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None:
        raise NotFound(f"dispatch has no delivery for order {order_id}")
    d.check_assignable(rider_id)
    rider = await uow.riders.get(rider_id, lock=True)
    if rider is None:
        raise NotFound(f"no rider {rider_id}")
    if d.rider_id:
        await unassign(uow, d, f"reassigned by {by}", exclude=False)
    pos = (await uow.positions.positions([rider_id])).get(rider_id)
    now = uow.now()
    shop_at = await uow.shops.get(d.pickup_location or d.store_id)
    shop, door = (Point(shop_at.lat, shop_at.lon) if shop_at else None), d.door
    if pos and shop and door:
        view = RiderView(rider_id, rider.vehicle, Point(pos.lat, pos.lon), rider.capacity)
        order = OpenOrder(order_id, d.store_id, shop, door, d.ready_at or now, d.promised_at or now)
        trip = single_trip(view, order, now)
        eta_shop, eta_door = trip.eta_shop_at, trip.eta_door_at[order_id]
    else:
        eta_shop, eta_door = now + timedelta(minutes=10), now + timedelta(minutes=25)
    await _assign(uow, d, rider, eta_shop, eta_door, by)
    return d


async def _assign(
    uow: DispatchUnitOfWork, d: Delivery, rider: Rider, eta_shop: datetime, eta_door: datetime, by: str
) -> None:
    now = uow.now()
    if d.mode is FulfilmentMode.LOCKER and not d.compartment_id:
        await lockers.reserve(uow, d)
    d.assign(rider.id, now, eta_shop, eta_door)
    await uow.deliveries.save(d)
    await uow.cancel_deadline(NO_RIDER, d.order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, d.order_id)
    await withdraw_offers(uow, "assigned", order_id=d.order_id)
    await uow.publish(
        RiderAssigned(
            order_id=d.order_id,
            store_id=d.store_id,
            rider_id=rider.id,
            rider_name=rider.name,
            vehicle=rider.vehicle.value,
            eta_shop_at=eta_shop,
            eta_door_at=eta_door,
            assigned_by=by,
        )
    )
    await follow_load(uow, rider.id)


async def unassign(uow: DispatchUnitOfWork, d: Delivery, reason: str, *, exclude: bool) -> None:
    """Take the order back from its rider (before pickup): it is open again and the no-rider clock restarts."""
    if d.compartment_id:
        await lockers.release(uow, d)
    rider_id = d.unassign()
    await uow.deliveries.save(d)
    await uow.publish(RiderUnassigned(order_id=d.order_id, store_id=d.store_id, rider_id=rider_id, reason=reason))
    if exclude:
        await uow.offers.exclude(d.order_id, rider_id, reason)
    if reason == "silent" or reason.startswith("behind"):
        await uow.alerts.raise_(
            "reassigned", f"order {d.order_id} taken from {rider_id}: {reason}", d.order_id, rider_id
        )
    limit = await no_rider_limit_s(uow, d.store_id)
    await uow.schedule(NO_RIDER, d.order_id, uow.now() + timedelta(seconds=limit))
    await follow_load(uow, rider_id)


async def follow_load(uow: DispatchUnitOfWork, rider_id: str | None) -> None:
    """Busy at capacity, available again below it."""
    rider = await uow.riders.get(rider_id) if rider_id else None
    if rider is None:
        return
    if rider.follow_load((await uow.deliveries.carrying()).get(rider.id, 0)):
        await uow.riders.save(rider)
        uow.note("rider_state", {"rider_id": rider.id, "state": rider.state.value})


async def no_rider_limit_s(uow: DispatchUnitOfWork, store_id: str) -> float:
    shop = await uow.shops.get(store_id)
    if shop is not None and shop.no_rider_limit_s is not None:
        return float(shop.no_rider_limit_s)
    return uow.settings.no_rider_limit_s
