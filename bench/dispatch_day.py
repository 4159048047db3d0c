"""`make bench-dispatch`: a simulated day of a living circle, dispatched by the optimiser and by the baseline.

Everything runs in-process on a simulated clock: no services, no database. The day is built
from a seed: shops around the demo neighbourhood (services/inventory/adapters/demo_neighbourhood.py),
homes within ~1.5 km, riders of mixed vehicles and capacities, and an order stream with a lunch
and an evening peak. Every `--round-s` simulated seconds, dispatch plans a round over the open
orders and the riders as it would see them (positions, what they carry, when their route ends,
from `eta_route`). Riders accept every offer, ride at their vehicle's speed, wait at the shop
until the bag is really packed (which can be later or earlier than the estimate dispatch was
given), and deliver in route order.

The same day (same seed, same orders, same packing times) is dispatched twice: by
`plan_round` (the optimiser) and by `nearest_available` (each order, oldest first, to the free
rider nearest its shop), and the JSON puts the two side by side.

    python -m bench.dispatch_day                          # 400 orders, 10 riders, seed 1
    python -m bench.dispatch_day --orders 250 --riders 6 --seed 7 --promise computed
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import json
import math
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.place_orders import _git_commit, percentile
from services.dispatch.domain import promises as _promises
from services.dispatch.domain.assignment import (
    DEFAULT_WEIGHTS,
    CostWeights,
    OpenOrder,
    Proposal,
    RiderView,
    RoundPlan,
    Stop,
    eta_route,
    nearest_available,
    plan,
    plan_round,
    promise,
)
from services.inventory.adapters.demo_neighbourhood import LOCATIONS
from shared.vocabulary.geo import Point, speed_mps, street_metres

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CENTRE = Point(32.044, 118.789)
LOCAL = timezone(timedelta(hours=8))  # Asia/Shanghai
DAY = datetime(2026, 11, 23, tzinfo=LOCAL)  # a Monday; only the hours matter

Planner = Callable[[Sequence[OpenOrder], Sequence[RiderView], datetime], list[Proposal]]


# --- the day --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shop:
    shop_id: str
    name: str
    point: Point
    pick_min: float  # mean picking time (minutes) from acceptance to a packed bag
    hours: tuple[tuple[float, float], ...]  # open spans, in local hours
    share: float  # share of orders while open


def _demo_point(location_id: str) -> Point:
    loc = next(x for x in LOCATIONS if x["id"] == location_id)
    return Point(loc["lat"], loc["lon"])


def offset(p: Point, east_m: float, north_m: float) -> Point:
    """The point so many metres east and north of p (flat earth: fine within a few km)."""
    return Point(p.lat + north_m / 111_320.0, p.lon + east_m / (111_320.0 * math.cos(math.radians(p.lat))))


def default_shops() -> list[Shop]:
    """The demo neighbourhood's supermarket, wet market and convenience store, plus a (made-up) fruit shop."""
    return [
        Shop("suguo-daxinggong", "supermarket", _demo_point("suguo-daxinggong"), 7.0, ((8, 22),), 0.40),
        Shop("xiaoshi-market", "wet market", _demo_point("xiaoshi-market"), 10.0, ((6, 12), (16, 19)), 0.30),
        Shop("kedi-corner", "convenience store", _demo_point("kedi-corner"), 3.0, ((0, 24),), 0.15),
        Shop("fruit-lane", "fruit shop (not in the demo)", offset(CENTRE, 450, 700), 5.0, ((8, 21),), 0.15),
    ]


# Relative order volume per local hour: a lunch peak (11-13) and a bigger evening peak (17-19).
HOURLY_WEIGHT = {7: 2, 8: 3, 9: 3, 10: 4, 11: 9, 12: 8, 13: 3, 14: 2, 15: 2, 16: 4, 17: 9, 18: 10, 19: 5, 20: 3}

# (vehicle, capacity) of the riders, taken in turn.
DEFAULT_FLEET = [
    ("e_bike", 3),
    ("bicycle", 3),
    ("e_bike", 3),
    ("bicycle", 2),
    ("e_bike", 3),
    ("bicycle", 3),
    ("foot", 2),
    ("bicycle", 2),
]


