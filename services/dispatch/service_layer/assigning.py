"""Assignment: the rounds that turn plan_round's proposals into offers, riders' answers, assignment
by hand, and taking an order back from a rider who went silent or fell behind."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.dispatch.domain.assignment import (
    Hold,
    OpenOrder,
    Proposal,
    RiderView,
    Undeliverable,
    plan,
    single_trip,
)
from services.dispatch.domain.delivery import BEFORE_PICKUP, CARRYING, Delivery, DeliveryStatus
from services.dispatch.domain.eta import eta_change, live_eta
from services.dispatch.domain.offers import Offer, OfferStatus, check_answer, is_behind, is_silent
from services.dispatch.domain.riders import Position, Rider, off_shift
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


class OffShift(Conflict):
    """Assigning by hand a rider who is off shift needs the dispatcher's explicit override: HTTP 409."""


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
    """A pending offer as its rider sees it: the job and the countdown, no customer.

    `adds_to` (the offer's): not empty, the offer is an addition to the trip of these accepted orders
    the rider has not picked up yet, which the rider accepts or declines like any offer (declining
    keeps the trip).
    """

    offer: Offer
    delivery: Delivery
    here: Point | None
    seconds_left: int
    adds_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Bundle:
    """Several orders with one rider: accepted and not picked up yet, or offered together."""

    rider_id: str
    order_ids: tuple[str, ...]
    offered: bool  # True: offers still to answer; False: accepted


@dataclass(frozen=True)
class Addition:
    """An order offered (or planned) on top of a trip the rider accepted and has not picked up."""

    rider_id: str
    order_id: str
    adds_to: tuple[str, ...]
    offer_id: str | None  # None: planned this round, not offered yet
    eta_door_at: datetime | None


@dataclass(frozen=True)
class ShiftEnd:
    """A rider whose shift ends within the hour (or ended), with what they still have in hand."""

    rider_id: str
    name: str
    ends_at: datetime
    in_hand: tuple[str, ...]


@dataclass(frozen=True)
class BoardPlan:
    """What the board shows of the rounds: the plan over everything open now, and who is on it."""

    planned_at: datetime
    pressure: float
    holds: list[Hold]
    undeliverable: list[Undeliverable]
    bundles: list[Bundle]
    additions: list[Addition]
    shift_ends: list[ShiftEnd]


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
        OfferForRider(o, deliveries[o.order_id], here, o.seconds_left(now), o.adds_to)
        for o in offers
        if o.order_id in deliveries
    ]


async def board_plan(uow: DispatchUnitOfWork, horizon: timedelta = timedelta(hours=1)) -> BoardPlan:
    """The plan the rounds would make now over the same riders and orders, computed read-only for
    the board: held orders with the comparison that held them, orders no plan carries in time,
    bundles and additions (offered or accepted, and planned), and the shifts ending within `horizon`."""
    now = uow.now()
    riders = await uow.riders.all()
    found = await uow.positions.positions([r.id for r in riders])
    on_shift, _ = await planning.planning_views(uow, await rider_views(uow, riders, found))
    pending = await uow.offers.pending()
    offered_to = {o.order_id: o.rider_id for o in pending}
    waiting = [d for d in await uow.deliveries.in_status([DeliveryStatus.OPEN]) if d.order_id not in offered_to]
    excluded = await uow.offers.exclusions([d.order_id for d in waiting]) if waiting else {}
    held_since = await planning.hold_clocks(uow)
    orders = [
        item
        for d in waiting
        if (item := planning.order_for_plan(d, excluded.get(d.order_id, frozenset()), now, held_since.get(d.order_id)))
        is not None
    ]
    free = [v for v in on_shift if v.rider_id not in set(offered_to.values())]
    planned = plan(orders, free, now, planning.weights_for(uow.settings)) if orders and (free or not on_shift) else None
    undeliverable = planned.undeliverable if planned else []
    in_hand = await uow.deliveries.in_status(BEFORE_PICKUP | CARRYING)
    accepted: dict[str, list[str]] = {}
    for d in in_hand:
        if d.rider_id and d.status in BEFORE_PICKUP:
            accepted.setdefault(d.rider_id, []).append(d.order_id)
    offered: dict[str, list[str]] = {}
    for o in pending:
        offered.setdefault(o.rider_id, []).append(o.order_id)
    bundles = [Bundle(r, tuple(ids), False) for r, ids in sorted(accepted.items()) if len(ids) > 1]
    bundles += [Bundle(r, tuple(ids), True) for r, ids in sorted(offered.items()) if len(ids) > 1]
    additions = [Addition(o.rider_id, o.order_id, o.adds_to, o.id, o.eta_door_at) for o in pending if o.adds_to]
    for p in planned.additions if planned else []:
        additions += [Addition(p.rider_id, oid, p.adds_to, None, p.eta_door_at.get(oid)) for oid in p.order_ids]
    start = now.astimezone(ZoneInfo(uow.settings.timezone)).replace(hour=0, minute=0, second=0, microsecond=0)
    shifts = await uow.shifts.between([r.id for r in riders], start, start + timedelta(days=1))
    hand: dict[str, list[str]] = {}
    for d in in_hand:
        if d.rider_id:
            hand.setdefault(d.rider_id, []).append(d.order_id)
    ends: list[ShiftEnd] = []
    for r in riders:
        current = next((s for s in shifts.get(r.id, []) if s.starts_at <= now < s.ends_at), None)
        ended = [s for s in shifts.get(r.id, []) if s.ends_at <= now]
        if current and current.ends_at - now <= horizon:
            ends.append(ShiftEnd(r.id, r.name, current.ends_at, tuple(hand.get(r.id, []))))
        elif current is None and ended and hand.get(r.id):  # past the shift's end with orders in hand
            ends.append(ShiftEnd(r.id, r.name, max(s.ends_at for s in ended), tuple(hand[r.id])))
    ends.sort(key=lambda e: (e.ends_at, e.rider_id))
    return BoardPlan(
        now,
        planned.pressure if planned else 0.0,
        planned.holds if planned else [],
        undeliverable,
        bundles,
        additions,
        ends,
    )


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


