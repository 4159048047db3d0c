"""Delivery slots: a window the shopper chooses, and when the order must enter the shop's queue for it.

`release_at = slot.start − picking minutes − the ride from the shop to the door (e-bike)`:
orders computes it once and carries it in `OrderPlaced.release_at`, so inventory and dispatch
agree on when the work starts. A slot is refused with a reason the shopper can act on: in the
past, too soon to pick and ride, too short or too long, or the shop (or a stall the basket
draws on) closed at release time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from shared.errors import Invalid
from shared.vocabulary.geo import Point, street_metres, travel_s
from shared.vocabulary.opening_hours import Hours

MIN_LENGTH = timedelta(minutes=15)
MAX_LENGTH = timedelta(hours=2)
WINDOW = timedelta(minutes=30)  # the windows GET /stores/{id}/slots offers
HORIZON = timedelta(days=2)


class SlotProblem(Invalid):
    """A slot that cannot be kept (HTTP 422), saying what to choose instead."""


class OutsideDeliveryArea(Invalid):
    """The door is farther from the shop (by street) than it delivers (HTTP 422)."""


class Opening(Protocol):
    """A shop, market or stall as far as slots care: its names and its opening hours."""

    @property
    def location_id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def name_en(self) -> str: ...

    def hours(self, timezone: str) -> Hours: ...


@dataclass(frozen=True)
class Slot:
    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def ride_minutes(shop: Point, door: Point) -> int:
    """The ride from the shop to the door by e-bike, in whole minutes (rounded up)."""
    return math.ceil(travel_s(shop, door, "e_bike") / 60)


def lead_time(picking_minutes: int, ride: int) -> timedelta:
    return timedelta(minutes=picking_minutes + ride)


def release_at(slot_start: datetime, picking_minutes: int, ride: int) -> datetime:
    return slot_start - lead_time(picking_minutes, ride)


def check_radius(shop: Point, door: Point, radius_m: int, shop_name: str) -> int:
    """The street distance in metres, or OutsideDeliveryArea naming it, the radius and what to do instead."""
    distance = round(street_metres(shop, door))
    if distance > radius_m:
        raise OutsideDeliveryArea(
            f"the address is {distance} m from {shop_name} by street, but it delivers only "
            f"within {radius_m} m; choose pickup at the shop or a nearer shop"
        )
    return distance


def closed_at(locations: Iterable[Opening], at: datetime, timezone: str) -> list[str]:
    """Why each location is closed at `at` (by its timetable and closures), empty when all are open."""
    reasons = []
    for location in locations:
        hours = location.hours(timezone)
        if hours.is_open(at):
            continue
        what = "stall" if location.kind == "stall" else "shop"
        nxt = hours.next_opening(at)
        when = f"; it next opens {nxt:%a %Y-%m-%d %H:%M}" if nxt else ""
        reasons.append(
            f"the {what} {location.name_en} ({location.location_id!r}) is closed at "
            f"{at.astimezone(ZoneInfo(timezone)):%a %H:%M}{when}"
        )
    return reasons


def check_slot(
    slot: Slot, now: datetime, picking_minutes: int, ride: int, locations: Iterable[Opening], timezone: str
) -> datetime:
    """The slot's release time, or SlotProblem saying everything wrong with it."""
    problems = []
    length = slot.end - slot.start
    if slot.start <= now:
        problems.append("the slot starts in the past; choose a later one (GET /stores/{store_id}/slots)")
    else:
        earliest = now + lead_time(picking_minutes, ride)
        if slot.start < earliest:
            problems.append(
                f"the slot starts too soon: picking ({picking_minutes} min) and the ride ({ride} min) "
                f"need it to start at {earliest:%H:%M} or later"
            )
    if length < MIN_LENGTH:
        problems.append(f"the slot is {_minutes(length)} min long; it must be at least 15 minutes")
    elif length > MAX_LENGTH:
        problems.append(f"the slot is {_minutes(length)} min long; it may be at most 2 hours")
    release = release_at(slot.start, picking_minutes, ride)
    if not problems:
        problems += [f"{why}: choose a slot when it is open" for why in closed_at(locations, release, timezone)]
    if problems:
        raise SlotProblem("; ".join(problems))
    return release


def _minutes(length: timedelta) -> int:
    return int(length.total_seconds() // 60)


@dataclass(frozen=True)
class Offered:
    """One window GET /stores/{store_id}/slots offers, and why not when it cannot be chosen."""

    slot: Slot
    release_at: datetime
    available: bool
    why: str | None

    def as_dict(self) -> dict[str, object]:
        return {
            **self.slot.as_dict(),
            "release_at": self.release_at.isoformat(),
            "available": self.available,
            "why": self.why,
        }


def offered(
    now: datetime, picking_minutes: int, ride: int, locations: Iterable[Opening], timezone: str
) -> list[Offered]:
    """Every 30-minute window of the next two days, from the next half hour."""
    locations = list(locations)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=30 - now.minute % 30)
    windows = []
    while start < now + HORIZON:
        slot = Slot(start, start + WINDOW)
        release = release_at(start, picking_minutes, ride)
        why: str | None = None
        if release < now:
            why = f"too soon: picking and the ride take {picking_minutes + ride} minutes"
        else:
            closed = closed_at(locations, release, timezone)
            why = "; ".join(closed) if closed else None
        windows.append(Offered(slot, release, why is None, why))
        start += WINDOW
    return windows
