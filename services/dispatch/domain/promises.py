"""What dispatch promises: a slot order's times, and when a shop's quoted promise is worth re-publishing.

`PromiseQuoted` tells the orders service what a shop could promise now, so discovery can show it
without asking dispatch. It is published when it moves by a minute or more, when a shop gains its
first free rider or loses its last, and at least every `REQUOTE_EVERY` so a reader never trusts an
old quote for long. Everything here is pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch.domain.eta import ready_at

REQUOTE_EVERY = timedelta(minutes=10)
MEANINGFUL_S = 60.0  # a quote that moved less than a minute is not news


@dataclass(frozen=True)
class Quote:
    """A shop's quote in seconds; the event carries whole minutes, rounded up."""

    ready_s: float  # picking plus the shop's queue
    rider_to_shop_s: float | None  # the nearest free rider's ride to the shop; None: no free rider
    riders_available: int

    @property
    def ready_minutes(self) -> int:
        return minutes_up(self.ready_s)

    @property
    def rider_to_shop_minutes(self) -> int | None:
        return None if self.rider_to_shop_s is None else minutes_up(self.rider_to_shop_s)


def minutes_up(seconds: float) -> int:
    return max(0, math.ceil(seconds / 60 - 1e-9))


def should_requote(
    last: Quote | None, last_at: datetime | None, new: Quote, now: datetime, every: timedelta = REQUOTE_EVERY
) -> bool:
    """Publish again when never published, when old, when riders come or go, or when a time moved a minute.

    Comparing seconds (not the rounded minutes) keeps a rider hovering at 4m59s/5m01s from re-quoting.
    """
    if last is None or last_at is None or now - last_at >= every:
        return True
    if (last.riders_available > 0) != (new.riders_available > 0):
        return True
    if (last.rider_to_shop_s is None) != (new.rider_to_shop_s is None):
        return True
    if abs(new.ready_s - last.ready_s) >= MEANINGFUL_S:
        return True
    return (
        new.rider_to_shop_s is not None
        and last.rider_to_shop_s is not None
        and abs(new.rider_to_shop_s - last.rider_to_shop_s) >= MEANINGFUL_S
    )


def shop_ready_s(picking_minutes: int, queued: int, now: datetime) -> float:
    """Seconds until a bag ordered now would be packed: the same rule as a placed order's ready_at."""
    return (ready_at(now, picking_minutes, queued) - now).total_seconds()


@dataclass(frozen=True)
class SlotTimes:
    ready_at: datetime
    promised_at: datetime


def slot_times(release_at: datetime, slot_end: datetime, picking_minutes: int, now: datetime) -> SlotTimes:
    """A slot order is picked from its release (not from now) and promised by the end of its slot.

    Today's queue says nothing about the queue at release time, so only the picking time counts.
    """
    return SlotTimes(ready_at(max(release_at, now), picking_minutes, 0), slot_end)


def promised_minutes(promised_at: datetime, now: datetime) -> int:
    """DeliveryPromised.minutes: from now to the promise, rounded up."""
    return minutes_up((promised_at - now).total_seconds())
