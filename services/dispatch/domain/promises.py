"""What dispatch promises: one load-aware promise per shop, a slot order's times, and when to re-quote.

One promise, computed here and nowhere else. Every round dispatch forecasts, from the riders on
shift now or within `horizon_s` (30 minutes) and the open orders ahead of a new one, when each
rider will next be free and where (`forecast`), and from that what each shop could promise a
new order now (`quote_shop`): when its bag would be packed, and per vehicle the earliest a rider
reaches the shop. `PromiseQuoted` carries that quote to orders; the checkout adds the last leg to
the shopper's door with `shared/vocabulary/promise.py` (`door_minutes`, the same rule both
services use), shows it, and records it on the order; dispatch adopts the order's promise.
`promise_for` is the whole path in one pure call, in the same whole minutes the checkout shows,
for the benchmark and for tests.

The forecast is a greedy list schedule: the orders ahead, oldest bag first, each to the rider
(among the `candidates` free soonest) who would bring it to its door first, joining a trip that
already leaves the same shop when the bag is ready by then and the rider has room. It knows
shifts: no pickup after a shift's end, no route ending more than `shift_grace_s` past it, and a
rider starting within the horizon is free from the shift's start. The slack (`slack_for`) covers
the late tails of the two uncertain parts of max(bag packed, rider at the shop): picking running
long (`picking_tail` of the picking time) and a rider coming later than forecast (`rider_s`, plus
`wait_share` of the wait). It is the later of the two tails minus the later of the two forecasts,
not their sum: a long bag costs nothing when the rider comes after it anyway, and a late rider
nothing while the bag is still being packed. `bundle_s` more when the shop has orders ahead.

`PromiseQuoted` is published when the quote moves by a minute or more, when a shop gains its
first rider or loses its last, and at least every `REQUOTE_EVERY`. Everything here is pure.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.dispatch.domain.eta import ready_at
from shared.vocabulary.geo import DETOUR, Point, speed_mps
from shared.vocabulary.promise import PickupChance, door_minutes

REQUOTE_EVERY = timedelta(minutes=10)
MEANINGFUL_S = 60.0  # a quote that moved less than a minute is not news


@dataclass(frozen=True)
class PromiseWeights:
    """The knobs of the forecast and the promise's slack (docs/dispatch.md, "The promise")."""

    horizon_s: float = 1800.0  # riders on shift now or starting within this count
    pickup_s: float = 60.0  # handover at the shop, once per trip
    door_s: float = 60.0  # handover at each door
    join_gap_s: float = 600.0  # an order ahead joins a trip leaving its shop within this of its bag
    shift_grace_s: float = 600.0  # a route may end at most this long after its rider's shift
    candidates: int = 8  # an order ahead is costed for the riders free soonest, not for all
    backlog_s: float = 4 * 3600.0  # orders ahead are not scheduled past riders this far off
    # The slack covers the two uncertain parts of max(bag packed, rider at the shop), each by its
    # upper tail, and only as far as it could move that max (docs/dispatch.md, "The promise"):
    picking_tail: float = 0.4  # a bag takes up to 1.5 times its estimate (0.6-1.5): cover up to +40 %
    rider_s: float = 180.0  # a rider comes this much later than forecast (taken by an older order, a round, an offer)
    wait_share: float = 0.1  # ... plus this share of the forecast wait for a rider beyond the bag
    bundle_s: float = 90.0  # on top, when the shop has orders ahead (the new one may be a later drop)
    slack_s: float = 0.0  # on top of every promise (the whole minutes already round up by about 1.5 min)


DEFAULT_PROMISE = PromiseWeights()


@dataclass(frozen=True)
class Courier:
    """A rider who may carry orders within the horizon: where and when they are next free, their shift."""

    rider_id: str
    vehicle: str
    position: Point
    capacity: int = 1
    free_at: datetime | None = None  # when the route in hand ends (None: free now)
    route_end: Point | None = None  # where it ends
    starts_at: datetime | None = None  # the shift's start, when later than now
    ends_at: datetime | None = None  # the shift's end (None: no shift known, on until they go offline)


@dataclass(frozen=True)
class Ahead:
    """An open order no rider has yet: it will take a rider before a new one does."""

    store_id: str
    pickup: Point
    drop: Point
    ready_at: datetime


@dataclass
class Free:
    """A rider in the forecast: free from `at_s` (seconds from now) at `place`, until `ends_s`."""

    rider_id: str
    vehicle: str
    place: Point
    at_s: float
    ends_s: float = math.inf  # the shift's end, seconds from now
    capacity: int = 1
    trip_store: str | None = None  # the shop of the last trip planned, while it has room
    trip_leaves_s: float = 0.0
    trip_orders: int = 0
    trip_last_drop: Point | None = None
    speed: float = field(init=False)

    def __post_init__(self) -> None:
        self.speed = speed_mps(self.vehicle)


