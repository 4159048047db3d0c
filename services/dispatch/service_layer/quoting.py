"""PromiseQuoted: what each shop could promise a new order now, load-aware, every round.

The slack is the promise's history's (the misses of the latest delivered orders of the shop and
load band, read once a round), or the rule's while the history knows too little. The forecast
(domain/promises.py) is built once per round from the riders on shift now or within
30 minutes (their routes in hand, their shifts) and the open orders no rider has yet; one query
then finds every shop's earliest rider per vehicle after that backlog; only the shops whose quote
moved (`should_requote`) are published and saved. At most `MAX_PER_ROUND` go out in one round,
real changes before mere ten-minute refreshes, so a start-up with thousands of shops never makes
one round long: the rest follow in the next rounds. `load` is what OrderPlaced's check uses too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch.domain.delivery import BEFORE_PICKUP, CARRYING, DeliveryStatus
from services.dispatch.domain.offers import is_silent
from services.dispatch.domain.promises import (
    DEFAULT_PROMISE,
    Ahead,
    Courier,
    Free,
    LoadQuote,
    PromiseHistory,
    forecast,
    quote_from,
    shop_ready_s,
    should_requote,
)
from services.dispatch.domain.riders import Position, Rider, RiderState
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.events.contracts import PromiseQuoted, QuotedPickup
from shared.vocabulary.geo import Point

MAX_PER_ROUND = 200
_NEVER = timedelta.max  # "would it be re-quoted if age did not matter?"
_ON = frozenset({RiderState.AVAILABLE, RiderState.BUSY})
AHEAD = (DeliveryStatus.PENDING, DeliveryStatus.OPEN)  # placed or accepted, no rider yet


async def history(uow: DispatchUnitOfWork) -> PromiseHistory:
    """The promise's history: the misses of the latest delivered orders, per shop and load band."""
    return PromiseHistory.of(await uow.deliveries.promise_misses())


@dataclass(frozen=True)
class Load:
    couriers: list[Courier]
    ahead: list[Ahead]

    def forecast(self, now: datetime) -> list[Free]:
        return forecast(self.couriers, self.ahead, now)


async def load(
    uow: DispatchUnitOfWork,
    riders: list[Rider] | None = None,
    found: dict[str, Position | None] | None = None,
    *,
    without: frozenset[str] = frozenset(),
) -> Load:
    """The riders who may carry orders in the next 30 minutes, and the orders waiting for one.

    A rider counts when available or busy and heard from lately, until their shift's end (no shift
    today: until they go offline); an offline rider with a position counts from a shift starting
    within the horizon. One on a route is free where and when its last door is done.
    """
    now = uow.now()
    riders = await uow.riders.all() if riders is None else riders
    found = await uow.positions.positions([r.id for r in riders]) if found is None else found
    horizon = timedelta(seconds=DEFAULT_PROMISE.horizon_s)
    shifts = await uow.shifts.between([r.id for r in riders], now - timedelta(hours=18), now + horizon)
    in_hand = await uow.deliveries.in_status(BEFORE_PICKUP | CARRYING)
    routes: dict[str, tuple[datetime, Point]] = {}
    for d in in_hand:
        if not (d.rider_id and d.eta_door_at and d.door):
            continue
        if d.rider_id not in routes or routes[d.rider_id][0] < d.eta_door_at:
            routes[d.rider_id] = (d.eta_door_at, d.door)
    couriers: list[Courier] = []
    for r in riders:
        pos = found.get(r.id)
        if pos is None:
            continue
        mine = shifts.get(r.id, [])
        current = next((s for s in mine if s.starts_at <= now < s.ends_at), None)
        upcoming = next((s for s in mine if s.starts_at > now), None)
        route = routes.get(r.id)
        free_at = route[0] + timedelta(seconds=DEFAULT_PROMISE.door_s) if route else None
        here = Point(pos.lat, pos.lon)
        if r.state in _ON and not is_silent(pos.seen_at, now, uow.settings.rider_silent_s):
            if mine and current is None and upcoming is None:
                continue  # today's shift is over
            shift = current or upcoming
            starts = upcoming.starts_at if current is None and upcoming else None
            couriers.append(
                Courier(r.id, r.vehicle.value, here, r.capacity, free_at, route[1] if route else None, starts,
                        shift.ends_at if shift else None)
            )  # fmt: skip
        elif r.state is RiderState.OFFLINE and upcoming is not None:
            starts, ends = upcoming.starts_at, upcoming.ends_at
            couriers.append(Courier(r.id, r.vehicle.value, here, r.capacity, None, None, starts, ends))
    ahead = [
        Ahead(d.store_id, shop, door, d.ready_at or now)
        for d in await uow.deliveries.in_status(AHEAD)
        if d.order_id not in without and (shop := d.shop) is not None and (door := d.door) is not None
        and (d.release_at is None or d.release_at <= now + horizon)
    ]  # fmt: skip
    return Load(couriers, ahead)


async def quote_promises(
    uow: DispatchUnitOfWork, riders: list[Rider] | None = None, found: dict[str, Position | None] | None = None
) -> int:
    """Publish PromiseQuoted for the shops whose quote changed; returns how many were published."""
    now = uow.now()
    current = await load(uow, riders, found)
    free = current.forecast(now)
    per_shop = Counter(a.store_id for a in current.ahead)
    learnt = await history(uow)
    due: list[tuple[bool, str, LoadQuote]] = []
    for shop in await uow.shops.quote_inputs(free, now):
        ready = shop_ready_s(shop.picking_minutes, shop.queued, now)
        new = quote_from(
            ready, shop.pickups, len(free), len(current.ahead), per_shop[shop.location_id],
            store_id=shop.location_id, history=learnt,
        )  # fmt: skip
        if should_requote(shop.last, shop.last_quoted_at, new, now):
            changed = should_requote(shop.last, shop.last_quoted_at, new, now, every=_NEVER)
            due.append((not changed, shop.location_id, new))
    due.sort(key=lambda item: item[0])  # changes first, refreshes after (stable: by location id)
    saved: list[tuple[str, LoadQuote, datetime]] = []
    for _, location_id, quote in due[:MAX_PER_ROUND]:
        saved.append((location_id, quote, now))
        await uow.publish(
            PromiseQuoted(
                location_id=location_id,
                ready_minutes=quote.ready_minutes,
                rider_to_shop_minutes=quote.rider_to_shop_minutes,
                riders_available=quote.riders,
                quoted_at=now,
                pickups=[QuotedPickup(vehicle=c.vehicle, at_shop_minutes=c.at_shop_minutes) for c in quote.chances],
                slack_minutes=quote.slack_minutes,
                orders_ahead=quote.ahead,
            )
        )
    if saved:
        await uow.shops.save_quotes(saved)
    return len(saved)
