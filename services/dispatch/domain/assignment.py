"""Who carries which orders, and when: one round of assignment over everything open.

`plan` is what dispatch runs every few seconds. It looks at every open order and every rider at
once, builds candidate trips (one rider, one shop or a cluster of shops within 300 m, one to
`max_batch` bags in route order, within the vehicle's bags and kilograms and the rider's shift),
costs each trip, and picks a set of trips in which no order and no rider appears twice. It can
also add an order to a trip a rider has accepted and not yet picked up (an *addition*). Its
answer, a `RoundPlan`, says what to offer (`proposals`, additions included), which orders wait
and why (`holds`, each with the costs compared), and which orders no plan carries in time
(`undeliverable`, for an alert). `plan_round` is the list of proposals alone.

`nearest_available` is the baseline the benchmark compares it with: each order, oldest first, to
the closest free rider. The algorithm and the cost are explained in docs/assignment.md.

All of this is pure: no I/O, no clock. Everything is a function of its arguments.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.vocabulary.geo import DETOUR, HANDOVER_MINUTES, Point, speed_mps, travel_s

# What a vehicle carries at most, on top of the rider's capacity in orders: (bags, kilograms).
VEHICLE_LOAD: dict[str, tuple[int, float]] = {"foot": (3, 8.0), "bicycle": (5, 15.0), "e_bike": (8, 30.0)}
UNKNOWN_BAGS = 1  # an order not packed yet counts as one bag ...
UNKNOWN_KG = 2.0  # ... of two kilograms


@dataclass(frozen=True)
class OpenOrder:
    order_id: str
    store_id: str  # the shop or market: orders of one store (or of stores within cluster_m) may share a rider
    pickup: Point
    drop: Point
    ready_at: datetime  # when the bag should be packed
    promised_at: datetime
    excluded_riders: frozenset[str] = frozenset()  # declined it already
    bags: int | None = None  # None: not packed yet (UNKNOWN_BAGS)
    weight_g: int | None = None  # None: not packed yet (UNKNOWN_KG)
    placed_at: datetime | None = None  # for its age (older orders go first); None: ready_at
    held_since: datetime | None = None  # since when rounds hold it for a busy rider (the caller keeps it)
    ready_late_at: datetime | None = None  # the bag's late tail (its shop's history); None: CostWeights.picking_tail


@dataclass(frozen=True)
class RiderView:
    rider_id: str
    vehicle: str
    position: Point
    capacity: int  # orders at once
    carrying: int = 0  # orders already assigned and not delivered
    free_at: datetime | None = None  # when the current route ends (None: free now)
    route_end: Point | None = None  # where the current route ends
    shift_ends_at: datetime | None = None  # no pickup after it, no route ending > shift_grace_s after it
    planned: tuple[OpenOrder, ...] = ()  # accepted, not picked up (one shop or cluster): an addition may join them
    load_bags: int = 0  # bags already with the rider or accepted
    load_kg: float = 0.0
    max_bags: int | None = None  # None: VEHICLE_LOAD of the vehicle
    max_kg: float | None = None


@dataclass(frozen=True)
class Proposal:
    """A trip to offer: `order_ids` are the orders offered (in drop order).

    An *addition* (`adds_to` not empty) offers `order_ids` to a rider on top of the orders
    `adds_to` the rider accepted and has not picked up: `route` is then the whole new drop order,
    accepted orders included, and `eta_door_at` has every order of it.
    """

    rider_id: str
    order_ids: tuple[str, ...]  # from plan_round: in drop order
    eta_shop_at: datetime
    eta_door_at: dict[str, datetime] = field(default_factory=dict)
    cost: float = 0.0
    route: tuple[str, ...] = ()  # the drop order (plan_round fills it; the baseline leaves it empty)
    leaves_at: datetime | None = None  # when the rider sets off for the shop (now, or when their route ends)
    wait_s: float = 0.0  # how long the rider is expected to wait at the shop for the last bag
    adds_to: tuple[str, ...] = ()  # an addition: the accepted orders it joins
    pickups: tuple[str, ...] = ()  # the stores visited, in order (more than one: shops within cluster_m)

    @property
    def is_addition(self) -> bool:
        return bool(self.adds_to)


@dataclass(frozen=True)
class Hold:
    """An order the round does not offer yet, why, and what the comparison was (for the board).

    reason "timing": its best rider is free but need not set off yet (the bag is far from ready);
    reason "rider_busy": its best rider finishes a route first, and waiting for them costs less
    than sending the best rider free now (`send_now_*`; None when nobody free can take it).
    """

    order_id: str
    reason: str
    rider_id: str
    leaves_at: datetime
    eta_door_at: datetime
    hold_cost: float
    send_now_rider: str | None = None
    send_now_cost: float | None = None


@dataclass(frozen=True)
class KeptHold:
    """A hold as the rounds keep it between rounds: the plan's `Hold`, and since when the order is
    held for a busy rider (the clock `max_hold_s` bounds; None: held for timing)."""

    hold: Hold
    busy_since: datetime | None


@dataclass(frozen=True)
class Undeliverable:
    """An order no plan of this round carries in time: the dispatcher gets an alert."""

    order_id: str
    reason: str
    best_door_at: datetime | None  # the best door time any rider on shift could make; None: none can


@dataclass(frozen=True)
class RoundPlan:
    proposals: list[Proposal]
    holds: list[Hold]
    undeliverable: list[Undeliverable]
    pressure: float  # open orders per rider free within the next 10 minutes (> 1: riders are scarce)

    @property
    def additions(self) -> list[Proposal]:
        return [p for p in self.proposals if p.adds_to]


@dataclass(frozen=True)
class CostWeights:
    """The cost of a trip, in seconds of a rider's time, and the knobs of a round.

    cost = trip * (1 + scarcity)
         + travel * (seconds riding to the shop + seconds riding along the drops)  (x idle_travel when idle)
         + wait * (seconds the rider waits at the shop for the last bag)
         + sum over the trip's orders of
               door * (seconds from max(now, ready_at) to the door)
             + late * (seconds past promised_at - aim) + late_order (if late at all)
       where aim = promise_margin_s + how much later the trip leaves its last shop if its unpacked
       bag takes its tail (picking_tail of the time left, or the order's ready_late_at)

    Why these: a rider on shift is paid for the minute anyway, so the rider's idle minute at a
    shop (`wait`) costs less than the customer's minute of waiting (`door`); riding costs a
    little more than standing (the rider is also unavailable) except when riders are idle
    (`idle_travel`: then a ride is taken from no other work), and lateness dominates both. The
    aim protects the promise the shopper was given: a later drop that keeps it only if every bag
    is packed on time spends the slack the promise holds for picking running long.
    """

    travel: float = 1.0  # per second a rider rides or walks: the rider is taken from other work
    wait: float = 0.4  # per second a rider stands at the shop: paid anyway, cheaper than a customer's second
    door: float = 1.0  # per second an order spends between its bag being ready (or now) and the door
    late: float = 10.0  # per second an order reaches the door after its promise
    late_order: float = 600.0  # once for every order that would be late at all (a late order ~ 10 minutes)
    trip: float = 120.0  # once per rider sent; scaled up by scarcity (pressure): a batch pays it once
    scarcity: float = 1.5  # trip cost * (1 + scarcity * (pressure - 1)) when pressure > 1, up to max_pressure
    max_pressure: float = 4.0
    idle_travel: float = 0.2  # travel * this when riders are idle (pressure 0), rising to travel at pressure 1
    lead_s: float = 90.0  # commit a trip only when its rider has to set off within this (covers rounds and offers)
    idle_lead_s: float = (
        240.0  # ... and up to this much earlier when riders are idle (pressure 0): bags are often early
    )
    pickup_s: float = 60.0  # handover at the shop, once per pickup
    door_s: float = 60.0  # handover at each door before riding on
    max_batch: int = 6  # at most this many orders in one trip (and the rider's capacity, bags and kilograms)
    max_detour: float = 0.6  # via the other drops, a drop is at most this much farther than directly ...
    detour_floor_m: float = 300.0  # ... or at most this many metres farther (homes next to each other)
    batch_ready_gap_s: float = 600.0  # the bags of one trip are ready at most this far apart
    cluster_m: float = 300.0  # shops this close on the map (straight line) may share a trip
    batch_riders: int = 4  # a batch is costed for this many riders: those who reach its shop first
    single_riders: int = 8  # a single order is costed for this many riders (pruning: never every rider)
    batch_partners: int = 4  # an order is batched only with its nearest eligible partners (keeps rounds fast)
    option_budget: int = 12_000  # a big round costs about this many (rider, trip) pairs: fewer riders per trip
    rescue_after_s: float = 600.0  # an order that would be later than this goes first (see _select)
    age_after_s: float = 600.0  # an order open longer than this (or held for a busy rider at all) gains priority ...
    age: float = 2.0  # ... this much per second (no order waits behind younger ones for long)
    picking_tail: float = 0.45  # an unpacked bag may take this much longer than the time left to its estimate
    promise_margin_s: float = 60.0  # lateness is costed this far inside the promise
    max_hold_s: float = 180.0  # never held for a busy rider longer while a free one reaches the shop in time
    shift_grace_s: float = 600.0  # a route may end at most this long after the rider's shift
    undeliverable_after_s: float = 1800.0  # a best plan later than promise + this: undeliverable
    undeliverable: float = 3600.0  # the priority an undeliverable order gains (the objective's large cost)


DEFAULT_WEIGHTS = CostWeights()


@dataclass(frozen=True)
class Stop:
    """One stop of a rider's route, for `eta_route`: a pickup (wait for the bags) or a drop."""

    kind: str  # "pickup" or "drop"
    point: Point
    order_ids: tuple[str, ...]
    ready_at: datetime | None = None  # pickup: when the last of its bags will be packed


@dataclass(frozen=True)
class RouteEta:
    shop_at: dict[str, datetime]  # order id -> arrival at its pickup
    door_at: dict[str, datetime]  # order id -> arrival at its door
    ends_at: datetime  # when the last handover is done: the rider is free


def eta_route(
    position: Point, vehicle: str, now: datetime, stops: Sequence[Stop], weights: CostWeights = DEFAULT_WEIGHTS
) -> RouteEta:
    """Live ETA of a rider on a route: ride to each stop in turn, wait for bags, hand over.

    `stops` are what is left, in order (a rider waiting at the shop still has its pickup). A pickup
    takes `pickup_s` once its bags are ready; a drop takes `door_s` after the arrival at the door.
    """
    shop_at: dict[str, datetime] = {}
    door_at: dict[str, datetime] = {}
    here, t = position, now
    for stop in stops:
        t += timedelta(seconds=travel_s(here, stop.point, vehicle))
        here = stop.point
        if stop.kind == "pickup":
            for oid in stop.order_ids:
                shop_at[oid] = t
            if stop.ready_at is not None and stop.ready_at > t:
                t = stop.ready_at
            t += timedelta(seconds=weights.pickup_s)
        else:
            for oid in stop.order_ids:
                door_at[oid] = t
            t += timedelta(seconds=weights.door_s)
    return RouteEta(shop_at, door_at, t)


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


# --- the optimiser --------------------------------------------------------------------------------
# Times inside a round are float seconds relative to `now`; points are metres east/north of the
# first order's shop (a flat projection: exact to a few centimetres per kilometre at this scale),
# and every distance is the straight line times the street DETOUR, as in shared/vocabulary/geo.py.

_M_PER_DEG = 111_194.93  # metres per degree of latitude on geo.py's sphere (EARTH_RADIUS_M)


class _Frame:
    def __init__(self, origin: Point) -> None:
        self.lat0, self.lon0 = origin.lat, origin.lon
        self.kx = _M_PER_DEG * math.cos(math.radians(origin.lat))

    def xy(self, p: Point) -> tuple[float, float]:
        return ((p.lon - self.lon0) * self.kx, (p.lat - self.lat0) * _M_PER_DEG)


def _d(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1]) * DETOUR