@dataclass(frozen=True)
class LoadQuote:
    """What a shop could promise a new order now, in seconds from now (the event carries whole minutes)."""

    ready_s: float  # the bag packed: picking plus the shop's queue
    pickups: tuple[tuple[str, float], ...]  # per vehicle, the earliest a rider of it reaches the shop
    riders: int  # riders on shift now or within the horizon
    ahead: int  # open orders without a rider, across the circle
    slack_s: float

    @property
    def rider_to_shop_s(self) -> float | None:
        return min((s for _, s in self.pickups), default=None)

    @property
    def ready_minutes(self) -> int:
        return minutes_up(self.ready_s)

    @property
    def rider_to_shop_minutes(self) -> int | None:
        s = self.rider_to_shop_s
        return None if s is None else minutes_up(s)

    @property
    def slack_minutes(self) -> int:
        return minutes_up(self.slack_s)

    @property
    def chances(self) -> tuple[PickupChance, ...]:
        return tuple(PickupChance(v, minutes_up(s)) for v, s in self.pickups)

    def door_minutes(self, shop: Point, door: Point) -> int | None:
        """Minutes from now to the door, exactly as the checkout computes them from PromiseQuoted."""
        return door_minutes(self.ready_minutes, self.chances, self.slack_minutes, shop, door)


def minutes_up(seconds: float) -> int:
    return max(0, math.ceil(seconds / 60 - 1e-9))


def _secs(at: datetime | None, now: datetime) -> float:
    return 0.0 if at is None else (at - now).total_seconds()


def on_shift(c: Courier, now: datetime, w: PromiseWeights = DEFAULT_PROMISE) -> bool:
    """On shift now or starting within the horizon, and not already past the shift's end."""
    if c.ends_at is not None and c.ends_at <= now:
        return False
    return c.starts_at is None or _secs(c.starts_at, now) <= w.horizon_s


def _free(c: Courier, now: datetime) -> Free:
    at_s = max(0.0, _secs(c.free_at, now), _secs(c.starts_at, now))
    place = c.route_end if c.free_at is not None and c.free_at > now and c.route_end is not None else c.position
    ends = math.inf if c.ends_at is None else _secs(c.ends_at, now)
    return Free(c.rider_id, c.vehicle, place, at_s, ends, max(1, c.capacity))


_M_PER_RAD = 6_371_000.0 * DETOUR


def _street(a: Point, b: Point) -> float:
    """Street metres by the equirectangular approximation: within metres of the great circle at a
    neighbourhood's scale, a fraction of its cost (the forecast measures tens of thousands a round),
    and the rule dispatch's quoting query uses for every shop."""
    dlat = math.radians(b.lat - a.lat)
    dlon = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(dlat, dlon) * _M_PER_RAD


def _ride(a: Point, b: Point, speed: float) -> float:
    return _street(a, b) / speed


def _join(f: Free, o: Ahead, ready_s: float, w: PromiseWeights) -> float | None:
    """The door time if `o` joins the trip `f` last planned at its shop (same shop, room, bag ready by then)."""
    if f.trip_store != o.store_id or f.trip_orders >= f.capacity or f.trip_last_drop is None:
        return None
    if ready_s > f.trip_leaves_s + w.join_gap_s:
        return None
    door = f.at_s + _ride(f.trip_last_drop, o.drop, f.speed)  # f.at_s is after the last door's handover
    return door if door <= f.ends_s + w.shift_grace_s else None


def _send(f: Free, o: Ahead, ready_s: float, last_leg_m: float, w: PromiseWeights) -> tuple[float, float] | None:
    """(leaves the shop, at the door) if `f` sets off for `o` on a trip of its own, within the shift."""
    at_shop = f.at_s + _ride(f.place, o.pickup, f.speed)
    if max(at_shop, ready_s) > f.ends_s:
        return None  # no pickup after the shift's end
    leaves = max(at_shop, ready_s) + w.pickup_s
    door = leaves + last_leg_m / f.speed
    return (leaves, door) if door <= f.ends_s + w.shift_grace_s else None


