"""A group buy's one trip: every bag of a closed deal in one delivery to its pickup point.

A deal's bags travel together or not at all: the neighbours wait at one place at one time, so a
trip split over riders would mean some wait for a second rider. The trip is sized against what a
vehicle carries (`VEHICLE_LOAD`, the planner's own table); when no vehicle carries it, the trip is
refused with the reason and the leader collects at the counter. Nothing here reads a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from services.dispatch.domain.assignment import VEHICLE_LOAD
from shared.errors import Conflict

TripKind = Literal["delivery", "locker"]


class TripStatus(StrEnum):
    PLANNED = "planned"  # the delivery exists; waiting for the counter to pack (and weigh) the bags
    OPEN = "open"  # packed and sized: the planner offers it to a rider whose vehicle carries it
    AT_PICKUP = "at_pickup"  # the rider is there with every bag (a locker site: each in its compartment)
    ARRIVED = "arrived"  # the leader (a helper, an admin) confirmed it: the trip is complete
    REFUSED = "refused"  # one trip cannot carry it: the leader collects at the counter


@dataclass(frozen=True)
class Sizing:
    """What one trip needs: the smallest vehicle that carries it, or why none does."""

    bags: int
    weight_g: int | None
    vehicle: str | None
    reason: str | None = None

    @property
    def fits(self) -> bool:
        return self.vehicle is not None


def _kg(weight_g: int) -> str:
    return f"{weight_g / 1000:.1f} kg"


def size_trip(bags: int, weight_g: int | None, loads: Mapping[str, tuple[int, float]] = VEHICLE_LOAD) -> Sizing:
    """The smallest vehicle (fewest bags, then kilograms) that carries `bags` bags of `weight_g` in one
    trip; unknown weight (not packed yet) is sized by bags alone."""
    if bags < 1:
        raise ValueError("a trip carries at least one bag")
    by_size = sorted(loads.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))
    for vehicle, (max_bags, max_kg) in by_size:
        if bags <= max_bags and (weight_g is None or weight_g <= max_kg * 1000):
            return Sizing(bags, weight_g, vehicle)
    largest_bags = max(by_size, key=lambda kv: kv[1][0])
    largest_kg = max(by_size, key=lambda kv: kv[1][1])
    over = []
    if bags > largest_bags[1][0]:
        over.append(f"{bags} bags, the most any vehicle carries is {largest_bags[1][0]} ({largest_bags[0]})")
    if weight_g is not None and weight_g > largest_kg[1][1] * 1000:
        over.append(f"{_kg(weight_g)}, the most any vehicle carries is {largest_kg[1][1]:g} kg ({largest_kg[0]})")
    reason = (
        "one trip cannot carry this deal: "
        + "; ".join(over)
        + ". A deal's bags are never split over riders; the leader collects them at the counter"
    )
    return Sizing(bags, weight_g, None, reason)


@dataclass(frozen=True)
class TripBag:
    """A bag as dispatch knows it: whose it is (the holder, or the helper who joined for them)."""

    number: int
    holder: str
    joined_by: str


@dataclass
class GroupTrip:
    deal_id: str
    store_id: str
    leader: str
    kind: TripKind
    status: TripStatus
    bags: list[TripBag]
    pickup_name: str
    lat: float
    lon: float
    site_id: str | None
    window_start: datetime
    window_end: datetime
    weight_g: int | None = None
    vehicle: str | None = None
    reason: str | None = None
    rider_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    compartments: dict[int, str] = field(default_factory=dict)

    def size(self, weight_g: int | None, bags: int | None = None) -> Sizing:
        """Size (or re-size, once packed) the trip; a refusal ends it."""
        sizing = size_trip(bags or len(self.bags), weight_g)
        self.weight_g = weight_g
        if sizing.fits:
            self.vehicle = sizing.vehicle
        else:
            self.refuse(sizing.reason or "too big for one trip")
        return sizing

    def refuse(self, reason: str) -> None:
        self.status, self.reason, self.vehicle = TripStatus.REFUSED, reason, None

    def packed(self) -> None:
        if self.status is TripStatus.PLANNED:
            self.status = TripStatus.OPEN

    def at_pickup(self, rider_id: str) -> None:
        if self.status is not TripStatus.OPEN:
            raise Conflict(f"the group buy's trip is {self.status.value}: it is not on its way")
        self.status, self.rider_id = TripStatus.AT_PICKUP, rider_id

    def arrived(self) -> bool:
        """The leader confirmed the bags are there; False when the trip was refused or already complete."""
        if self.status in (TripStatus.REFUSED, TripStatus.ARRIVED):
            return False
        self.status = TripStatus.ARRIVED
        return True

    def bag_by_compartment(self, compartment_id: str) -> TripBag | None:
        number = next((n for n, c in self.compartments.items() if c == compartment_id), None)
        return next((b for b in self.bags if b.number == number), None)


def compartment_key(deal_id: str, number: int) -> str:
    """The name a bag's compartment is booked under (compartments are booked per order id)."""
    return f"{deal_id}#{number}"


def is_bag(order_id: str | None) -> bool:
    """A compartment booked for a group buy's bag (`<deal>#<number>`), not for an order."""
    return order_id is not None and "#" in order_id
