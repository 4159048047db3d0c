"""Orders for a chosen delivery slot: held at once, worked on from their release time.

Orders computes `release_at` (slot start minus picking and riding time). Until then the stock
is promised but nobody at the shop is asked to accept: the accept countdown starts at release,
so a slot order placed at night for the morning does not lapse while the shop sleeps.
"""

from __future__ import annotations

from datetime import datetime


def release_time(release_at: datetime | None, placed_at: datetime) -> datetime | None:
    """When a slot order enters the live queue; None for an order worked on now (no slot, or its release passed)."""
    if release_at is None or release_at <= placed_at:
        return None
    return release_at


def clock_starts(release_at: datetime | None, placed_at: datetime) -> datetime:
    """When the accept countdown (and the opening-hours check) starts: at release, or now."""
    return release_time(release_at, placed_at) or placed_at


def is_scheduled(release_at: datetime | None, at: datetime) -> bool:
    """Still out of the shop's live queue at `at`: listed under `scheduled` until its release time."""
    return release_at is not None and at < release_at