@dataclass(eq=False, slots=True)
class _Order:
    o: OpenOrder
    pickup: tuple[float, float]
    drop: tuple[float, float]
    ready: float  # seconds from now (negative: packed already)
    promised: float
    floor: float  # max(0, ready): door time is counted from here
    age: float  # seconds since placed (or ready)
    bags: int
    kg: float
    direct: float = 0.0  # metres from its pickup to its drop
    late_ready: float = -math.inf  # when the bag is packed if picking runs long (its tail); packed: ready
    cluster: int = 0
    angle: float = 0.0
    best_door: float = math.inf  # the earliest door time of any option this round


@dataclass(eq=False, slots=True)
class _Batch:
    members: tuple[_Order, ...]  # in drop order
    pickups: tuple[tuple[float, float], ...]  # in visiting order
    pickup_ready: tuple[float, ...]  # the last bag of each pickup
    pickup_legs: float  # metres between the pickups
    legs: tuple[float, ...]  # metres from each pickup to the next
    cum: tuple[float, ...]  # metres from the last pickup to each door, via the earlier doors
    bags: int
    kg: float
    ready: float
    excluded: frozenset[str]
    late_ready: float = -math.inf  # the last bag's late tail (see _Order.late_ready)


@dataclass(eq=False, slots=True)
class _Rider:
    r: RiderView
    origin: tuple[float, float]
    here: tuple[float, float]
    start: float  # seconds from now when the rider can set off
    speed: float
    slots: int
    bags: int
    kg: float
    shift_end: float  # seconds from now; inf without a shift


