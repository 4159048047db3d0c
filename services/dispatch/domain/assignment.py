"""Who carries which orders, and when: one round of assignment over everything open.

`plan_round` is what dispatch runs every few seconds. It looks at every open order and every
rider with room at once, builds candidate trips (one rider, one shop, one to three bags, drops in
route order), costs each trip, and picks a set of trips in which no order and no rider appears
twice. `nearest_available` is the baseline the benchmark compares it with: each order, oldest
first, to the closest free rider. The algorithm and the cost are explained in docs/assignment.md.

All of this is pure: no I/O, no clock. Everything is a function of its arguments.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.vocabulary.geo import HANDOVER_MINUTES, Point, speed_mps, street_metres, travel_s


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
    order_ids: tuple[str, ...]  # from plan_round: in drop order
    eta_shop_at: datetime
    eta_door_at: dict[str, datetime] = field(default_factory=dict)
    cost: float = 0.0
    route: tuple[str, ...] = ()  # the drop order (plan_round fills it; the baseline leaves it empty)
    leaves_at: datetime | None = None  # when the rider sets off for the shop (now, or when their route ends)
    wait_s: float = 0.0  # how long the rider is expected to wait at the shop for the last bag


@dataclass(frozen=True)
class CostWeights:
    """The cost of a trip, in seconds of a rider's time, and the knobs of a round.

    cost = trip
         + travel * (seconds riding to the shop + seconds riding along the drops)
         + wait * (seconds waiting at the shop for the last bag)
         + sum over the trip's orders of
               door * (seconds from max(now, ready_at) to the door)
             + late * (seconds past promised_at) + late_order (if late at all)
    """

    travel: float = 1.0  # per second a rider rides or walks
    wait: float = 1.0  # per second a rider stands at the shop: rider time like any other
    door: float = 0.5  # per second an order spends between its bag being ready (or now) and the door
    late: float = 10.0  # per second an order reaches the door after its promise
    late_order: float = 600.0  # once for every order that would be late at all (a late order ~ 10 minutes)
    trip: float = 120.0  # once per rider sent: what a trip costs beyond its minutes; a batch pays it once
    lead_s: float = 90.0  # commit a trip only when its rider has to set off within this (covers rounds and offers)
    pickup_s: float = 60.0  # handover at the shop, once per trip
    door_s: float = 60.0  # handover at each door before riding on
    max_batch: int = 3  # at most this many orders of one store in one trip
    max_detour: float = 0.6  # via the other drops, a drop is at most this much farther than directly ...
    detour_floor_m: float = 300.0  # ... or at most this many metres farther (homes next to each other)
    batch_ready_gap_s: float = 600.0  # the bags of one trip are ready at most this far apart
    batch_riders: int = 6  # a batch is costed for this many riders: those who reach its shop first
    batch_partners: int = 4  # an order is batched only with its nearest eligible partners (keeps rounds fast)
    rescue_after_s: float = 600.0  # an order that would be later than this goes first (see _regret_select)


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
# Times inside a round are float seconds relative to `now`, to keep the inner loops cheap.


@dataclass
class _Order:
    o: OpenOrder
    ready: float  # seconds from now (negative: packed already, or due)
    promised: float
    floor: float  # max(0, ready): door time is counted from here


@dataclass
class _Batch:
    store_id: str
    pickup: Point
    members: tuple[_Order, ...]
    ready: float  # the last bag
    # vehicle -> (orders in drop order, seconds from leaving the shop to each door, seconds riding the drops)
    routes: dict[str, tuple[tuple[_Order, ...], tuple[float, ...], float]] = field(default_factory=dict)


@dataclass
class _Rider:
    r: RiderView
    origin: Point
    start: float  # seconds from now when the rider can set off
    speed: float
    slots: int


@dataclass
class _Option:
    rider: _Rider
    batch: _Batch
    cost: float
    score: float  # per order, relative to each order's cheapest single trip
    due: bool  # the rider has to set off within lead_s: commit now, or lose the timing
    leave: float
    arrive: float
    wait: float
    doors: tuple[float, ...]
    route: tuple[_Order, ...]


class _Distances:
    """Street metres between points, each pair computed once per round."""

    def __init__(self) -> None:
        self._known: dict[tuple[Point, Point], float] = {}

    def __call__(self, a: Point, b: Point) -> float:
        key = (a, b)
        d = self._known.get(key)
        if d is None:
            d = self._known[key] = self._known[b, a] = street_metres(a, b)
        return d


def _drop_offsets(
    pickup: Point, route: Sequence[_Order], speed: float, door_s: float, dist: _Distances
) -> tuple[tuple[float, ...], float]:
    """Seconds from leaving the shop to each door (with door_s at each earlier door), and seconds riding."""
    offsets: list[float] = []
    t, here, riding = 0.0, pickup, 0.0
    for member in route:
        leg = dist(here, member.o.drop) / speed
        t += leg
        riding += leg
        offsets.append(t)
        t += door_s
        here = member.o.drop
    return tuple(offsets), riding


def _best_route(
    batch: _Batch, speed: float, w: CostWeights, dist: _Distances
) -> tuple[tuple[_Order, ...], tuple[float, ...], float]:
    """The drop order with the least cost for a rider leaving the shop when the last bag is ready."""
    best: tuple[float, tuple[_Order, ...], tuple[float, ...], float] | None = None
    depart = max(0.0, batch.ready) + w.pickup_s
    for perm in itertools.permutations(batch.members):
        offsets, riding = _drop_offsets(batch.pickup, perm, speed, w.door_s, dist)
        cost = w.travel * riding
        for member, off in zip(perm, offsets, strict=True):
            door = depart + off
            cost += w.door * (door - member.floor)
            if door > member.promised:
                cost += w.late * (door - member.promised) + w.late_order
        if best is None or cost < best[0]:
            best = (cost, perm, offsets, riding)
    assert best is not None
    return best[1], best[2], best[3]


def _along_one_route(pickup: Point, route: Sequence[_Order], w: CostWeights, dist: _Distances) -> bool:
    """Every drop, reached via the ones before it, is at most max_detour (or detour_floor_m) farther than directly."""
    here, travelled = pickup, 0.0
    for member in route:
        travelled += dist(here, member.o.drop)
        direct = dist(pickup, member.o.drop)
        if travelled - direct > max(w.detour_floor_m, w.max_detour * direct):
            return False
        here = member.o.drop
    return True


def _partners(group: list[_Order], pickup: Point, w: CostWeights, dist: _Distances) -> list[list[int]]:
    """Each order's batch_partners nearest eligible partners (drop to drop), so the number of
    pairs and triples grows linearly with the orders of a store, not with their square."""
    partners: list[list[int]] = [[] for _ in group]
    for i, j in itertools.combinations(range(len(group)), 2):
        a, b = group[i], group[j]
        if abs(b.ready - a.ready) > w.batch_ready_gap_s:
            continue
        if _along_one_route(pickup, (a, b), w, dist) or _along_one_route(pickup, (b, a), w, dist):
            partners[i].append(j)
            partners[j].append(i)
    for i, near in enumerate(partners):
        here = group[i].o.drop
        near.sort(key=lambda j: (dist(here, group[j].o.drop), j))
        del near[w.batch_partners :]
    return partners


def _triples(
    group: list[_Order],
    pickup: Point,
    partners: list[list[int]],
    pairs: set[tuple[int, int]],
    w: CostWeights,
    dist: _Distances,
) -> list[tuple[_Order, ...]]:
    """Triples whose three pairs all qualify and whose drops lie along one route in some order."""
    found: list[tuple[_Order, ...]] = []
    triples: set[tuple[int, ...]] = set()
    for i, j in sorted(pairs):
        for k in (*partners[i], *partners[j]):
            trio = tuple(sorted((i, j, k)))
            if k in (i, j) or trio in triples:
                continue
            if not {(trio[0], trio[1]), (trio[0], trio[2]), (trio[1], trio[2])} <= pairs:
                continue
            members = tuple(group[x] for x in trio)
            if any(_along_one_route(pickup, p, w, dist) for p in itertools.permutations(members)):
                triples.add(trio)
                found.append(members)
    return found


def _store_batches(store_id: str, group: list[_Order], w: CostWeights, dist: _Distances) -> list[_Batch]:
    """Same-store pairs (and triples) of one store's orders."""
    group.sort(key=lambda m: (m.ready, m.o.order_id))
    pickup = group[0].o.pickup
    partners = _partners(group, pickup, w, dist)
    pairs = {(min(i, j), max(i, j)) for i, near in enumerate(partners) for j in near}
    out = [
        _Batch(store_id, pickup, (group[i], group[j]), max(group[i].ready, group[j].ready)) for i, j in sorted(pairs)
    ]
    if w.max_batch >= 3:
        for members in _triples(group, pickup, partners, pairs, w, dist):
            out.append(_Batch(store_id, pickup, members, max(m.ready for m in members)))
    return out


