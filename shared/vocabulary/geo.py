"""Distances and travel times in a living circle: short hops, so a straight line with a detour factor."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_000.0
DETOUR = 1.3  # streets are not straight lines; ~1.3 is typical for dense old neighbourhoods

# Metres per second, including stopping at crossings and stairs.
SPEED_MPS = {"foot": 1.2, "bicycle": 3.5, "e_bike": 5.0}


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float


def metres(a: Point, b: Point) -> float:
    """Great-circle distance; exact enough at neighbourhood scale."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def travel_s(a: Point, b: Point, vehicle: str) -> float:
    return metres(a, b) * DETOUR / SPEED_MPS.get(vehicle, SPEED_MPS["bicycle"])


def speed_mps(vehicle: str) -> float:
    """A vehicle's speed; unknown vehicles ride like a bicycle (as in `travel_s`)."""
    return SPEED_MPS.get(vehicle, SPEED_MPS["bicycle"])


def street_metres(a: Point, b: Point) -> float:
    """The distance a rider actually covers between two points: the straight line times DETOUR."""
    return metres(a, b) * DETOUR


# The living circle is what a resident reaches on foot in about 15 minutes.
CIRCLE_WALK_MINUTES = 15


def walking_minutes(a: Point, b: Point) -> int:
    """Minutes on foot along the streets, rounded up: what a shopper reads as "6 min walk"."""
    return math.ceil(travel_s(a, b, "foot") / 60)


# Minutes at the door (or the locker) on top of the ride, in every promise Linli makes.
HANDOVER_MINUTES = 5