@dataclass(eq=False, slots=True)
class _Option:
    rider: _Rider
    batch: _Batch
    cost: float
    due: bool  # the rider has to set off within lead_s: commit now, or lose the timing
    leave: float
    arrive: float  # at the first pickup
    wait: float
    doors: tuple[float, ...]
    adds_to: tuple[str, ...] = ()
    offered: tuple[_Order, ...] = ()  # the orders it settles (an addition: the new ones only)
    score: float = 0.0


def _trip_times(
    rider: _Rider, batch: _Batch, to_shop: float, leave: float, w: CostWeights
) -> tuple[float, float, float, tuple[float, ...]]:
    """(arrive at the first pickup, seconds waiting, last pickup left, door times) for a rider leaving at `leave`."""
    arrive = leave + to_shop
    if len(batch.pickup_ready) == 1:  # the usual case, without the loop
        waited = max(0.0, batch.ready - arrive)
        depart = arrive + waited + w.pickup_s
        return arrive, waited, depart, tuple(depart + c / rider.speed + k * w.door_s for k, c in enumerate(batch.cum))
    t, waited = arrive, 0.0
    for i, ready in enumerate(batch.pickup_ready):
        if i:  # on to the next stall or shop
            t += batch.legs[i - 1] / rider.speed
        if ready > t:
            waited += ready - t
            t = ready
        t += w.pickup_s
    depart = t
    doors = tuple(depart + c / rider.speed + k * w.door_s for k, c in enumerate(batch.cum))
    return arrive, waited, depart, doors


def _cost(
    rider: _Rider, batch: _Batch, to_shop: float, w: CostWeights, trip: float, early_s: float = 0.0
) -> _Option | None:
    if batch.legs:
        ideal_leave = batch.ready - to_shop - (w.pickup_s * len(batch.legs) + batch.pickup_legs / rider.speed)
    else:
        ideal_leave = batch.ready - to_shop
    due = rider.start <= w.lead_s and ideal_leave <= w.lead_s + early_s
    leave = rider.start if due else max(rider.start, ideal_leave)
    if batch.legs:
        arrive, waited, depart, doors = _trip_times(rider, batch, to_shop, leave, w)
    else:  # one shop, inline: this is the inner loop of a round
        arrive = leave + to_shop
        waited = batch.ready - arrive if batch.ready > arrive else 0.0
        depart = arrive + waited + w.pickup_s
        cum = batch.cum
        if len(cum) == 1:
            doors = (depart + cum[0] / rider.speed,)
        else:
            inv, door_s = 1.0 / rider.speed, w.door_s
            doors = tuple(depart + c * inv + k * door_s for k, c in enumerate(cum))
    if depart - w.pickup_s > rider.shift_end:
        return None  # no pickup after the shift's end
    if doors[-1] + w.door_s > rider.shift_end + w.shift_grace_s:
        return None  # no route ending more than shift_grace_s past it
    cost = trip + w.travel * (to_shop + (batch.pickup_legs + batch.cum[-1]) / rider.speed) + w.wait * waited
    # Lateness is costed at the doors the trip makes if its last bag runs long, and aiming a margin
    # inside the promise: the planner protects the promise it gave instead of spending its slack.
    aim = w.promise_margin_s + (batch.late_ready - arrive - waited if batch.late_ready > arrive + waited else 0.0)
    for member, door in zip(batch.members, doors, strict=True):
        cost += w.door * (door - member.floor)
        if door + aim > member.promised:
            cost += w.late * (door + aim - member.promised) + w.late_order
    return _Option(rider, batch, cost, due, leave, arrive, waited, doors, (), batch.members)


def _route_metres(pickup: tuple[float, float], drops: Sequence[_Order]) -> tuple[float, ...]:
    cum, here, total = [], pickup, 0.0
    for m in drops:
        total += _d(here, m.drop)
        cum.append(total)
        here = m.drop
    return tuple(cum)