def _batches(orders: Sequence[_Order], w: CostWeights, dist: _Distances) -> list[_Batch]:
    """Single orders, and same-store pairs and triples whose drops lie along one route (in some order)."""
    singles = [_Batch(m.o.store_id, m.o.pickup, (m,), m.ready) for m in orders]
    if w.max_batch < 2:
        return singles
    by_store: dict[str, list[_Order]] = {}
    for m in orders:
        by_store.setdefault(m.o.store_id, []).append(m)
    out = list(singles)
    for store_id, group in by_store.items():
        if len(group) >= 2:
            out.extend(_store_batches(store_id, group, w, dist))
    return out


def _cost(rider: _Rider, batch: _Batch, to_shop: float, w: CostWeights) -> _Option:
    route, offsets, riding = batch.routes[rider.r.vehicle]
    ideal_leave = batch.ready - to_shop  # set off now-or-then to arrive as the last bag is packed
    due = max(rider.start, ideal_leave) <= w.lead_s
    if due:  # goes as soon as it can; may wait a little at the shop
        leave = rider.start
        arrive = leave + to_shop
    else:  # priced as if timed to the bag: it will be offered in a later round
        leave = max(rider.start, ideal_leave)
        arrive = leave + to_shop
    wait = max(0.0, batch.ready - arrive)
    depart = arrive + wait + w.pickup_s
    cost = w.trip + w.travel * (to_shop + riding) + w.wait * wait
    doors = []
    for member, off in zip(route, offsets, strict=True):
        door = depart + off
        doors.append(door)
        cost += w.door * (door - member.floor)
        if door > member.promised:
            cost += w.late * (door - member.promised) + w.late_order
    return _Option(rider, batch, cost, 0.0, due, leave, arrive, wait, tuple(doors), route)


