"""Locker sites and their compartments."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, Invalid, WrongCode
from shared.vocabulary.geo import Point

SIZES = ("S", "M", "L")


class CompartmentState(StrEnum):
    FREE = "free"
    RESERVED = "reserved"
    OCCUPIED = "occupied"


def size_for(bags: int | None, weight_g: int | None) -> str:
    """The smallest compartment the bag fits (unknown until packed: any, smallest first)."""
    if bags is None:
        return "S"
    if bags <= 1 and (weight_g or 0) <= 3000:
        return "S"
    if bags <= 2 and (weight_g or 0) <= 8000:
        return "M"
    return "L"


def sizes_from(size: str) -> list[str]:
    """The wanted size and the larger ones, smallest first."""
    return list(SIZES[SIZES.index(size) :])


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def collect_by(now: datetime, limit_s: float) -> datetime:
    return now + timedelta(seconds=limit_s)


def check_open(state: str | None, expected_code: str | None, code: str) -> None:
    if state != CompartmentState.OCCUPIED or expected_code is None:
        raise Conflict("there is nothing to collect in that compartment")
    if not secrets.compare_digest(code.strip(), expected_code):
        raise WrongCode("that code does not open any compartment here")


@dataclass(frozen=True)
class Compartment:
    site_id: str
    id: str
    size: str
    state: CompartmentState
    order_id: str | None = None
    code: str | None = None
    collect_by: datetime | None = None


@dataclass(frozen=True)
class LockerSite:
    id: str
    name: str
    lat: float
    lon: float
    free: dict[str, int]  # free compartments by size, every size named

    @property
    def point(self) -> Point:
        return Point(self.lat, self.lon)


def check_sizes(sizes: list[str]) -> None:
    for size in sizes:
        if size not in SIZES:
            raise Invalid(f"compartment sizes are {', '.join(SIZES)}")