def _best(
    crew: list[Free], o: Ahead, ready_s: float, joinable: set[int], sendable: list[int], w: PromiseWeights
) -> tuple[float, int, float | None] | None:
    """(door, crew index, leaves the shop; None: joins a trip) of the rider who brings `o` soonest."""
    best: tuple[float, int, float | None] | None = None
    last_leg_m = _street(o.pickup, o.drop)
    for i in joinable:
        joined = _join(crew[i], o, ready_s, w)
        if joined is not None and (best is None or joined < best[0]):
            best = (joined, i, None)
    for i in sendable:
        sent = _send(crew[i], o, ready_s, last_leg_m, w)
        if sent is not None and (best is None or sent[1] < best[0]):
            best = (sent[1], i, sent[0])
    return best


class Forecast:
    """The riders on shift within the horizon, as the orders ahead take them one by one (`add`).

    Each order goes to the rider, of the `candidates` free soonest or of those whose last trip
    leaves its shop with room, who brings it to its door first. Once even the earliest rider is
    `backlog_s` away, later orders are not scheduled: every quote is hours off already.
    """

    def __init__(self, couriers: Sequence[Courier], now: datetime, w: PromiseWeights = DEFAULT_PROMISE) -> None:
        self.now, self.w = now, w
        self.crew = [_free(c, now) for c in couriers if on_shift(c, now, w)]
        self._heap = [(f.at_s, i) for i, f in enumerate(self.crew)]
        heapq.heapify(self._heap)
        self._trips: dict[str, set[int]] = {}  # per shop, the riders whose last planned trip leaves it

    def add(self, o: Ahead) -> None:
        w, crew, heap = self.w, self.crew, self._heap
        if not heap or heap[0][0] > w.backlog_s:
            return
        ready_s = _secs(o.ready_at, self.now)
        picked: list[tuple[float, int]] = []
        while heap and len(picked) < w.candidates:
            at_s, i = heapq.heappop(heap)
            if at_s == crew[i].at_s:  # else stale: the rider took a trip since (its new entry is in the heap)
                picked.append((at_s, i))
        best = _best(crew, o, ready_s, self._trips.get(o.store_id, set()), [i for _, i in picked], w)
        for entry in picked:
            heapq.heappush(heap, entry)
        if best is None:
            return  # no rider can carry it in time: it keeps nobody busy (it will be late, or go to pickup)
        door, i, leaves = best
        f = crew[i]
        if leaves is None:
            f.trip_orders += 1
        else:
            if f.trip_store is not None:
                self._trips[f.trip_store].discard(i)
            f.trip_store, f.trip_leaves_s, f.trip_orders = o.store_id, leaves, 1
            self._trips.setdefault(o.store_id, set()).add(i)
        f.trip_last_drop, f.place, f.at_s = o.drop, o.drop, door + w.door_s
        heapq.heappush(heap, (f.at_s, i))  # its old entry goes stale

    def add_all(self, ahead: Sequence[Ahead]) -> Forecast:
        for o in sorted(ahead, key=lambda a: (a.ready_at, a.store_id)):
            self.add(o)
        return self


def forecast(
    couriers: Sequence[Courier], ahead: Sequence[Ahead], now: datetime, w: PromiseWeights = DEFAULT_PROMISE
) -> list[Free]:
    """Where and when each rider on shift within the horizon is free after carrying the orders ahead."""
    return Forecast(couriers, now, w).add_all(ahead).crew


def quote_shop(  # noqa: PLR0913 (the load, the shop and the history, each by name)
    store_id: str,
    shop: Point,
    ready_s: float,
    free: Sequence[Free],
    *,
    riders: int | None = None,
    ahead: int = 0,
    shop_ahead: int = 0,
    w: PromiseWeights = DEFAULT_PROMISE,
    history: PromiseHistory | None = None,
) -> LoadQuote:
    """A new order's quote at this shop: per vehicle the earliest rider there after the orders ahead
    (`ahead` of them, `shop_ahead` of this shop), and the slack for what the forecast cannot know.
    With a `history`, the slack is what this shop's recent misses in the load band say."""
    best: dict[str, float] = {}
    for f in free:
        at_shop = f.at_s + _ride(f.place, shop, f.speed)
        if max(at_shop, ready_s) > f.ends_s:
            continue  # the shift ends before the bag could be picked up
        if at_shop < best.get(f.vehicle, math.inf):
            best[f.vehicle] = at_shop
    n = len(free) if riders is None else riders
    return quote_from(ready_s, best, n, ahead, shop_ahead, w, store_id=store_id, history=history)