@dataclass(frozen=True)
class DayOrder:
    order_id: str
    shop_id: str
    pickup: Point
    drop: Point
    placed: float  # seconds after the day's start
    accepted: float  # the shop accepted: dispatch starts planning it
    est_ready: float  # the packing estimate dispatch is given
    packed: float  # when the bag is really packed
    bags: int = 1
    weight_g: int = 2000


@dataclass(frozen=True)
class RiderSpec:
    rider_id: str
    vehicle: str
    capacity: int
    start: Point
    on: float = 0.0  # the shift, seconds after the day's start ...
    off: float | None = None  # ... None: no shift known (on until every order is delivered)


@dataclass(frozen=True)
class Day:
    seed: int
    start: datetime
    hours: float  # the riders' shift: orders come in during it; the simulation runs until all are delivered
    shops: tuple[Shop, ...]
    orders: tuple[DayOrder, ...]
    riders: tuple[RiderSpec, ...]
    homes: int
    speed_factor: float = 1.0  # real speeds = the model's x this (dispatch plans with the model's)

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)


def _in_disc(rng: random.Random, centre: Point, radius_m: float) -> Point:
    r, a = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    return offset(centre, r * math.cos(a), r * math.sin(a))


def make_day(
    seed: int = 1,
    orders: int = 400,
    riders: int = 10,
    homes: int = 300,
    radius_m: float = 1500.0,
    first_hour: int = 7,
    last_hour: int = 21,
) -> Day:
    """A day of orders, homes and riders, all from one seeded RNG."""
    rng = random.Random(seed)
    shops = default_shops()
    home_points = [_in_disc(rng, CENTRE, radius_m) for _ in range(homes)]
    hours = [h for h in range(first_hour, last_hour) if h in HOURLY_WEIGHT]
    weights = [HOURLY_WEIGHT[h] for h in hours]
    start = DAY.replace(hour=first_hour)
    made: list[DayOrder] = []
    placed_times = sorted(
        (rng.choices(hours, weights)[0] - first_hour) * 3600 + rng.uniform(0, 3600) for _ in range(orders)
    )
    for n, placed in enumerate(placed_times):
        hour = first_hour + placed / 3600
        open_now = [s for s in shops if any(a <= hour < b for a, b in s.hours)]
        shop = rng.choices(open_now, [s.share for s in open_now])[0]
        accepted = placed + rng.uniform(20, 120)
        est = accepted + shop.pick_min * 60
        packed = accepted + shop.pick_min * 60 * rng.uniform(0.6, 1.5)
        made.append(
            DayOrder(f"o{n:04d}", shop.shop_id, shop.point, rng.choice(home_points), placed, accepted, est, packed)
        )
    crew = [
        RiderSpec(f"r{i + 1:02d}", *DEFAULT_FLEET[i % len(DEFAULT_FLEET)], rng.choice(shops).point)
        for i in range(riders)
    ]
    return Day(seed, start, float(last_hour - first_hour), tuple(shops), tuple(made), tuple(crew), homes)


# --- the simulation -------------------------------------------------------------------------------


@dataclass
class _Leg:
    kind: str  # pickup or drop
    point: Point
    order_ids: tuple[str, ...]
    arrive: float
    leave: float


