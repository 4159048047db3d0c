"""A location's opening hours as stored, turned into the shared rules of `opening_hours`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.vocabulary.opening_hours import ALWAYS_OPEN, Closure, Hours, Window


def windows_of(raw: Any) -> list[Window] | None:
    """None (or no windows at all) means always open."""
    if not raw:
        return None
    return [Window.model_validate(w) for w in raw]


def closures_of(raw: Any) -> list[Closure]:
    return [Closure.model_validate(c) for c in raw or []]


def hours_of(location: Mapping[str, Any], timezone: str) -> Hours:
    windows = windows_of(location.get("windows"))
    return Hours(
        windows=tuple(windows) if windows else ALWAYS_OPEN,
        closures=tuple(closures_of(location.get("closures"))),
        paused=bool(location.get("paused")),
        timezone=timezone,
    )


def refusal(locations: list[Mapping[str, Any]], timezone: str, at: datetime) -> tuple[str, str] | None:
    """The first location not taking orders at `at`, and why (with when it next opens); None if all are."""
    for location in locations:
        why = hours_of(location, timezone).why_not(at)
        if why is not None:
            return str(location["id"]), f"{location['name_en']} ({location['id']}) {why}"
    return None