def _crew(riders: Sequence[RiderView], now: datetime, w: CostWeights) -> list[_Rider]:
    ts = now.timestamp()
    crew: list[_Rider] = []
    for r in riders:
        slots = min(r.capacity - r.carrying, w.max_batch)
        if slots <= 0:
            continue
        origin, leaving = _start(r, now)
        crew.append(_Rider(r, origin, leaving.timestamp() - ts, speed_mps(r.vehicle), slots))
    return crew


def _route_batches(batches: list[_Batch], vehicles: set[str], w: CostWeights, dist: _Distances) -> None:
    """Each batch's best drop order for each vehicle in the crew."""
    for batch in batches:
        for vehicle in vehicles:
            if len(batch.members) == 1:
                offsets, riding = _drop_offsets(batch.pickup, batch.members, speed_mps(vehicle), w.door_s, dist)
                batch.routes[vehicle] = (batch.members, offsets, riding)
            else:
                batch.routes[vehicle] = _best_route(batch, speed_mps(vehicle), w, dist)


def _options(batches: list[_Batch], crew: list[_Rider], w: CostWeights) -> list[_Option]:
    """Every (rider, batch) worth costing: any rider for a single order, the first to reach the shop for a batch."""
    pickups = {b.store_id: b.pickup for b in batches}
    # Riding time to each store, once per rider and store.
    to_shop = {(c.r.rider_id, sid): street_metres(c.origin, p) / c.speed for c in crew for sid, p in pickups.items()}
    reach_order = {
        sid: sorted(crew, key=lambda c: (c.start + to_shop[c.r.rider_id, sid], c.r.rider_id)) for sid in pickups
    }
    options: list[_Option] = []
    for batch in batches:
        size = len(batch.members)
        excluded = frozenset().union(*(m.o.excluded_riders for m in batch.members))
        pool = crew if size == 1 else reach_order[batch.store_id]
        taken = 0
        for c in pool:
            if c.slots < size or c.r.rider_id in excluded:
                continue
            options.append(_cost(c, batch, to_shop[c.r.rider_id, batch.store_id], w))
            taken += 1
            if size > 1 and taken >= w.batch_riders:
                break
    return options


def _ranked(options: list[_Option], members: list[_Order]) -> dict[str, list[_Option]]:
    """Per order, its options by score: how much each costs beyond the members' cheapest single trips."""
    base: dict[str, float] = {}
    for opt in options:
        if len(opt.batch.members) == 1:
            oid = opt.batch.members[0].o.order_id
            base[oid] = min(base.get(oid, opt.cost), opt.cost)
    per_order: dict[str, list[_Option]] = {m.o.order_id: [] for m in members}
    for opt in options:
        ids = [m.o.order_id for m in opt.batch.members]
        opt.score = (opt.cost - sum(base.get(i, opt.cost / len(ids)) for i in ids)) / len(ids)
        for i in ids:
            per_order[i].append(opt)
    for lst in per_order.values():
        lst.sort(key=lambda o: (o.score, o.cost, o.rider.r.rider_id))
    return per_order