def quote_from(
    ready_s: float,
    pickups: dict[str, float],
    riders: int,
    ahead: int,
    shop_ahead: int = 0,
    w: PromiseWeights = DEFAULT_PROMISE,
    *,
    store_id: str = "",
    history: PromiseHistory | None = None,
) -> LoadQuote:
    """The quote from the earliest rider at the shop per vehicle (`quote_shop` finds them; dispatch's
    quoting finds them for every shop in one query, with the same rule). The slack is the history's
    for this shop and load band when it knows enough, else the rule's (`slack_for`)."""
    learnt = history.slack_s(store_id, load_band(ready_s, pickups)) if history is not None else None
    slack = max(0.0, learnt) if learnt is not None else slack_for(ready_s, pickups, shop_ahead, w)
    return LoadQuote(ready_s, tuple(sorted(pickups.items())), riders, ahead, slack)


def slack_for(
    ready_s: float, pickups: dict[str, float], shop_ahead: int = 0, w: PromiseWeights = DEFAULT_PROMISE
) -> float:
    """The slack on a quote: the late tail of max(bag packed, rider at the shop) beyond the forecast's max.

    The bag's tail is `picking_tail` of its time; the rider's is `rider_s` (plus `wait_share` of
    the wait). Picking running long costs nothing when the rider comes after the bag anyway, and
    a rider's delay nothing while the bag is still being packed: the slack is the later of the
    two tails minus the later of the two forecasts, not their sum."""
    ready = max(0.0, ready_s)
    at_shop = max(ready, min(pickups.values(), default=ready))  # the forecast's max(bag, rider)
    rider_at = min(pickups.values(), default=ready)
    wait = max(0.0, rider_at - ready)
    tail = max((1 + w.picking_tail) * ready, rider_at + w.rider_s + w.wait_share * wait)
    return max(0.0, tail - at_shop) + w.slack_s + (w.bundle_s if shop_ahead else 0.0)


# --- what the circle's history says -------------------------------------------------------------


def load_band(ready_s: float, pickups: dict[str, float]) -> int:
    """How far the forecast has the order wait for a rider beyond its bag: 0 a rider is there first
    (the bag decides), 1 up to 5 minutes, 2 up to 15, 3 beyond. The forecast's misses differ by band:
    a bag-bound order misses by its picking, a queued one by the order the riders really take."""
    wait = min(pickups.values(), default=ready_s) - max(0.0, ready_s)
    return 0 if wait <= 0 else 1 if wait < 300 else 2 if wait < 900 else 3


@dataclass
class PromiseHistory:
    """The forecast's misses on delivered orders, per shop and load band: what the dispatcher really did.

    A miss is the door's real time minus the forecast's door without slack (`PromiseParts.base_at`),
    in seconds. The slack of a new promise is the `level` quantile of the misses of the same shop and
    band (the last `window` of them), or of the band over all shops while the shop has fewer than
    `min_samples`, or None (the rule, `slack_for`, while the circle has too little history). Being
    the misses of the planner that carries the orders, it knows what the forecast cannot: how
    picking runs at this shop, how the riders bundle, how fast they really ride.
    """

    level: float = 0.96
    window: int = 300
    min_samples: int = 25
    _misses: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    _slack: dict[tuple[str, int], float | None] = field(default_factory=dict)  # read once a round per shop

    @classmethod
    def of(cls, misses: Sequence[tuple[str, int, float]], **kw: float) -> PromiseHistory:
        """A history from (shop, band, miss in seconds), oldest first (dispatch's delivered orders)."""
        history = cls(**kw)  # type: ignore[arg-type]
        for store_id, band, miss in misses:
            history.record(store_id, band, miss)
        return history

    def record(self, store_id: str, band: int, miss_s: float) -> None:
        self._slack.clear()
        for key in ((store_id, band), ("", band)):
            kept = self._misses.setdefault(key, [])
            kept.append(miss_s)
            if len(kept) > self.window:
                del kept[0]

    def slack_s(self, store_id: str, band: int) -> float | None:
        """The slack that would have kept `level` of the recent promises of this shop and band; None: too few."""
        own = self._quantile((store_id, band))
        return own if own is not None else self._quantile(("", band))

    def _quantile(self, key: tuple[str, int]) -> float | None:
        """The `level` quantile of one shop's (or, "", every shop's) misses in a band, kept until the next miss."""
        if key not in self._slack:
            kept = self._misses.get(key, ())
            ordered = sorted(kept) if len(kept) >= self.min_samples else None
            self._slack[key] = (
                ordered[min(len(ordered) - 1, max(0, math.ceil(self.level * len(ordered)) - 1))] if ordered else None
            )
        return self._slack[key]

    def samples(self, store_id: str = "", band: int | None = None) -> int:
        if band is None:
            return sum(len(v) for (s, _), v in self._misses.items() if s == store_id)
        return len(self._misses.get((store_id, band), ()))


def shop_ready_s(picking_minutes: int, queued: int, now: datetime) -> float:
    """Seconds until a bag ordered now would be packed: the same rule as a placed order's ready_at."""
    return (ready_at(now, picking_minutes, queued) - now).total_seconds()


