"""A location's opening hours as stored, and whether an order's locations are all taking orders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.inventory.domain.catalog import Location
from shared.vocabulary.opening_hours import Closure, Window


def windows_of(raw: Any) -> list[Window] | None:
    """None (or no windows at all) means always open."""
    if not raw:
        return None
    return [Window.model_validate(w) for w in raw]


def closures_of(raw: Any) -> list[Closure]:
    return [Closure.model_validate(c) for c in raw or []]


def refusal(locations: Sequence[Location], timezone: str, at: datetime) -> tuple[str, str] | None:
    """The first location not taking orders at `at`, and why (with when it next opens); None if all are."""
    for location in locations:
        why = location.hours(timezone).why_not(at)
        if why is not None:
            return location.id, f"{location.name_en} ({location.id}) {why}"
    return None