def plan_round(
    orders: Sequence[OpenOrder], riders: Sequence[RiderView], now: datetime, weights: CostWeights | None = None
) -> list[Proposal]:
    """One round over all open orders and riders: which rider takes which orders, in which drop order.

    Orders whose best trip need not start yet (the bag is far from ready, or the best rider is
    still busy) get no proposal this round; a later round decides them with more information.
    See docs/assignment.md for the cost and the algorithm.
    """
    w = weights or DEFAULT_WEIGHTS
    if not orders:
        return []
    ts = now.timestamp()
    members = [
        _Order(o, o.ready_at.timestamp() - ts, o.promised_at.timestamp() - ts, max(0.0, o.ready_at.timestamp() - ts))
        for o in orders
    ]
    crew = _crew(riders, now, w)
    if not crew:
        return []
    dist = _Distances()
    batches = _batches(members, w, dist)
    _route_batches(batches, {c.r.vehicle for c in crew}, w, dist)
    per_order = _ranked(_options(batches, crew, w), members)
    return [_proposal(opt, now) for opt in _regret_select(per_order, w)]


def _regret_select(per_order: dict[str, list[_Option]], w: CostWeights) -> list[_Option]:
    """Regret greedy: repeatedly settle the order that loses most if its best trip goes elsewhere.

    The priority of an order is its regret (the score of its second-best trip with another rider
    minus its best) plus a rescue term: `late` per second by which its best door time passes
    promise + rescue_after_s. Regret alone leaves an order that is equally bad for every rider
    (a far shop in an overloaded hour) to the end of every round, round after round: on the
    simulated day some waited an hour for a rider. Serving every late order first instead
    (earliest deadline first) cascades: more orders end up late. Rescuing only the orders that
    are already badly late keeps the on-time rate and cuts the tail.

    An order whose best remaining trip is not due yet is held back (no proposal this round), and
    so are the batches that contain it.
    """
    settled: set[str] = set()  # assigned or held back
    used: set[str] = set()
    chosen: list[_Option] = []
    pos = dict.fromkeys(per_order, 0)

    def live(opt: _Option) -> bool:
        return opt.rider.r.rider_id not in used and not any(m.o.order_id in settled for m in opt.batch.members)

    while True:
        pick: tuple[float, str] | None = None
        pick_opt: _Option | None = None
        for oid, lst in per_order.items():
            if oid in settled:
                continue
            i = pos[oid]
            while i < len(lst) and not live(lst[i]):
                i += 1
            pos[oid] = i
            if i == len(lst):
                settled.add(oid)  # no rider left for it this round
                continue
            best = lst[i]
            if not best.due:
                settled.add(oid)  # better to wait: its best trip starts later
                continue
            regret = 1e9
            for nxt in lst[i + 1 :]:
                if nxt.rider is not best.rider and live(nxt):
                    regret = nxt.score - best.score
                    break
            door = best.doors[next(k for k, m in enumerate(best.route) if m.o.order_id == oid)]
            promised = next(m.promised for m in best.route if m.o.order_id == oid)
            regret += w.late * max(0.0, door - (promised + w.rescue_after_s))
            key = (regret, oid)
            if pick is None or key[0] > pick[0] or (key[0] == pick[0] and key[1] < pick[1]):
                pick, pick_opt = key, best
        if pick_opt is None:
            return chosen
        chosen.append(pick_opt)
        used.add(pick_opt.rider.r.rider_id)
        settled.update(m.o.order_id for m in pick_opt.batch.members)


def _proposal(opt: _Option, now: datetime) -> Proposal:
    def at(seconds: float) -> datetime:
        return now + timedelta(seconds=seconds)

    ids = tuple(m.o.order_id for m in opt.route)
    return Proposal(
        opt.rider.r.rider_id,
        ids,
        at(opt.arrive),
        {oid: at(d) for oid, d in zip(ids, opt.doors, strict=True)},
        round(opt.cost, 1),
        ids,
        at(opt.leave),
        round(opt.wait, 1),
    )


def promise(pickup: Point, drop: Point, ready_at: datetime, riders: Sequence[RiderView], now: datetime) -> datetime:
    """When the door will ring if the best free rider takes it; with no rider free, a slow walk."""
    order = OpenOrder("promise", "", pickup, drop, ready_at, ready_at)
    trips = [single_trip(r, order, now).eta_door_at["promise"] for r in riders if r.carrying < r.capacity]
    if trips:
        return min(trips) + timedelta(minutes=HANDOVER_MINUTES)
    return ready_at + timedelta(seconds=travel_s(pickup, drop, "foot")) + timedelta(minutes=15)