@dataclass(frozen=True)
class PromiseParts:
    """A promise and what it is made of: the forecast's door without slack, and the load band."""

    promised_at: datetime
    base_at: datetime  # the same whole minutes with no slack: a miss is measured from here
    band: int
    from_history: bool  # the slack came from the history's quantile, not the rule


def promise_parts(  # noqa: PLR0913 (the load, the order and the history, each by name)
    *,
    store_id: str,
    shop: Point,
    door: Point,
    ready_at: datetime,
    couriers: Sequence[Courier],
    ahead: Sequence[Ahead],
    now: datetime,
    w: PromiseWeights = DEFAULT_PROMISE,
    history: PromiseHistory | None = None,
) -> PromiseParts | None:
    """`promise_for` with its parts (for the history, which measures each miss from the base)."""
    free = forecast(couriers, ahead, now, w)
    mine = sum(1 for a in ahead if a.store_id == store_id)
    quote = quote_shop(
        store_id, shop, _secs(ready_at, now), free, ahead=len(ahead), shop_ahead=mine, w=w, history=history
    )
    band = load_band(quote.ready_s, dict(quote.pickups))
    learnt = history is not None and history.slack_s(store_id, band) is not None
    base = door_minutes(quote.ready_minutes, quote.chances, 0, shop, door)
    if base is None:
        return None
    return PromiseParts(
        now + timedelta(minutes=base + quote.slack_minutes),
        now + timedelta(minutes=base),
        band,
        learnt,
    )


def promise_for(  # noqa: PLR0913 (the load, the order and the history, each by name)
    *,
    store_id: str,
    shop: Point,
    door: Point,
    ready_at: datetime,
    couriers: Sequence[Courier],
    ahead: Sequence[Ahead],
    now: datetime,
    w: PromiseWeights = DEFAULT_PROMISE,
    history: PromiseHistory | None = None,
) -> datetime | None:
    """The promise a new order from `shop` to `door` gets now: the whole path the checkout takes
    (forecast, the shop's quote in whole minutes, the last leg), in one pure call. None: no rider
    on shift within the horizon could carry it (the checkout then shows no delivery time). With a
    `history`, the slack is what the circle's recent misses of this shop and band say."""
    parts = promise_parts(
        store_id=store_id, shop=shop, door=door, ready_at=ready_at, couriers=couriers, ahead=ahead, now=now, w=w,
        history=history,
    )  # fmt: skip
    return None if parts is None else parts.promised_at


def should_requote(
    last: LoadQuote | None,
    last_at: datetime | None,
    new: LoadQuote,
    now: datetime,
    every: timedelta = REQUOTE_EVERY,
) -> bool:
    """Publish again when never published, when old, when riders come or go, or when a time moved a minute.

    Comparing seconds (not the rounded minutes) keeps a rider hovering at 4m59s/5m01s from re-quoting.
    """
    if last is None or last_at is None or now - last_at >= every:
        return True
    if (last.riders > 0) != (new.riders > 0):
        return True
    if (last.rider_to_shop_s is None) != (new.rider_to_shop_s is None):
        return True
    if abs(new.ready_s - last.ready_s) >= MEANINGFUL_S or abs(new.slack_s - last.slack_s) >= MEANINGFUL_S:
        return True
    before, after = dict(last.pickups), dict(new.pickups)
    if before.keys() != after.keys():
        return True
    return any(abs(after[v] - before[v]) >= MEANINGFUL_S for v in after)


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


@dataclass(frozen=True)
class PromiseMove:
    promised_at: datetime
    reason: str


PROMISE_TOLERANCE = timedelta(minutes=5)  # a promise the forecast misses by more than this moves


def adopt(
    quoted_at: datetime | None, forecast_at: datetime | None, now: datetime, tolerance: timedelta = PROMISE_TOLERANCE
) -> PromiseMove | None:
    """Dispatch keeps the promise the order was placed with, unless it cannot be kept by more than
    `tolerance` (the load rose between the quote and the order's arrival): then it moves, with why.
    With no quoted promise (no rider was free at checkout, or an older client) dispatch sets its own."""
    if quoted_at is None:
        if forecast_at is None:
            return None
        return PromiseMove(forecast_at, "no promise at checkout: dispatch's forecast when the order arrived")
    if forecast_at is not None and forecast_at - quoted_at > tolerance:
        late = math.ceil((forecast_at - quoted_at).total_seconds() / 60)
        return PromiseMove(forecast_at, f"more orders ahead than when it was quoted: {late} min later")
    return None