@dataclass
class _Rider:
    spec: RiderSpec
    speed_factor: float = 1.0
    times: list[float] = field(default_factory=list)  # waypoints for the position at any time
    points: list[Point] = field(default_factory=list)
    legs: list[_Leg] = field(default_factory=list)
    busy_until: float = 0.0
    wait_s: float = 0.0
    busy_s: float = 0.0
    trips: int = 0
    trip_start: float = 0.0

    def position(self, t: float) -> Point:
        i = bisect.bisect_right(self.times, t)
        if i == 0:
            return self.spec.start
        if i == len(self.times):
            return self.points[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        p0, p1 = self.points[i - 1], self.points[i]
        f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
        return Point(p0.lat + (p1.lat - p0.lat) * f, p0.lon + (p1.lon - p0.lon) * f)

    def end(self) -> Point:
        return self.points[-1] if self.points else self.spec.start

    def go(self, t: float, to: Point) -> None:
        if not self.times or self.times[-1] < t:
            self.times.append(t)
            self.points.append(self.end())
        metres = street_metres(self.end(), to)
        self.times.append(self.times[-1] + metres / (speed_mps(self.spec.vehicle) * self.speed_factor))
        self.points.append(to)

    def stay(self, until: float) -> None:
        if until > self.times[-1]:
            self.times.append(until)
            self.points.append(self.end())

    def cut(self, t: float) -> None:
        """Forget the plan after t (an addition re-plans the trip): the rider is where they are at t."""
        here = self.position(t)
        i = bisect.bisect_right(self.times, t)
        del self.times[i:], self.points[i:]
        self.times.append(t)
        self.points.append(here)
        self.legs = [leg for leg in self.legs if leg.leave <= t]

    @property
    def metres(self) -> float:
        return sum(street_metres(a, b) for a, b in itertools.pairwise(self.points) if a != b)

    def on_shift(self, t: float) -> bool:
        return self.spec.on <= t and (self.spec.off is None or t < self.spec.off)


@dataclass
class _Outcome:
    order: DayOrder
    promised: float
    rider_id: str = ""
    assigned: float | None = None
    at_door: float | None = None
    trip_size: int = 0


def _known_ready(o: DayOrder, t: float) -> float:
    """What dispatch believes at t: the packing time once packed; before that the estimate, never in the past."""
    return o.packed if o.packed <= t else max(o.est_ready, t + 60.0)


@dataclass(frozen=True)
class _Miss:
    """A promise made with the history: when its door is known, its miss joins the history."""

    order_id: str
    store_id: str
    band: int
    base: float  # the forecast's door without slack, seconds after the day's start


def _learnt(
    day: Day,
    o: DayOrder,
    views: list[RiderView],
    open_orders: list[DayOrder],
    t: float,
    history: _promises.PromiseHistory,
) -> tuple[float, str, _Miss | None]:
    """The promise from the load and the circle's history of misses (`promise_parts`)."""
    now = day.at(t)
    parts = _promises.promise_parts(
        store_id=o.shop_id,
        shop=o.pickup,
        door=o.drop,
        ready_at=day.at(o.est_ready),
        couriers=[_courier(day, v, t) for v in views],
        ahead=[_Ahead(a.shop_id, a.pickup, a.drop, day.at(_known_ready(a, t))) for a in open_orders],
        now=now,
        history=history,
    )
    if parts is None:
        due = promise(o.pickup, o.drop, day.at(o.est_ready), views, now)
        return (due - day.start).total_seconds(), "computed", None
    miss = _Miss(o.order_id, o.shop_id, parts.band, (parts.base_at - day.start).total_seconds())
    return (parts.promised_at - day.start).total_seconds(), "history" if parts.from_history else "load", miss


class _Learning:
    """The history as a day goes: promises made from it, and each miss learnt once its door rang."""

    def __init__(self, history: _promises.PromiseHistory, learn: bool = True) -> None:
        self.history, self.learn = history, learn
        self.pending: dict[str, _Miss] = {}
        self.doors: list[tuple[float, str]] = []  # (door time, order id): a heap, stale entries skipped

    def promise(
        self, day: Day, o: DayOrder, views: list[RiderView], open_orders: list[DayOrder], t: float
    ) -> tuple[float, str]:
        promised, rule, miss = _learnt(day, o, views, open_orders, t, self.history)
        if miss is not None and self.learn:
            self.pending[o.order_id] = miss
        return promised, rule

    def committed(self, p: Proposal, outcomes: dict[str, _Outcome]) -> None:
        for oid in p.route or p.order_ids:  # an addition moves the doors of the trip in hand
            door = outcomes[oid].at_door
            if oid in self.pending and door is not None:
                heapq.heappush(self.doors, (door, oid))

    def rung(self, t: float, outcomes: dict[str, _Outcome]) -> None:
        while self.doors and self.doors[0][0] <= t:
            door, oid = heapq.heappop(self.doors)
            miss = self.pending.get(oid)
            if miss is not None and outcomes[oid].at_door == door:
                del self.pending[oid]
                self.history.record(miss.store_id, miss.band, door - miss.base)


def _promise(
    day: Day, o: DayOrder, views: list[RiderView], open_orders: list[DayOrder], t: float, mode: str, minutes: float
) -> tuple[float, str]:
    """The promise the order gets when the shop accepts it, and which rule gave it."""
    if mode == "fixed":
        return o.placed + minutes * 60, "fixed"
    now = day.at(t)
    if mode == "load" and _PROMISE_FOR is not None:
        try:
            couriers = [_courier(day, v, t) for v in views]
            ahead = [_Ahead(a.shop_id, a.pickup, a.drop, day.at(_known_ready(a, t))) for a in open_orders]
            due = _PROMISE_FOR(
                store_id=o.shop_id,
                shop=o.pickup,
                door=o.drop,
                ready_at=day.at(o.est_ready),
                couriers=couriers,
                ahead=ahead,
                now=now,
            )
            if due is not None:
                return (due - day.start).total_seconds(), "load"
        except Exception:  # the promise is another module's, and may change under the bench: fall back
            pass
    due = promise(o.pickup, o.drop, day.at(o.est_ready), views, now)
    return (due - day.start).total_seconds(), "computed"


def _courier(day: Day, v: RiderView, t: float) -> Any:
    return _Courier(
        v.rider_id,
        v.vehicle,
        v.position,
        v.capacity,
        v.free_at,
        v.route_end,
        None,
        v.shift_ends_at,
    )


# The load-aware promise of services/dispatch/domain/promises.py (another module's: it may change
# under the bench, so it is looked up by name and any failure falls back to assignment.promise).
_PROMISE_FOR: Any = getattr(_promises, "promise_for", None)
_Courier: Any = getattr(_promises, "Courier", None)
_Ahead: Any = getattr(_promises, "Ahead", None)
if _Courier is None or _Ahead is None:  # pragma: no cover - depends on the promise's module
    _PROMISE_FOR = None


def simulate(
    day: Day,
    planner: Callable[..., Any],
    *,
    round_s: float = 15.0,
    promise_mode: str = "fixed",
    promise_min: float = 30.0,
    weights: CostWeights = DEFAULT_WEIGHTS,
    history: _promises.PromiseHistory | None = None,
    learn: bool = True,
) -> dict[str, Any]:
    """Dispatch the day with `planner` (a list of proposals, or `plan`'s RoundPlan); return the figures.

    Riders accept every offer at once. Only riders on shift are offered work (both policies); a
    rider whose shift ends finishes the route in hand. An order no rider has taken by the end of
    the simulation (the day plus four hours) is undelivered.

    promise_mode "history": the load-aware promise with its slack from `history` (a fresh one when
    None), which, with `learn`, learns each order's miss once its door is reached (never before: a
    round knows only the doors already rung), as dispatch's history of delivered orders does.
    """
    learning = _Learning(history or _promises.PromiseHistory(), learn) if promise_mode == "history" else None
    riders = {s.rider_id: _Rider(s, day.speed_factor) for s in day.riders}
    by_id = {o.order_id: o for o in day.orders}
    outcomes: dict[str, _Outcome] = {}
    pending = sorted(day.orders, key=lambda o: (o.accepted, o.order_id))
    nxt = 0
    open_ids: list[str] = []
    held_since: dict[str, float] = {}
    round_ms: list[float] = []
    round_sizes: list[int] = []
    rules: dict[str, int] = {}
    t = 0.0
    horizon = day.hours * 3600 + 4 * 3600
    while t <= horizon:
        now = day.at(t)
        if learning is not None:
            learning.rung(t, outcomes)
        views = [_view(r, t, day, by_id, weights, outcomes) for r in riders.values() if r.on_shift(t)]
        while nxt < len(pending) and pending[nxt].accepted <= t:
            o = pending[nxt]
            nxt += 1
            ahead = [by_id[i] for i in open_ids]
            if learning is not None:
                promised, rule = learning.promise(day, o, views, ahead, t)
            else:
                promised, rule = _promise(day, o, views, ahead, t, promise_mode, promise_min)
            rules[rule] = rules.get(rule, 0) + 1
            outcomes[o.order_id] = _Outcome(o, promised)
            open_ids.append(o.order_id)
        if open_ids and views:
            open_orders = [_open(by_id[oid], outcomes[oid], t, day, held_since.get(oid)) for oid in open_ids]
            started = time.perf_counter()
            answer = planner(open_orders, views, now)
            round_ms.append((time.perf_counter() - started) * 1000)
            round_sizes.append(len(open_orders))
            proposals = answer.proposals if isinstance(answer, RoundPlan) else answer
            if isinstance(answer, RoundPlan):
                busy = {h.order_id for h in answer.holds if h.reason == "rider_busy"}
                held_since = {oid: held_since.get(oid, t) for oid in busy}
            taken: set[str] = set()
            for p in proposals:
                _commit(riders[p.rider_id], p, t, by_id, outcomes, weights)
                taken.update(p.order_ids)
                if learning is not None:
                    learning.committed(p, outcomes)
            open_ids = [oid for oid in open_ids if oid not in taken]
        elif not open_ids and nxt == len(pending) and all(r.busy_until <= t for r in riders.values()):
            break
        t += round_s
    figures = _figures(day, riders, outcomes, round_ms, round_sizes)
    figures["promise_rule"] = rules
    return figures


def _open(o: DayOrder, out: _Outcome, t: float, day: Day, held: float | None) -> OpenOrder:
    packed = o.packed <= t
    return OpenOrder(
        o.order_id,
        o.shop_id,
        o.pickup,
        o.drop,
        day.at(_known_ready(o, t)),
        day.at(out.promised),
        bags=o.bags if packed else None,
        weight_g=o.weight_g if packed else None,
        placed_at=day.at(o.placed),
        held_since=None if held is None else day.at(held),
    )


def _view(
    r: _Rider,
    t: float,
    day: Day,
    by_id: dict[str, DayOrder],
    w: CostWeights,
    outcomes: dict[str, _Outcome] | None = None,
) -> RiderView:
    """The rider as dispatch sees them: where they are, what they carry, when (it estimates) they
    are free, their shift, and the trip accepted and not yet picked up (an addition may join it)."""
    here = r.position(t)
    ends = None if r.spec.off is None else day.at(r.spec.off)
    left = [leg for leg in r.legs if leg.leave > t]
    if not left:
        return RiderView(r.spec.rider_id, r.spec.vehicle, here, r.spec.capacity, shift_ends_at=ends)
    carrying = sum(len(leg.order_ids) for leg in left if leg.kind == "drop")
    stops = [
        Stop(
            leg.kind,
            leg.point,
            leg.order_ids,
            day.at(max(_known_ready(by_id[i], t) for i in leg.order_ids)) if leg.kind == "pickup" else None,
        )
        for leg in left
    ]
    eta = eta_route(here, r.spec.vehicle, day.at(t), stops, w)
    planned: tuple[OpenOrder, ...] = ()
    pickups = [leg for leg in left if leg.kind == "pickup"]
    if len(pickups) == 1 and left[0] is pickups[0] and left[0].arrive > t:  # on the way to the shop
        ids = pickups[0].order_ids
        if len(ids) == carrying:
            planned = tuple(
                OpenOrder(
                    i,
                    by_id[i].shop_id,
                    by_id[i].pickup,
                    by_id[i].drop,
                    day.at(_known_ready(by_id[i], t)),
                    day.at(outcomes[i].promised if outcomes and i in outcomes else by_id[i].placed + 1800),
                )
                for i in ids
            )
    bags = sum(by_id[i].bags for leg in left if leg.kind == "drop" for i in leg.order_ids)
    kg = sum(by_id[i].weight_g for leg in left if leg.kind == "drop" for i in leg.order_ids) / 1000
    return RiderView(
        r.spec.rider_id,
        r.spec.vehicle,
        here,
        r.spec.capacity,
        carrying,
        eta.ends_at,
        left[-1].point,
        ends,
        planned,
        bags,
        kg,
    )


def _commit(
    r: _Rider,
    p: Proposal,
    t: float,
    by_id: dict[str, DayOrder],
    outcomes: dict[str, _Outcome],
    w: CostWeights = DEFAULT_WEIGHTS,
) -> None:
    """The rider accepts at once: rides to the shops, waits for the real bags, delivers in the proposal's order.

    An addition re-plans the trip in hand from where the rider is: the same shop (or its
    neighbour), all the bags, then every drop in the new order.
    """
    route = p.route or p.order_ids
    orders = [by_id[oid] for oid in route]
    if p.adds_to:
        r.cut(t)
        start = t
    else:
        start = max(t, r.busy_until)
    if not p.adds_to or r.trips == 0:
        r.trip_start = start
    pickups: dict[Point, list[DayOrder]] = {}
    for o in orders:
        pickups.setdefault(o.pickup, []).append(o)
    shops = sorted(pickups, key=lambda pt: max(o.packed for o in pickups[pt]))
    at = start
    for shop in shops:
        r.go(at, shop)
        arrive = r.times[-1]
        ready = max(o.packed for o in pickups[shop])
        r.wait_s += max(0.0, ready - arrive)
        leave = max(arrive, ready) + w.pickup_s
        r.stay(leave)
        r.legs.append(_Leg("pickup", shop, tuple(o.order_id for o in pickups[shop]), arrive, leave))
        at = leave
    for o in orders:
        r.go(r.times[-1], o.drop)
        door = r.times[-1]
        r.stay(door + w.door_s)
        r.legs.append(_Leg("drop", o.drop, (o.order_id,), door, door + w.door_s))
        out = outcomes[o.order_id]
        out.rider_id, out.at_door, out.trip_size = r.spec.rider_id, door, len(orders)
        out.assigned = out.assigned if out.assigned is not None else t
    if p.adds_to:
        r.busy_s += r.times[-1] - r.busy_until if r.times[-1] > r.busy_until else 0.0
    else:
        r.busy_s += r.times[-1] - start
        r.trips += 1
    r.busy_until = r.times[-1]


# --- figures --------------------------------------------------------------------------------------


def stats(values: Sequence[float], digits: int = 1) -> dict[str, float | int | None]:
    """count, mean, p50, p90, p99 and max, rounded; None when empty."""

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "count": len(values),
        "mean": r(sum(values) / len(values)) if values else None,
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)) if values else None,
    }