async def assign_by_hand(
    uow: DispatchUnitOfWork, order_id: str, rider_id: str, by: str, *, override_shift: bool = False
) -> Delivery:
    """A dispatcher's choice. A rider off shift (today's shifts ended, or not begun) needs
    `override_shift`; the override goes on the order's timeline with who made it (RiderAssigned.override)."""
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None:
        raise NotFound(f"dispatch has no delivery for order {order_id}")
    d.check_assignable(rider_id)
    rider = await uow.riders.get(rider_id, lock=True)
    if rider is None:
        raise NotFound(f"no rider {rider_id}")
    now = uow.now()
    zone = ZoneInfo(uow.settings.timezone)
    local = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    # From a day back, not from midnight: just after midnight a shift that ended at 23:50 is the
    # one the rider is off, and without it the rider would count as having no shifts at all.
    recent = await uow.shifts.between([rider_id], now - timedelta(days=1), local + timedelta(days=1))
    why = off_shift(recent.get(rider_id, []), now, zone)
    if why and not override_shift:
        raise OffShift(
            f"{rider.name} ({rider_id}) is off shift: {why}; assign with override_shift to send them anyway",
            needs="override_shift",
        )
    override = f"assigned off shift ({why}) by {by}" if why else None
    if d.rider_id:
        await unassign(uow, d, f"reassigned by {by}", exclude=False)
    pos = (await uow.positions.positions([rider_id])).get(rider_id)
    shop_at = await uow.shops.get(d.pickup_location or d.store_id)
    shop, door = (Point(shop_at.lat, shop_at.lon) if shop_at else None), d.door
    if pos and shop and door:
        view = RiderView(rider_id, rider.vehicle, Point(pos.lat, pos.lon), rider.capacity)
        order = OpenOrder(order_id, d.store_id, shop, door, d.ready_at or now, d.promised_at or now)
        trip = single_trip(view, order, now)
        eta_shop, eta_door = trip.eta_shop_at, trip.eta_door_at[order_id]
    else:
        eta_shop, eta_door = now + timedelta(minutes=10), now + timedelta(minutes=25)
    await _assign(uow, d, rider, eta_shop, eta_door, by, override=override)
    if override:
        uow.note("override", {"rider_id": rider_id, "by": by, "why": why}, order_id)
    return d


async def _assign(
    uow: DispatchUnitOfWork,
    d: Delivery,
    rider: Rider,
    eta_shop: datetime,
    eta_door: datetime,
    by: str,
    *,
    override: str | None = None,
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
            override=override,
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