def _along_one_route(pickup: tuple[float, float], route: Sequence[_Order], w: CostWeights) -> bool:
    """Every drop, reached via the ones before it, is at most max_detour (or detour_floor_m) farther than directly."""
    here, travelled = pickup, 0.0
    for member in route:
        travelled += _d(here, member.drop)
        direct = member.direct if member.pickup == pickup else _d(pickup, member.drop)
        if travelled - direct > max(w.detour_floor_m, w.max_detour * direct):
            return False
        here = member.drop
    return True


def _drop_order(pickup: tuple[float, float], members: Sequence[_Order], w: CostWeights) -> tuple[_Order, ...] | None:
    """The drop order (every permutation up to three, cheapest insertion beyond) with the least door
    seconds and lateness for a bicycle; None when the drops lie along no one route."""
    inv = 1.0 / speed_mps("bicycle")
    depart = max(0.0, *(x.ready for x in members))
    door_s, late = w.door_s, w.late

    def cost(route: Sequence[_Order]) -> float:
        total, here, t = 0.0, pickup, depart
        for m in route:
            t += _d(here, m.drop) * inv
            total += t + (late * (t - m.promised) if t > m.promised else 0.0)
            t += door_s
            here = m.drop
        return total

    if len(members) <= 3:
        return _best_permutation(pickup, members, w, inv, depart)
    route: list[_Order] = []
    for m in sorted(members, key=lambda m: _d(pickup, m.drop)):
        route = min(([*route[:i], m, *route[i:]] for i in range(len(route) + 1)), key=cost)
    return tuple(route) if _along_one_route(pickup, route, w) else None


def _best_permutation(
    pickup: tuple[float, float], members: Sequence[_Order], w: CostWeights, inv: float, depart: float
) -> tuple[_Order, ...] | None:
    """`_drop_order` for up to three drops, over distances measured once: None unless some
    permutation lies along one route; else the cheapest permutation."""
    n = len(members)
    direct = [m.direct if m.pickup == pickup else _d(pickup, m.drop) for m in members]
    between = [[_d(a.drop, b.drop) for b in members] for a in members]
    floor, detour, door_s, late = w.detour_floor_m, w.max_detour, w.door_s, w.late
    best: tuple[float, list[str], tuple[int, ...]] | None = None
    any_fits = False
    for perm in itertools.permutations(range(n)):
        travelled, total, t, prev, fits = 0.0, 0.0, depart, -1, True
        for i in perm:
            leg = direct[i] if prev < 0 else between[prev][i]
            travelled += leg
            if fits and travelled - direct[i] > max(floor, detour * direct[i]):
                fits = False
            t += leg * inv
            m = members[i]
            total += t + (late * (t - m.promised) if t > m.promised else 0.0)
            t += door_s
            prev = i
        any_fits = any_fits or fits
        key = (total, [members[i].o.order_id for i in perm], perm)
        if best is None or key[:2] < best[:2]:
            best = key
    return tuple(members[i] for i in best[2]) if any_fits and best is not None else None


def _make_batch(members: Sequence[_Order], w: CostWeights) -> _Batch | None:
    """A trip over these orders: their pickups by readiness, the drops along one route; None if they do not fit."""
    first = members[0].pickup
    if len(members) == 1:  # one order: most batches of a round
        m = members[0]
        return _Batch(
            (m,), (first,), (m.ready,), 0.0, (), (m.direct,), m.bags, m.kg, m.ready, m.o.excluded_riders, m.late_ready
        )
    if all(m.pickup == first for m in members):  # one shop: the usual case
        order: list[tuple[float, float]] = [first]
        readies: tuple[float, ...] = (max(m.ready for m in members),)
        legs: tuple[float, ...] = ()
    else:
        by_pickup: dict[tuple[float, float], float] = {}
        for m in members:
            by_pickup[m.pickup] = max(by_pickup.get(m.pickup, -1e18), m.ready)
        order = sorted(by_pickup, key=lambda p: (by_pickup[p], p))
        if any(_d(a, b) > w.cluster_m * DETOUR for a, b in itertools.combinations(order, 2)):
            return None  # a cluster is transitive; the shops of one trip are each within cluster_m
        readies = tuple(by_pickup[p] for p in order)
        legs = tuple(_d(a, b) for a, b in itertools.pairwise(order))
    last = order[-1]
    route = tuple(members) if len(members) == 1 else _drop_order(last, members, w)
    if route is None:
        return None
    excluded = frozenset().union(*(m.o.excluded_riders for m in members))
    return _Batch(
        route,
        tuple(order),
        readies,
        sum(legs),
        legs,
        _route_metres(last, route),
        sum(m.bags for m in members),
        sum(m.kg for m in members),
        max(readies),
        excluded,
        max(m.late_ready for m in members),
    )


