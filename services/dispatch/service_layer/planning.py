"""The planner's round, wired to the service: `plan` over the open deliveries and the riders on
shift, and what becomes of its answer (docs/assignment.md, "In the service").

- Riders are planned within their shift (`shift_ends_at`, contiguous shifts merged); a rider whose
  shifts today are all over, or not begun, is not planned, and their pending offers are withdrawn
  ("shift ended") as the shift closes. A rider with no shift at all is planned as before.
- A rider whose whole load is a trip accepted and not picked up carries it as `planned`, so the
  planner may propose an *addition*: an offer with `adds_to` naming the accepted orders. A rider
  with bags in hand is planned from where and when their route ends (the last door ETA).
- Held orders (`RoundPlan.holds`) are kept in PostgreSQL (`uow.round_memory`, migration 009)
  with the time the hold for a busy rider began (`OpenOrder.held_since`, which bounds it to the
  `max_hold_s` setting) and the comparison, and noted to the board's stream (`order_held`) when
  a hold begins or changes rider or reason.
- An order no plan carries in time raises one `undeliverable` alert, before the no-rider timeout.

`plan_and_offer` is the whole step; the round (`assigning.run_round`) calls it. Rounds take turns
at the round lock across instances, and each reads the holds and alerts the last round kept,
whichever instance ran it: one hold clock, one alert per order, across restarts too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from services.dispatch.domain.assignment import (
    DEFAULT_WEIGHTS,
    CostWeights,
    KeptHold,
    OpenOrder,
    Proposal,
    RiderView,
    RoundPlan,
    plan,
)
from services.dispatch.domain.delivery import BEFORE_PICKUP, WITH_RIDER, Delivery, DeliveryStatus
from services.dispatch.domain.offers import Offer, OfferStatus
from services.dispatch.domain.riders import Shift
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.settings import Settings
from shared.vocabulary.geo import Point

SHIFT_ENDED = "shift ended"
DOOR_S = 60.0  # the handover at a door, as the planner counts it (CostWeights.door_s)


def weights_for(settings: Settings) -> CostWeights:
    """The planner's weights with the service's settings in them (`max_hold_s`)."""
    return replace(DEFAULT_WEIGHTS, max_hold_s=settings.max_hold_s)


async def hold_clocks(uow: DispatchUnitOfWork) -> dict[str, datetime]:
    """Since when each order is held for a busy rider, as the last round (of any instance) kept it."""
    return {oid: k.busy_since for oid, k in (await uow.round_memory.holds()).items() if k.busy_since is not None}


def shift_end(shifts: Sequence[Shift], now: datetime) -> tuple[bool, datetime | None]:
    """(on shift now?, when the shift ends) — back-to-back shifts are one. No shifts: (True, None)."""
    if not shifts:
        return True, None
    ordered = sorted(shifts, key=lambda s: s.starts_at)
    current = next((s for s in ordered if s.starts_at <= now < s.ends_at), None)
    if current is None:
        return False, None
    ends = current.ends_at
    for s in ordered:
        if s.starts_at <= ends < s.ends_at:
            ends = s.ends_at
    return True, ends


def order_for_plan(
    d: Delivery, excluded: frozenset[str], now: datetime, held_since: datetime | None = None
) -> OpenOrder | None:
    """A delivery as the planner sees it: where, when ready and promised, its bags once packed."""
    shop, door = d.shop, d.door
    if shop is None or door is None:
        return None
    return OpenOrder(
        d.order_id,
        d.store_id,
        shop,
        door,
        d.ready_at or now,
        d.promised_at or now + timedelta(minutes=30),
        excluded,
        bags=d.bags,
        weight_g=d.weight_g,
        placed_at=d.opened_at or d.created_at,  # its age counts from the shop accepting it
        held_since=held_since,
    )


async def planning_views(uow: DispatchUnitOfWork, views: Sequence[RiderView]) -> tuple[list[RiderView], list[str]]:
    """The riders the round may plan, with their shift's end, their load in bags and kilograms, and
    the accepted trip an addition may join; and the riders off shift (not planned)."""
    now = uow.now()
    ids = [v.rider_id for v in views]
    shifts = await uow.shifts.between(ids, now - timedelta(hours=24), now + timedelta(hours=24)) if ids else {}
    with_rider: dict[str, list[Delivery]] = {}
    for d in await uow.deliveries.in_status(WITH_RIDER):
        if d.rider_id:
            with_rider.setdefault(d.rider_id, []).append(d)
    out: list[RiderView] = []
    off: list[str] = []
    for v in views:
        on, ends = shift_end(shifts.get(v.rider_id, []), now)
        if not on:
            off.append(v.rider_id)
            continue
        load = with_rider.get(v.rider_id, [])
        planned: tuple[OpenOrder, ...] = ()
        if load and all(d.status in BEFORE_PICKUP for d in load) and len(load) == v.carrying:
            trip = [order_for_plan(d, frozenset(), now) for d in load]
            if all(o is not None for o in trip):
                planned = tuple(o for o in trip if o is not None)
        bags = sum(d.bags or 1 for d in load)
        kg = sum((d.weight_g or 2000) for d in load) / 1000
        free_at, route_end = _route_end(load, now) if not planned else (None, None)
        out.append(
            replace(
                v,
                shift_ends_at=ends,
                planned=planned,
                load_bags=bags,
                load_kg=kg,
                free_at=v.free_at or free_at,
                route_end=v.route_end or route_end,
            )
        )
    return out, off


def _route_end(load: Sequence[Delivery], now: datetime) -> tuple[datetime | None, Point | None]:
    """When and where the rider's route in hand ends, from the deliveries' door ETAs: the last door
    plus its handover. None when no ETA is ahead (the rider is then planned from where they are)."""
    ahead = [(d.eta_door_at, d.door) for d in load if d.eta_door_at and d.eta_door_at > now and d.door]
    if not ahead:
        return None, None
    at, door = max(ahead, key=lambda x: x[0] or now)
    assert at is not None
    return at + timedelta(seconds=DOOR_S), door


async def plan_and_offer(uow: DispatchUnitOfWork, views: Sequence[RiderView]) -> int:
    """End the offers of riders off shift, plan the open deliveries that have no pending offer over
    the riders free of one, and offer what the plan proposes (additions with `adds_to`); keep and
    note the holds, alert the undeliverable. Returns the number of offers made."""
    now = uow.now()
    weights = weights_for(uow.settings)
    riders, off = await planning_views(uow, views)
    for rider_id in off:
        for offer in await uow.offers.pending(rider_id=rider_id):
            offer.withdraw(now, SHIFT_ENDED)
            await uow.offers.save(offer)
            uow.note(
                "offer_withdrawn", {"offer_id": offer.id, "rider_id": rider_id, "reason": SHIFT_ENDED}, offer.order_id
            )
    pending = {o.order_id: o.rider_id for o in await uow.offers.pending()}
    open_now = await uow.deliveries.in_status([DeliveryStatus.OPEN])
    waiting = [d for d in open_now if d.order_id not in pending]
    excluded = await uow.offers.exclusions([d.order_id for d in waiting]) if waiting else {}
    kept = await uow.round_memory.holds()
    orders = [
        o
        for d in waiting
        if (o := order_for_plan(d, excluded.get(d.order_id, frozenset()), now, _busy_since(kept, d.order_id)))
        is not None
    ]
    await uow.round_memory.forget_alerts_except([d.order_id for d in open_now])
    busy = set(pending.values())
    free = [v for v in riders if v.rider_id not in busy]
    if orders and not riders:  # nobody on shift to plan with: every open order is undeliverable
        await _remember(uow, plan(orders, [], now, weights), kept, now)
        return 0
    if not orders or not free:
        await uow.round_memory.forget_holds_except([o.order_id for o in orders])  # the clocks of the rest run on
        return 0
    result = plan(orders, free, now, weights)
    made = 0
    for proposal in result.proposals:
        for order_id in proposal.order_ids:
            if order_id not in pending:
                await _offer(uow, proposal, order_id)
                pending[order_id] = proposal.rider_id
                made += 1
    await _remember(uow, result, kept, now)
    return made


def _busy_since(kept: dict[str, KeptHold], order_id: str) -> datetime | None:
    k = kept.get(order_id)
    return k.busy_since if k else None


async def _remember(uow: DispatchUnitOfWork, result: RoundPlan, kept: dict[str, KeptHold], now: datetime) -> None:
    """Keep this round's holds (a hold for a busy rider keeps the clock it had, of whichever
    instance began it), note the new or changed ones, and raise each undeliverable alert once."""
    holds: list[KeptHold] = []
    for h in result.holds:
        before = kept.get(h.order_id)
        since = None
        if h.reason == "rider_busy":
            since = before.busy_since if before and before.busy_since else now
        holds.append(KeptHold(h, since))
        if before is None or (before.hold.reason, before.hold.rider_id) != (h.reason, h.rider_id):
            uow.note(
                "order_held",
                {
                    "reason": h.reason,
                    "rider_id": h.rider_id,
                    "leaves_at": h.leaves_at.isoformat(),
                    "eta_door_at": h.eta_door_at.isoformat(),
                    "hold_cost": h.hold_cost,
                    "send_now_rider": h.send_now_rider,
                    "send_now_cost": h.send_now_cost,
                },
                h.order_id,
            )
    await uow.round_memory.keep(holds, now)
    for u in result.undeliverable:
        if not await uow.round_memory.first_alert(u.order_id, now):
            continue
        message = f"order {u.order_id} cannot be delivered in time: {u.reason}"
        await uow.alerts.raise_("undeliverable", message, u.order_id, None)
        uow.note("alert", {"kind": "undeliverable", "message": message}, u.order_id)


async def _offer(uow: DispatchUnitOfWork, proposal: Proposal, order_id: str) -> None:
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
        adds_to=proposal.adds_to,
    )
    await uow.offers.add(offer)
    data: dict[str, Any] = {
        "offer_id": offer.id,
        "rider_id": offer.rider_id,
        "expires_at": offer.expires_at.isoformat(),
    }
    if proposal.adds_to:
        data["adds_to"] = list(proposal.adds_to)
    uow.note("offer", data, order_id)
