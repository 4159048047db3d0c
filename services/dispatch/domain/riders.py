"""A rider: a profile, a state the rider chooses (busy follows the load), and shoppers' ratings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from shared.errors import Conflict, Invalid


class Vehicle(StrEnum):
    FOOT = "foot"
    BICYCLE = "bicycle"
    E_BIKE = "e_bike"


class RiderState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    ON_BREAK = "on_break"
    BUSY = "busy"


# What a rider may choose for themselves; `busy` is never chosen, it follows the load.
CHOOSABLE = frozenset({RiderState.OFFLINE, RiderState.AVAILABLE, RiderState.ON_BREAK})

# The one table of the moves the load makes: (state, at capacity?) -> state. Nothing else moves alone.
BY_LOAD: Mapping[tuple[RiderState, bool], RiderState] = {
    (RiderState.AVAILABLE, True): RiderState.BUSY,
    (RiderState.BUSY, False): RiderState.AVAILABLE,
}


def rider_state_after(carrying: int, capacity: int, state: RiderState) -> RiderState:
    """Available riders at capacity are busy; busy riders below it are available again."""
    return BY_LOAD.get((state, carrying >= capacity), state)


@dataclass
class Rating:
    stars: float | None  # the average, None until someone rated the rider
    count: int


@dataclass
class Rider:
    id: str
    name: str
    vehicle: Vehicle
    capacity: int
    state: RiderState = RiderState.OFFLINE
    rating_sum: int = 0
    rating_count: int = 0
    version: int = 0

    @property
    def rating(self) -> Rating:
        count = self.rating_count
        return Rating(round(self.rating_sum / count, 2) if count else None, count)

    def choose(self, state: RiderState, carrying: int, in_hand: list[str]) -> RiderState:
        """The rider's own choice; `carrying` orders with them now, `in_hand` those already picked up."""
        if state not in CHOOSABLE:
            raise Conflict(f"a rider sets their state to one of {', '.join(sorted(CHOOSABLE))}; busy follows the load")
        if state is not RiderState.AVAILABLE and in_hand:
            raise Conflict(f"deliver the bags you carry first ({', '.join(in_hand)})")
        self.state = RiderState.BUSY if state is RiderState.AVAILABLE and carrying >= self.capacity else state
        return self.state

    def follow_load(self, carrying: int) -> bool:
        """Busy at capacity, available again below it; True when the state moved."""
        before = self.state
        self.state = rider_state_after(carrying, self.capacity, self.state)
        return self.state is not before

    def check_room(self, carrying: int) -> None:
        if carrying >= self.capacity:
            raise Conflict("you already carry as many orders as you can")


@dataclass(frozen=True)
class Position:
    """Where a rider last said they were, and when (epoch seconds)."""

    lat: float
    lon: float
    seen_at: float


@dataclass(frozen=True)
class Shift:
    starts_at: datetime
    ends_at: datetime


def current_shift(shifts: list[Shift], now: datetime) -> Shift | None:
    """The shift going on now, else today's next one."""
    return next((s for s in shifts if s.ends_at > now), None)


FAR_FROM_THE_CIRCLE_M = 50_000.0  # a position this far from every shop is a phone's mistake, not a rider


def check_position(lat: float, lon: float, nearest: tuple[str, float] | None) -> None:
    """Refuse a position more than 50 km from every shop of the circle, saying how far and from what."""
    if nearest is None:
        return  # no shop known yet: nothing to measure against
    name, metres = nearest
    if metres > FAR_FROM_THE_CIRCLE_M:
        raise Invalid(
            f"position {lat:.5f}, {lon:.5f} is {metres / 1000:.0f} km from the nearest shop of the circle ({name}); "
            f"positions more than {FAR_FROM_THE_CIRCLE_M / 1000:.0f} km away are refused: check the phone's location"
        )


def off_shift(shifts: list[Shift], now: datetime, zone: tzinfo | None = None) -> str | None:
    """Why a rider with shifts today is not on one now (None: on shift, or no shifts to go by);
    times in the neighbourhood's `zone`."""
    if not shifts or any(s.starts_at <= now < s.ends_at for s in shifts):
        return None
    ended = [s for s in shifts if s.ends_at <= now]
    if ended:
        return f"their shift ended at {max(s.ends_at for s in ended).astimezone(zone):%H:%M}"
    return f"their shift starts at {min(s.starts_at for s in shifts).astimezone(zone):%H:%M}"


def check_shifts(shifts: list[Shift], window: tuple[datetime, datetime] | None, day: object = None) -> None:
    """Each shift ends after it starts, no two start together, and with a day each touches that day."""
    for s in shifts:
        if s.ends_at <= s.starts_at:
            raise Invalid("a shift must end after it starts")
        if window and not (s.starts_at < window[1] and s.ends_at > window[0]):
            raise Invalid(f"a shift from {s.starts_at.isoformat()} is not on {day}: edit that day instead")
    starts = [s.starts_at for s in shifts]
    if len(set(starts)) != len(starts):
        raise Conflict("two shifts start at the same time: merge them into one")
