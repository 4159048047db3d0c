"""The live door ETA and whether it threatens the promise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.vocabulary.geo import Point, travel_s

MEANINGFUL_S = 60.0  # smaller changes are not worth an event


@dataclass(frozen=True)
class EtaChange:
    eta_door_at: datetime
    late_risk: bool
    newly_late: bool


def live_eta(
    position: Point,
    vehicle: str,
    now: datetime,
    shop: Point | None,
    door: Point,
    ready_at: datetime | None,
    *,
    picked_up: bool,
) -> datetime:
    """From where the rider is now: to the shop (and wait for the bag) then the door, or straight to the door."""
    if picked_up or shop is None:
        return now + timedelta(seconds=travel_s(position, door, vehicle))
    at_shop = now + timedelta(seconds=travel_s(position, shop, vehicle))
    departs = max(at_shop, ready_at) if ready_at else at_shop
    return departs + timedelta(seconds=travel_s(shop, door, vehicle))


def eta_change(previous: datetime | None, new: datetime, promised: datetime | None, was_late: bool) -> EtaChange | None:
    """An EtaUpdated is due when the ETA moved by a minute or more, or the lateness flips."""
    late = promised is not None and new > promised
    moved = previous is None or abs((new - previous).total_seconds()) >= MEANINGFUL_S
    if not moved and late == was_late:
        return None
    return EtaChange(new, late, late and not was_late)


PER_QUEUED_MINUTES = 2.0  # each order ahead in the shop's queue adds this to the picking time


def ready_at(
    now: datetime, picking_minutes: int, queued: int, per_order_minutes: float = PER_QUEUED_MINUTES
) -> datetime:
    """When the bag should be packed: the shop's picking time plus its queue."""
    return now + timedelta(minutes=picking_minutes + queued * per_order_minutes)
