"""Which shops of the circle serve a point, and what a shopper should know about each.

A shop delivers to a door within its delivery radius, measured along the streets (straight
line × DETOUR, as riders ride); a shopper collects from any shop within the circle's walk
(CIRCLE_WALK_MINUTES). These rules are pure: the read models supply the facts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from services.orders.domain.basket import CatalogLocation
from shared.vocabulary import geo
from shared.vocabulary.opening_hours import Hours
from shared.vocabulary.promise import PickupChance, door_minutes


class Mode(StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"


@dataclass(frozen=True)
class Storefront:
    """A shop, market or stall as discovery sees it: the catalog's facts plus where it is."""

    location: CatalogLocation
    category: str
    point: geo.Point

    @property
    def location_id(self) -> str:
        return self.location.location_id


@dataclass(frozen=True)
class Reach:
    """How far a shop is from the shopper, and whether it can serve them."""

    distance_m: int  # along the streets
    walk_minutes: int
    delivers_here: bool

    def serves(self, mode: Mode) -> bool:
        if mode is Mode.DELIVERY:
            return self.delivers_here
        return self.walk_minutes <= geo.CIRCLE_WALK_MINUTES


def reach(shop: Storefront, door: geo.Point) -> Reach:
    street = geo.street_metres(shop.point, door)
    return Reach(
        distance_m=round(street),
        walk_minutes=geo.walking_minutes(shop.point, door),
        delivers_here=street <= shop.location.delivery_radius_m,
    )


class BusyLevel(StrEnum):
    QUIET = "quiet"
    BUSY = "busy"
    VERY_BUSY = "very_busy"


BUSY_FROM = 3  # open orders at which a shop counts as busy
VERY_BUSY_FROM = 8
OPEN_STATUSES = ("CONFIRMED", "ACCEPTED", "PICKING")  # accepted work the shop has not yet packed


def busy_level(open_orders: int) -> BusyLevel:
    if open_orders >= VERY_BUSY_FROM:
        return BusyLevel.VERY_BUSY
    if open_orders >= BUSY_FROM:
        return BusyLevel.BUSY
    return BusyLevel.QUIET


@dataclass(frozen=True)
class Quote:
    """Dispatch's latest PromiseQuoted for a shop, without the last leg to the door."""

    ready_minutes: int
    rider_to_shop_minutes: int | None  # None: no rider
    riders_available: int
    quoted_at: datetime
    pickups: tuple[PickupChance, ...] = ()  # per vehicle, the earliest rider at the shop after the orders ahead
    slack_minutes: int = 0


def promise_minutes(quote: Quote | None, shop: geo.Point, door: geo.Point) -> int | None:
    """Minutes to the door, by dispatch's rule (shared/vocabulary/promise.py `door_minutes`): the best
    rider's max(ready, at the shop) + their ride + the handovers + the quote's slack. A quote from
    before load-aware quoting: max(ready, rider to shop) + the e-bike ride + the handover.

    None when dispatch has not quoted the shop yet or reports no rider.
    """
    if quote is None or quote.rider_to_shop_minutes is None:
        return None
    if quote.pickups:
        return door_minutes(quote.ready_minutes, quote.pickups, quote.slack_minutes, shop, door)
    ride = math.ceil(geo.travel_s(shop, door, "e_bike") / 60)
    return max(quote.ready_minutes, quote.rider_to_shop_minutes) + ride + geo.HANDOVER_MINUTES


def quote_of(r: Mapping[str, Any]) -> Quote:
    """A circle_promises row (a record, or its JSON)."""
    quoted_at = r["quoted_at"]
    return Quote(
        r["ready_minutes"],
        r["rider_to_shop_minutes"],
        r["riders_available"],
        quoted_at if isinstance(quoted_at, datetime) else datetime.fromisoformat(quoted_at),
        tuple(PickupChance(p["vehicle"], p["at_shop_minutes"]) for p in r.get("pickups") or ()),
        r.get("slack_minutes") or 0,
    )


@dataclass(frozen=True)
class OpenState:
    open_now: bool  # taking orders: open by the timetable and not paused
    opens_at: datetime | None  # when closed by the timetable: the next opening
    closes_at: datetime | None  # when open: the end of the current stretch (None: never closes)
    paused: bool


def open_state(hours: Hours, at: datetime) -> OpenState:
    if not hours.is_open(at):
        return OpenState(False, hours.next_opening(at), None, hours.paused)
    return OpenState(not hours.paused, None, closes_at(hours, at), hours.paused)


def closes_at(hours: Hours, at: datetime, horizon_days: int = 7) -> datetime | None:
    """When an open location next closes, following windows that run into each other (also past
    midnight, where a day's last window ends at 23:59:59 and the next day's starts at 00:00)."""
    zone = ZoneInfo(hours.timezone)
    moment = at.astimezone(zone)
    end_of = moment + timedelta(days=horizon_days)
    while moment < end_of:
        if not hours.is_open(moment):
            return moment
        today = [w for w in hours.windows if w.day == moment.weekday() and w.opens <= moment.time() < w.closes]
        closes = max(w.closes for w in today)
        moment = datetime.combine(moment.date(), closes, tzinfo=zone)
        if closes.hour == 23 and closes.minute == 59:  # the day's end: carry on into tomorrow at midnight
            after = datetime.combine(moment.date() + timedelta(days=1), datetime.min.time(), tzinfo=zone)
            if not hours.is_open(after):
                return moment
            moment = after
    return None


@dataclass(frozen=True)
class Found:
    """A shop that serves the point, with what the shopper sees about it."""

    shop: Storefront
    reach: Reach
    state: OpenState


def serving(
    shops: list[Storefront],
    door: geo.Point,
    mode: Mode,
    at: datetime,
    timezone: str,
    *,
    category: str | None = None,
    stalls_of: dict[str, list[Storefront]] | None = None,
) -> list[Found]:
    """The active shops and markets that serve `door` in `mode`: open first, then nearest.

    A category matches the shop's own or, for a market, any of its stalls'.
    """
    found = []
    for shop in shops:
        if not shop.location.active or shop.location.kind == "stall":
            continue
        if (
            category
            and shop.category != category
            and not any(s.category == category for s in (stalls_of or {}).get(shop.location_id, []))
        ):
            continue
        r = reach(shop, door)
        if r.serves(mode):
            found.append(Found(shop, r, open_state(shop.location.hours(timezone), at)))
    return sorted(found, key=lambda f: (not f.state.open_now, f.reach.distance_m, f.shop.location.name_en))


@dataclass(frozen=True)
class LockerSite:
    """A parcel locker site as dispatch last reported it (a moment behind; dispatch checks again)."""

    site_id: str
    name: str
    point: geo.Point
    active: bool
    free: dict[str, int]  # free compartments by size: S, M, L

    @property
    def has_room(self) -> bool:
        return self.active and any(n > 0 for n in self.free.values())


@dataclass(frozen=True)
class NearbyLocker:
    site: LockerSite
    distance_m: int  # along the streets
    walk_minutes: int


def lockers_within_walk(sites: list[LockerSite], door: geo.Point) -> list[NearbyLocker]:
    """Active sites within the circle's walk, nearest first."""
    near = [
        NearbyLocker(s, round(geo.street_metres(s.point, door)), geo.walking_minutes(s.point, door))
        for s in sites
        if s.active
    ]
    return sorted(
        (n for n in near if n.walk_minutes <= geo.CIRCLE_WALK_MINUTES), key=lambda n: (n.distance_m, n.site.site_id)
    )
