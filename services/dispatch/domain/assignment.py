"""Who carries which orders, and when: one round of assignment over everything open.

`plan_round` is what dispatch runs every few seconds. `nearest_available` is the baseline the
benchmark compares it with: each order, oldest first, to the closest free rider.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.dispatch.domain.geo import Point, travel_s


@dataclass(frozen=True)
class OpenOrder:
    order_id: str
    store_id: str  # the shop or market: orders of one store may share a rider
    pickup: Point
    drop: Point
    ready_at: datetime  # when the bag should be packed
    promised_at: datetime
    excluded_riders: frozenset[str] = frozenset()  # declined it already


@dataclass(frozen=True)
class RiderView:
    rider_id: str
    vehicle: str
    position: Point
    capacity: int
    carrying: int = 0  # orders already assigned and not delivered
    free_at: datetime | None = None  # when the current route ends (None: free now)
    route_end: Point | None = None  # where the current route ends


@dataclass(frozen=True)
class Proposal:
    rider_id: str
    order_ids: tuple[str, ...]
    eta_shop_at: datetime
    eta_door_at: dict[str, datetime] = field(default_factory=dict)
    cost: float = 0.0


def _start(rider: RiderView, now: datetime) -> tuple[Point, datetime]:
    if rider.free_at and rider.free_at > now and rider.route_end:
        return rider.route_end, rider.free_at
    return rider.position, now


def single_trip(rider: RiderView, order: OpenOrder, now: datetime) -> Proposal:
    """The rider fetches this one order and takes it to the door."""
    origin, leaving = _start(rider, now)
    at_shop = leaving + timedelta(seconds=travel_s(origin, order.pickup, rider.vehicle))
    departs = max(at_shop, order.ready_at)
    at_door = departs + timedelta(seconds=travel_s(order.pickup, order.drop, rider.vehicle))
    return Proposal(rider.rider_id, (order.order_id,), at_shop, {order.order_id: at_door})


def nearest_available(orders: Sequence[OpenOrder], riders: Sequence[RiderView], now: datetime) -> list[Proposal]:
    """Baseline: oldest order first, to the free rider who reaches its shop soonest; one order each."""
    free = {r.rider_id: r for r in riders if r.carrying < r.capacity and (r.free_at is None or r.free_at <= now)}
    proposals = []
    for order in sorted(orders, key=lambda o: o.ready_at):
        candidates = [r for r in free.values() if r.rider_id not in order.excluded_riders]
        if not candidates:
            continue
        best = min(candidates, key=lambda r: travel_s(r.position, order.pickup, r.vehicle))
        proposals.append(single_trip(best, order, now))
        del free[best.rider_id]
    return proposals


def plan_round(orders: Sequence[OpenOrder], riders: Sequence[RiderView], now: datetime) -> list[Proposal]:
    """One round over all open orders and riders. Until the optimiser lands: the baseline."""
    return nearest_available(orders, riders, now)


def promise(pickup: Point, drop: Point, ready_at: datetime, riders: Sequence[RiderView], now: datetime) -> datetime:
    """When the door will ring if the best free rider takes it; with no rider free, a slow walk."""
    order = OpenOrder("promise", "", pickup, drop, ready_at, ready_at)
    trips = [single_trip(r, order, now).eta_door_at["promise"] for r in riders if r.carrying < r.capacity]
    if trips:
        return min(trips) + timedelta(minutes=5)  # slack for the handover at the door
    return ready_at + timedelta(seconds=travel_s(pickup, drop, "foot")) + timedelta(minutes=15)