PEAKS = ((11.0, 13.0), (17.0, 19.5))  # local hours
UNDELIVERED_MIN = 90.0  # an undelivered order counts as this many minutes placed -> door


def _shift_h(day: Day, spec: RiderSpec) -> float:
    """The rider's hours on shift (all day when no shift is known)."""
    off = day.hours * 3600 if spec.off is None else spec.off
    return max(0.0, off - spec.on) / 3600


def _figures(
    day: Day, riders: dict[str, _Rider], outcomes: dict[str, _Outcome], round_ms: list[float], round_sizes: list[int]
) -> dict[str, Any]:
    done = [o for o in outcomes.values() if o.at_door is not None]
    on_time = [o for o in done if o.at_door is not None and o.at_door <= o.promised]
    late_min = [(o.at_door - o.promised) / 60 for o in done if o.at_door is not None and o.at_door > o.promised]
    to_door = [(o.at_door - o.order.placed) / 60 for o in done if o.at_door is not None]
    ready_to_door = [(o.at_door - o.order.packed) / 60 for o in done if o.at_door is not None]
    first_hour = day.start.hour

    def in_peak(o: _Outcome) -> bool:
        h = first_hour + o.order.placed / 3600
        return any(a <= h < b for a, b in PEAKS)

    peak = [o for o in outcomes.values() if in_peak(o)]
    peak_on_time = [o for o in peak if o.at_door is not None and o.at_door <= o.promised]
    km = sum(r.metres for r in riders.values()) / 1000
    shift_h = sum(_shift_h(day, r.spec) for r in riders.values())
    busy_h = sum(r.busy_s for r in riders.values()) / 3600
    trips = sum(r.trips for r in riders.values())
    n = len(outcomes)
    counted = [
        (o.at_door - o.order.placed) / 60 if o.at_door is not None else UNDELIVERED_MIN for o in outcomes.values()
    ]
    return {
        "orders": {"placed": len(day.orders), "planned": n, "delivered": len(done), "undelivered": n - len(done)},
        "on_time_rate": round(len(on_time) / n, 4) if n else None,
        "late_share": round(1 - len(on_time) / n, 4) if n else None,
        "undelivered_share": round((n - len(done)) / n, 4) if n else None,
        "placed_to_door_counted_min": stats(counted),
        "promised_min": stats([(o.promised - o.order.placed) / 60 for o in outcomes.values()]),
        "delivered_within_promise": round(len(on_time) / len(done), 4) if done else None,
        "late": {"count": len(done) - len(on_time), "minutes_late": stats(late_min)},
        "peak_on_time_rate": round(len(peak_on_time) / len(peak), 4) if peak else None,
        "order_to_door_min": stats(to_door),
        "packed_to_door_min": stats(ready_to_door),
        "riders": {
            "distance_km": round(km, 1),
            "km_per_order": round(km / len(done), 3) if done else None,
            "waiting_at_shops_h": round(sum(r.wait_s for r in riders.values()) / 3600, 2),
            "orders_per_rider_hour": round(len(done) / shift_h, 2) if shift_h else None,
            "orders_per_busy_rider_hour": round(len(done) / busy_h, 2) if busy_h else None,
            "busy_share_of_shift": round(busy_h / shift_h, 3) if shift_h else None,
        },
        "trips": {
            "count": trips,
            "orders_per_trip": round(len(done) / trips, 2) if trips else None,
            "orders_in_batches": sum(1 for o in done if o.trip_size > 1),
        },
        "rounds": {
            "planned": len(round_ms),
            "open_orders": stats([float(s) for s in round_sizes], 1),
            "plan_ms": stats(round_ms, 2),
        },
    }


