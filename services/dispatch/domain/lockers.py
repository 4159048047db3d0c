"""Locker sites and their compartments."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from services.dispatch.domain.delivery import Refused, WrongCode

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
        raise Refused("there is nothing to collect in that compartment")
    if not secrets.compare_digest(code.strip(), expected_code):
        raise WrongCode("that code does not open any compartment here")