def _clusters(members: list[_Order], w: CostWeights) -> None:
    """Orders whose shops lie within cluster_m of each other (transitively) share a cluster number."""
    points = sorted({m.pickup for m in members})
    parent = list(range(len(points)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cell = max(1.0, w.cluster_m)
    grid: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(points):
        grid.setdefault((int(p[0] // cell), int(p[1] // cell)), []).append(i)
    for (cx, cy), ids in grid.items():
        for dx, dy in itertools.product((-1, 0, 1), repeat=2):
            for j in grid.get((cx + dx, cy + dy), ()):
                for i in ids:
                    if i < j and _d(points[i], points[j]) <= w.cluster_m * DETOUR:
                        parent[find(i)] = find(j)
    index = {p: find(i) for i, p in enumerate(points)}
    for m in members:
        m.cluster = index[m.pickup]


def _partner_lists(group: list[_Order], w: CostWeights) -> dict[int, list[_Order]]:
    """Each order's batch_partners nearest eligible partners: neighbours by direction from the shop
    whose bags are ready close together and whose drops lie along one route (linear, not n²)."""
    centre = group[0].pickup
    for m in group:
        m.angle = math.atan2(m.drop[1] - centre[1], m.drop[0] - centre[0])
    ring = sorted(group, key=lambda m: (m.angle, m.o.order_id))
    n, window = len(ring), min(len(ring) - 1, w.batch_partners + 2)
    partners: dict[int, list[_Order]] = {id(m): [] for m in group}
    for i, a in enumerate(ring):
        for step in range(1, window + 1):
            b = ring[(i + step) % n]
            if b is a or abs(a.ready - b.ready) > w.batch_ready_gap_s or any(x is b for x in partners[id(a)]):
                continue
            via = (a, b) if a.direct <= b.direct else (b, a)
            if _along_one_route(via[1].pickup, via, w):
                partners[id(a)].append(b)
                partners[id(b)].append(a)
    for m in group:
        near = partners[id(m)]
        near.sort(key=lambda x: (_d(m.drop, x.drop), x.o.order_id))
        del near[w.batch_partners :]
    return partners


def _bundles(group: list[_Order], w: CostWeights, limit: int) -> list[_Batch]:
    """Pairs of each order with its partners; an order's nearest pair is grown one partner at a
    time (the one nearest the last drop) while the drops stay along one route, up to `limit`."""
    if limit < 2 or len(group) < 2:
        return []
    partners = _partner_lists(group, w)
    out: list[_Batch] = []
    seen: set[frozenset[str]] = set()
    for a in group:
        for rank, b in enumerate(partners[id(a)]):
            members = [a, b]
            while (key := frozenset(m.o.order_id for m in members)) not in seen:
                seen.add(key)
                batch = _make_batch(members, w)
                if batch is None:
                    break
                out.append(batch)
                if len(members) >= limit or rank > 0:  # only an order's nearest pair grows (keeps rounds fast)
                    break
                grown = _grow(members, batch, partners, w)
                if grown is None:
                    break
                members = grown
    return out


def _grow(
    members: list[_Order], batch: _Batch, partners: dict[int, list[_Order]], w: CostWeights
) -> list[_Order] | None:
    nxt = [
        x
        for m in members
        for x in partners[id(m)]
        if all(x is not y for y in members) and max(abs(x.ready - y.ready) for y in members) <= w.batch_ready_gap_s
    ]
    if not nxt:
        return None
    last = batch.members[-1]
    return [*members, min(nxt, key=lambda x: (_d(last.drop, x.drop), x.o.order_id))]


def _crew(riders: Sequence[RiderView], now: datetime, frame: _Frame, w: CostWeights) -> list[_Rider]:
    ts = now.timestamp()
    crew: list[_Rider] = []
    for r in riders:
        slots = min(r.capacity - r.carrying, w.max_batch)
        max_bags, max_kg = VEHICLE_LOAD.get(r.vehicle, VEHICLE_LOAD["bicycle"])
        bags = (r.max_bags if r.max_bags is not None else max_bags) - r.load_bags
        kg = (r.max_kg if r.max_kg is not None else max_kg) - r.load_kg
        if slots <= 0 or bags <= 0:
            continue
        end = math.inf if r.shift_ends_at is None else r.shift_ends_at.timestamp() - ts
        origin, leaving = _start(r, now)
        start = leaving.timestamp() - ts
        if start > end:
            continue
        crew.append(
            _Rider(r, frame.xy(origin), frame.xy(r.position), start, speed_mps(r.vehicle), slots, bags, kg, end)
        )
    return crew


class _Reach:
    """The riders who reach a point first (start + ride), from a grid of riders: never every rider for every shop."""

    def __init__(self, crew: list[_Rider]) -> None:
        self.crew = crew
        self.cell = 600.0
        self.grid: dict[tuple[int, int], list[_Rider]] = {}
        for c in crew:
            self.grid.setdefault(self._key(c.origin), []).append(c)
        self.fastest = max((c.speed for c in crew), default=1.0)
        self._known: dict[tuple[float, float], tuple[int, list[tuple[float, _Rider]]]] = {}

    def _key(self, p: tuple[float, float]) -> tuple[int, int]:
        return (int(p[0] // self.cell), int(p[1] // self.cell))

    def nearest(self, point: tuple[float, float], k: int) -> list[tuple[float, _Rider]]:
        """At least the k riders who reach `point` first, as (ride seconds, rider), by arrival."""
        known = self._known.get(point)
        if known is not None and known[0] >= k:
            return known[1]
        k = max(k, 3)  # one search per shop serves every k a round asks for
        if len(self.crew) <= 3 * k:
            found = [(_d(c.origin, point) / c.speed, c) for c in self.crew]
        else:
            cx, cy = self._key(point)
            found, ring = [], 0
            while True:
                for dx in range(-ring, ring + 1):
                    for dy in range(-ring, ring + 1):
                        if max(abs(dx), abs(dy)) != ring:
                            continue
                        for c in self.grid.get((cx + dx, cy + dy), ()):
                            found.append((_d(c.origin, point) / c.speed, c))
                # Beyond this ring a rider is at least ring * cell away.
                if len(found) >= 3 * k:
                    arrivals = sorted(c.start + s for s, c in found)
                    if arrivals[k - 1] <= ring * self.cell / self.fastest or len(found) >= len(self.crew):
                        break
                if len(found) >= len(self.crew) or ring > 60:
                    break
                ring += 1
        found.sort(key=lambda x: (x[1].start + x[0], x[1].r.rider_id))
        self._known[point] = (k, found)
        return found


def _pressure(members: list[_Order], crew: list[_Rider]) -> float:
    """Bags packed within 10 minutes per rider free within 10 minutes: above 1, riders are scarce."""
    due = sum(1 for m in members if m.ready <= 600)
    free = sum(1 for c in crew if c.start <= 600)
    return due / max(1, free)


def plan(
    orders: Sequence[OpenOrder], riders: Sequence[RiderView], now: datetime, weights: CostWeights | None = None
) -> RoundPlan:
    """One round over all open orders and riders: which rider takes which orders, in which drop
    order; which orders wait and why; which no plan carries in time. See docs/assignment.md."""
    w = weights or DEFAULT_WEIGHTS
    if not orders:
        return RoundPlan([], [], [], 0.0)
    ts = now.timestamp()
    frame = _Frame(orders[0].pickup)
    members = [_as_member(o, frame, ts, w.picking_tail) for o in sorted(orders, key=lambda o: o.order_id)]
    crew = _crew(riders, now, frame, w)
    if not crew:
        nobody = [Undeliverable(m.o.order_id, "no rider on shift can take it", None) for m in members]
        return RoundPlan([], [], nobody, math.inf)
    pressure = min(_pressure(members, crew), w.max_pressure)
    options, later = _candidates(members, crew, pressure, w)
    options.extend(_additions(members, crew, frame, ts, w))
    waiting: list[_HoldChoice] = []
    selected = members
    if later:
        options, waiting = _set_aside(options, later, w)
        aside = {id(h.order) for h in waiting}
        selected = [m for m in members if id(m) not in aside]
    per_order = _ranked(options, selected)
    chosen, holds = _Selection(per_order, selected, ts, w).run()
    holds.extend(waiting)
    proposals = [_proposal(opt, now) for opt in chosen]
    return RoundPlan(proposals, [_hold(h, now, w) for h in holds], _undeliverable(members, w, now), pressure)


def _candidates(
    members: list[_Order], crew: list[_Rider], pressure: float, w: CostWeights
) -> tuple[list[_Option], set[int]]:
    """Every (rider, trip) worth costing: a trip's k riders who reach its first shop soonest; and
    (a big round) the orders whose bags are not due soon, costed for their soonest rider only."""
    trip = w.trip * (1 + w.scarcity * max(0.0, pressure - 1))
    if pressure < 1 and w.idle_travel != 1.0:  # idle riders: their riding minute is not taken from other work
        w = replace(w, travel=w.travel * (w.idle_travel + (1 - w.idle_travel) * pressure))
    early = w.idle_lead_s * max(0.0, 1 - pressure)
    relaxed = _relax(w, pressure) if pressure > 1 else w  # scarce riders: bundle more, a little farther off
    _clusters(members, w)
    by_cluster: dict[int, list[_Order]] = {}
    for m in members:
        by_cluster.setdefault(m.cluster, []).append(m)
    limit = min(w.max_batch, max(c.slots for c in crew))
    k_single, k_batch = w.single_riders, w.batch_riders
    reach = _Reach(crew)
    later: set[int] = set()  # a big round's orders whose bags are not due soon: one rider, no bundle yet
    if len(members) * (k_single + 2 * k_batch) > w.option_budget:
        # A big round: fewer riders per trip, and only bags due soon are bundled now.
        k_single, k_batch, limit = max(3, w.option_budget // (2 * len(members))), 2, min(limit, 3)
        relaxed = replace(relaxed, batch_partners=1)
        soonest: dict[tuple[float, float], float] = {}
        for m in members:
            if m.pickup not in soonest:
                near = reach.nearest(m.pickup, 1)
                soonest[m.pickup] = near[0][1].start + near[0][0] if near else math.inf
            if m.ready - soonest[m.pickup] > 2 * w.lead_s:
                later.add(id(m))
        by_cluster = {key: [m for m in group if id(m) not in later] for key, group in by_cluster.items()}
    batches = [b for m in members if (b := _make_batch([m], w)) is not None]
    for group in by_cluster.values():
        batches.extend(_bundles(group, relaxed, limit))
    options: list[_Option] = []
    for batch in batches:
        size = len(batch.members)
        k = k_single if size == 1 else k_batch
        if size == 1 and id(batch.members[0]) in later:
            k = 1  # it waits for its bag anyway: the soonest rider is enough to hold it
        options.extend(_costed(batch, reach.nearest(batch.pickups[0], k), k, w, trip, early))
    return options, later


def _costed(
    batch: _Batch, nearest: list[tuple[float, _Rider]], k: int, w: CostWeights, trip: float, early: float
) -> list[_Option]:
    """The trip costed for its first k riders (by arrival at its shop) with room and not excluded."""
    out: list[_Option] = []
    size = len(batch.members)
    for to_shop, c in nearest:
        if c.slots < size or c.bags < batch.bags or c.kg < batch.kg or c.r.rider_id in batch.excluded:
            continue
        opt = _cost(c, batch, to_shop, w, trip, early)
        if opt is not None:
            out.append(opt)
            if len(out) >= k:
                break
    return out


def plan_round(
    orders: Sequence[OpenOrder], riders: Sequence[RiderView], now: datetime, weights: CostWeights | None = None
) -> list[Proposal]:
    """The proposals of `plan`: trips (and additions) to offer now. Orders held or undeliverable get none."""
    return plan(orders, riders, now, weights).proposals


def _relax(w: CostWeights, pressure: float) -> CostWeights:
    f = min(pressure, 3.0)
    return replace(
        w,
        max_detour=w.max_detour * (1 + 0.4 * (f - 1)),
        detour_floor_m=w.detour_floor_m * (1 + 0.5 * (f - 1)),
        batch_ready_gap_s=w.batch_ready_gap_s * (1 + 0.5 * (f - 1)),
        batch_partners=w.batch_partners + 2,
    )


def _additions(members: list[_Order], crew: list[_Rider], frame: _Frame, ts: float, w: CostWeights) -> list[_Option]:
    """An open order joins a trip its rider accepted and has not picked up, when the drops stay
    along one route; costed as what it adds (the trip with it minus the trip without it)."""
    out: list[_Option] = []
    for c in crew:
        planned = c.r.planned
        if not planned or c.r.carrying != len(planned) or c.slots < 1:
            continue
        accepted = [_as_member(p, frame, ts, w.picking_tail) for p in planned]
        here = _Rider(c.r, c.here, c.here, 0.0, c.speed, c.slots, c.bags, c.kg, c.shift_end)
        alone = _make_batch(accepted, w)
        if alone is None:
            continue
        without = _cost(here, alone, _d(c.here, alone.pickups[0]) / c.speed, w, 0.0)
        if without is None:
            continue
        shops = {a.pickup for a in accepted}
        candidates = [
            m
            for m in members
            if c.r.rider_id not in m.o.excluded_riders and any(_d(m.pickup, s) <= w.cluster_m * DETOUR for s in shops)
        ]
        candidates.sort(key=lambda m: (min(_d(m.drop, a.drop) for a in accepted), m.o.order_id))
        for m in candidates[: w.batch_partners]:
            if m.bags > c.bags or m.kg > c.kg:
                continue
            batch = _make_batch([*accepted, m], w)
            if batch is None:
                continue
            opt = _cost(here, batch, _d(c.here, batch.pickups[0]) / c.speed, w, 0.0)
            if opt is None or not opt.due:
                continue
            opt.cost -= without.cost  # what adding it changes for everyone on the trip
            opt.adds_to = tuple(p.order_id for p in planned)
            opt.offered = (m,)
            out.append(opt)
    return out


def _as_member(o: OpenOrder, frame: _Frame, ts: float, tail: float = DEFAULT_WEIGHTS.picking_tail) -> _Order:
    ready = o.ready_at.timestamp() - ts
    placed = (o.placed_at or o.ready_at).timestamp() - ts
    pickup, drop = frame.xy(o.pickup), frame.xy(o.drop)
    if o.ready_late_at is not None:
        late = o.ready_late_at.timestamp() - ts
    elif o.bags is None:  # not packed yet: its picking may run long
        late = ready + tail * max(0.0, ready)
    else:
        late = ready
    return _Order(
        o,
        pickup,
        drop,
        ready,
        o.promised_at.timestamp() - ts,
        max(0.0, ready),
        max(0.0, -placed),
        o.bags if o.bags is not None else UNKNOWN_BAGS,
        o.weight_g / 1000 if o.weight_g is not None else UNKNOWN_KG,
        _d(pickup, drop),
        max(ready, late),
    )


def _set_aside(options: list[_Option], later: set[int], w: CostWeights) -> tuple[list[_Option], list[_HoldChoice]]:
    """A big round's bags not due soon whose only trip is their soonest rider's, free and not due
    yet: held for timing straight away (they wait for the bag whoever goes), outside the selection."""
    counts: dict[int, int] = {}
    for opt in options:
        for m in opt.offered:
            counts[id(m)] = counts.get(id(m), 0) + 1
    kept: list[_Option] = []
    aside: list[_HoldChoice] = []
    for opt in options:
        m = opt.offered[0]
        if id(m) in later and counts[id(m)] == 1 and not opt.due and not opt.adds_to and opt.rider.start <= w.lead_s:
            m.best_door = min(m.best_door, opt.doors[0])
            aside.append(_HoldChoice(m, opt, None))
        else:
            kept.append(opt)
    return kept, aside


def _ranked(options: list[_Option], members: list[_Order]) -> dict[str, list[_Option]]:
    """Per order, its options by score: how much each costs beyond the members' cheapest single trips."""
    base: dict[str, float] = {}
    for opt in options:
        if len(opt.batch.members) == 1 and not opt.adds_to:
            oid = opt.batch.members[0].o.order_id
            base[oid] = min(base.get(oid, opt.cost), opt.cost)
    per_order: dict[str, list[_Option]] = {m.o.order_id: [] for m in members}
    for opt in options:
        if len(opt.offered) == 1 and not opt.adds_to:  # a single trip: most options of a round
            m, door = opt.offered[0], opt.doors[0]
            m.best_door = min(m.best_door, door)
            oid = m.o.order_id
            opt.score = opt.cost - base[oid]
            per_order[oid].append(opt)
            continue
        for m, door in zip(opt.batch.members, opt.doors, strict=True):
            m.best_door = min(m.best_door, door)
        ids = [m.o.order_id for m in opt.offered]
        opt.score = (opt.cost - sum(base.get(i, opt.cost / len(ids)) for i in ids)) / len(ids)
        for i in ids:
            per_order[i].append(opt)
    for lst in per_order.values():
        lst.sort(key=lambda o: (o.score, o.cost, o.rider.r.rider_id))
    return per_order


@dataclass
class _HoldChoice:
    order: _Order
    opt: _Option
    send_now: _Option | None


class _Selection:
    """Regret greedy on a lazy heap: repeatedly settle the order that loses most if its best trip goes elsewhere.

    Priority = regret (the score of its best trip with another rider minus its best)
             + late * seconds its best door passes promise + rescue_after_s (rescue: never last forever)
             + age * seconds it has been open beyond age_after_s (older orders before younger)
             + undeliverable, when no trip makes it within undeliverable_after_s of its promise.
    An order whose best live trip is not due is held: for timing (its rider is free and need not
    set off yet), or for a busy rider only when that trip costs less than the best trip a free
    rider could make now, and never after max_hold_s while a free rider reaches the shop before
    the bag is ready.
    """

    def __init__(self, per_order: dict[str, list[_Option]], members: list[_Order], ts: float, w: CostWeights) -> None:
        self.per_order, self.ts, self.w = per_order, ts, w
        self.by_id = {m.o.order_id: m for m in members}
        self.settled: set[str] = set()
        self.used: set[str] = set()
        self.pos = dict.fromkeys(per_order, 0)

    def live(self, opt: _Option) -> bool:
        return opt.rider.r.rider_id not in self.used and not any(m.o.order_id in self.settled for m in opt.offered)

    def held_for(self, m: _Order) -> float:
        return 0.0 if m.o.held_since is None else max(0.0, self.ts - m.o.held_since.timestamp())

    def hold_banned(self, m: _Order, rest: list[_Option]) -> bool:
        """Held for a busy rider max_hold_s already while a free rider reaches the shop before the bag
        is ready; or twice that long while any free rider can go: a hold's rider may be taken by others."""
        held = self.held_for(m)
        if held < self.w.max_hold_s:
            return False
        ready = max(m.ready, 0.0) + self.w.lead_s
        free = [o for o in rest if o.due and o.rider.start <= 0 and self.live(o)]
        return any(o.arrive <= ready for o in free) or (held >= 2 * self.w.max_hold_s and bool(free))

    def best_of(self, oid: str) -> tuple[float, _Option] | None:
        w, lst = self.w, self.per_order[oid]
        i = self.pos[oid]
        while i < len(lst) and not self.live(lst[i]):
            i += 1
        self.pos[oid] = i
        if i == len(lst):
            return None
        m, best = self.by_id[oid], lst[i]
        if not best.due and best.rider.start > w.lead_s and self.hold_banned(m, lst[i:]):
            best = next(o for o in lst[i:] if o.due and self.live(o))
        regret = next((o.score - best.score for o in lst[i + 1 :] if o.rider is not best.rider and self.live(o)), 1e9)
        door = best.doors[next(k for k, x in enumerate(best.batch.members) if x is m)]
        prio = regret + w.late * max(0.0, door - (m.promised + w.rescue_after_s))
        prio += w.age * (max(0.0, m.age - w.age_after_s) + self.held_for(m))  # held: first for its rider
        if door > m.promised + w.undeliverable_after_s:
            prio += w.undeliverable
        return prio, best

    def send_now(self, oid: str) -> _Option | None:
        """The best trip a rider free now (or within lead_s) could make for the order."""
        lst = self.per_order[oid]
        now_opts = [o for o in lst[self.pos[oid] :] if o.due and o.rider.start <= self.w.lead_s and self.live(o)]
        return min(now_opts, key=lambda o: (o.cost / len(o.offered), o.rider.r.rider_id), default=None)

    def run(self) -> tuple[list[_Option], list[_HoldChoice]]:
        chosen: list[_Option] = []
        holds: list[_HoldChoice] = []
        heap: list[tuple[float, str]] = []
        for oid in self.per_order:
            got = self.best_of(oid)
            if got is None:
                self.settled.add(oid)
            else:
                heap.append((-got[0], oid))
        heapq.heapify(heap)
        while heap:
            neg, oid = heapq.heappop(heap)
            got = None if oid in self.settled else self.best_of(oid)
            if got is None:
                self.settled.add(oid)
                continue
            prio, best = got
            if prio < -neg - 1e-6 and heap and prio < -heap[0][0]:
                heapq.heappush(heap, (-prio, oid))  # stale: it lost a rider or a partner since it was pushed
                continue
            if not best.due:
                now = self.send_now(oid)
                busy = best.rider.start > self.w.lead_s
                if busy and now is not None and now.cost / len(now.offered) <= best.cost / len(best.offered):
                    best = now  # holding does not win: send the free rider now
                else:
                    holds.append(_HoldChoice(self.by_id[oid], best, now))
                    self.settled.add(oid)
                    continue
            chosen.append(best)
            self.used.add(best.rider.r.rider_id)
            self.settled.update(m.o.order_id for m in best.offered)
        return chosen, holds


def _undeliverable(members: list[_Order], w: CostWeights, now: datetime) -> list[Undeliverable]:
    out: list[Undeliverable] = []
    for m in members:
        if m.best_door == math.inf:
            out.append(Undeliverable(m.o.order_id, "no rider on shift can take it", None))
        elif m.best_door > m.promised + w.undeliverable_after_s:
            late = (m.best_door - m.promised) / 60
            out.append(
                Undeliverable(
                    m.o.order_id, f"the best plan is {late:.0f} min late", now + timedelta(seconds=m.best_door)
                )
            )
    return out


def _proposal(opt: _Option, now: datetime) -> Proposal:
    def at(seconds: float) -> datetime:
        return now + timedelta(seconds=seconds)

    route = tuple(m.o.order_id for m in opt.batch.members)
    offered = {m.o.order_id for m in opt.offered}
    ids = tuple(i for i in route if i in offered)
    stores = tuple(dict.fromkeys(m.o.store_id for m in opt.batch.members))
    return Proposal(
        opt.rider.r.rider_id,
        ids,
        at(opt.arrive),
        {oid: at(d) for oid, d in zip(route, opt.doors, strict=True)},
        round(opt.cost, 1),
        route,
        at(opt.leave),
        round(opt.wait, 1),
        opt.adds_to,
        stores,
    )


def _hold(h: _HoldChoice, now: datetime, w: CostWeights) -> Hold:
    k = next(k for k, x in enumerate(h.opt.batch.members) if x is h.order)
    reason = "timing" if h.opt.rider.start <= w.lead_s else "rider_busy"
    return Hold(
        h.order.o.order_id,
        reason,
        h.opt.rider.r.rider_id,
        now + timedelta(seconds=h.opt.leave),
        now + timedelta(seconds=h.opt.doors[k]),
        round(h.opt.cost / len(h.opt.offered), 1),
        h.send_now.rider.r.rider_id if h.send_now else None,
        round(h.send_now.cost / len(h.send_now.offered), 1) if h.send_now else None,
    )


def promise(pickup: Point, drop: Point, ready_at: datetime, riders: Sequence[RiderView], now: datetime) -> datetime:
    """When the door will ring if the best free rider takes it; with no rider free, a slow walk."""
    order = OpenOrder("promise", "", pickup, drop, ready_at, ready_at)
    trips = [single_trip(r, order, now).eta_door_at["promise"] for r in riders if r.carrying < r.capacity]
    if trips:
        return min(trips) + timedelta(minutes=HANDOVER_MINUTES)
    return ready_at + timedelta(seconds=travel_s(pickup, drop, "foot")) + timedelta(minutes=15)