def heavy_round_ms(seed: int = 1, orders: int = 50, riders: int = 30, repeat: int = 20) -> dict[str, Any]:
    """How long one `plan_round` takes over `orders` open orders (four shops) and `riders` free riders."""
    rng = random.Random(seed)
    shops = default_shops()
    now = DAY.replace(hour=18)
    open_orders = []
    for i in range(orders):
        s = rng.choice(shops)
        open_orders.append(
            OpenOrder(
                f"o{i}",
                s.shop_id,
                s.point,
                _in_disc(rng, CENTRE, 1500),
                now + timedelta(seconds=rng.uniform(-120, 240)),
                now + timedelta(minutes=rng.uniform(15, 30)),
            )
        )
    crew = [
        RiderView(f"r{i}", v, _in_disc(rng, CENTRE, 1500), c)
        for i, (v, c) in enumerate(DEFAULT_FLEET[i % len(DEFAULT_FLEET)] for i in range(riders))
    ]
    plan_round(open_orders, crew, now)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        proposals = plan_round(open_orders, crew, now)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "orders": orders,
        "riders": riders,
        "repeat": repeat,
        "ms": stats(times, 2),
        "proposals": len(proposals),
        "orders_proposed": sum(len(p.order_ids) for p in proposals),
    }


def compare(opt: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """Optimiser minus baseline on the headline figures (negative minutes and km are better)."""

    def d(a: float | None, b: float | None, digits: int = 3) -> float | None:
        return None if a is None or b is None else round(a - b, digits)

    return {
        "on_time_rate": d(opt["on_time_rate"], base["on_time_rate"], 4),
        "peak_on_time_rate": d(opt["peak_on_time_rate"], base["peak_on_time_rate"], 4),
        "order_to_door_min_mean": d(opt["order_to_door_min"]["mean"], base["order_to_door_min"]["mean"], 1),
        "order_to_door_min_p90": d(opt["order_to_door_min"]["p90"], base["order_to_door_min"]["p90"], 1),
        "distance_km": d(opt["riders"]["distance_km"], base["riders"]["distance_km"], 1),
        "km_per_order": d(opt["riders"]["km_per_order"], base["riders"]["km_per_order"], 3),
        "orders_per_busy_rider_hour": d(
            opt["riders"]["orders_per_busy_rider_hour"], base["riders"]["orders_per_busy_rider_hour"], 2
        ),
    }


def run(
    seed: int = 1,
    orders: int = 400,
    riders: int = 10,
    round_s: float = 15.0,
    promise_mode: str = "fixed",
    promise_min: float = 30.0,
    first_hour: int = 7,
    last_hour: int = 21,
) -> dict[str, Any]:
    """Both policies on the same day; the whole JSON except timestamps and machine facts."""
    day = make_day(seed, orders, riders, first_hour=first_hour, last_hour=last_hour)
    kwargs: dict[str, Any] = {"round_s": round_s, "promise_mode": promise_mode, "promise_min": promise_min}
    optimiser = simulate(day, plan, **kwargs)
    baseline = simulate(day, nearest_available, **kwargs)
    return {
        "day": {
            "seed": seed,
            "orders": len(day.orders),
            "hours": f"{first_hour:02d}:00-{last_hour:02d}:00 local",
            "homes": day.homes,
            "radius_m": 1500,
            "shops": [
                {
                    "id": s.shop_id,
                    "kind": s.name,
                    "pick_min": s.pick_min,
                    "hours": s.hours,
                    "lat": round(s.point.lat, 5),
                    "lon": round(s.point.lon, 5),
                }
                for s in day.shops
            ],
            "orders_per_shop": {s.shop_id: sum(1 for o in day.orders if o.shop_id == s.shop_id) for s in day.shops},
            "riders": [{"id": r.rider_id, "vehicle": r.vehicle, "capacity": r.capacity} for r in day.riders],
            "round_s": round_s,
            "promise": f"placed + {promise_min:g} min" if promise_mode == "fixed" else "promise() at acceptance",
            "handover_s": {"shop": DEFAULT_WEIGHTS.pickup_s, "door": DEFAULT_WEIGHTS.door_s},
            "packing": "estimate = accepted + the shop's mean; real = accepted + mean x U(0.6, 1.5)",
        },
        "optimiser": optimiser,
        "baseline": baseline,
        "optimiser_minus_baseline": compare(optimiser, baseline),
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    seed: Annotated[int, typer.Option(help="the day's RNG seed (orders, homes, packing times, riders)")] = 1,
    orders: Annotated[int, typer.Option(min=1, help="orders in the day")] = 400,
    riders: Annotated[int, typer.Option(min=1, help="riders on shift all day (vehicles and capacities in turn)")] = 10,
    round_s: Annotated[float, typer.Option(min=1.0, help="simulated seconds between rounds")] = 15.0,
    promise_mode: Annotated[
        str, typer.Option("--promise", help="fixed: placed + --promise-min; computed: promise() when the shop accepts")
    ] = "fixed",
    promise_min: Annotated[float, typer.Option(help="the fixed promise, minutes after placing")] = 30.0,
    first_hour: Annotated[int, typer.Option(min=0, max=23, help="shift start, local hour")] = 7,
    last_hour: Annotated[int, typer.Option(min=1, max=24, help="shift end, local hour (no orders after)")] = 21,
    results_dir: Annotated[Path, typer.Option(help="where the JSON goes")] = RESULTS_DIR,
) -> None:
    """Dispatch one simulated day with the optimiser and with nearest-available; print both sets of figures."""
    if promise_mode not in ("fixed", "computed"):
        raise typer.BadParameter("--promise is fixed or computed")
    started = datetime.now(UTC)
    clock = time.perf_counter()
    result: dict[str, Any] = {"benchmark": "dispatch_day", "started_at": started.isoformat(timespec="seconds")}
    result.update(run(seed, orders, riders, round_s, promise_mode, promise_min, first_hour, last_hour))
    result["round_speed"] = heavy_round_ms()
    result["conditions"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": _git_commit(),
        "wall_s": round(time.perf_counter() - clock, 1),
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"dispatch_day-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print(f"written to {path}", file=sys.stderr)


if __name__ == "__main__":
    app()
