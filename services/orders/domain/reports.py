"""Reports to look at: how the circle served its residents over a period, from what orders already keeps.

Every report counts the orders *placed* in the period (local dates of the neighbourhood, both
ends included), whatever became of them later, so that the same period always means the same
orders in every report and a report read twice gives the same numbers once those orders ended.
The arithmetic is here, without I/O: the adapter fetches one fact per order (or per line, or
per rating) and these functions count, bucket and take quantiles. Each report answers JSON for
the console's charts and one flat table for its CSV export.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shared.errors import Invalid

MAX_DAYS = 92  # a quarter: longer periods are asked for quarter by quarter
DEFAULT_DAYS = 7
MODES = ("delivery", "pickup", "locker")
# Where the order is at the shopper's disposal, by fulfilment mode: its "door".
DOOR = {"delivery": "delivered", "locker": "in_locker", "pickup": "ready"}
ALL = "*"  # the row of a table that sums every shop


# ------------------------------------------------------------------ the period


@dataclass(frozen=True)
class Period:
    """Local dates `start`..`end`, both included, in the neighbourhood's timezone."""

    start: date
    end: date
    timezone: str

    @classmethod
    def parse(cls, from_: str | None, to: str | None, timezone: str, today: date) -> Period:
        """From the query's `from` and `to` (YYYY-MM-DD); missing ends default to the last seven days to today."""
        end = _date("to", to) if to else None
        start = _date("from", from_) if from_ else None
        if end is None:
            end = max(today, start) if start else today
        if start is None:
            start = end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            raise Invalid(f"from {start} is after to {end}: give the period's first day, then its last")
        days = (end - start).days + 1
        if days > MAX_DAYS:
            raise Invalid(f"a period of {days} days is too long: ask for at most {MAX_DAYS} days at a time")
        return cls(start, end, timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def bounds(self) -> tuple[datetime, datetime]:
        """The instants [first day's local midnight, the day after the last one's local midnight)."""
        return (
            datetime.combine(self.start, time.min, tzinfo=self.zone),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=self.zone),
        )

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "timezone": self.timezone}


def local_date(at: datetime, timezone: str) -> date:
    """The neighbourhood's date at an instant."""
    return at.astimezone(ZoneInfo(timezone)).date()


def _date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name}: {value!r} is not a date; give it as YYYY-MM-DD, e.g. 2026-12-01") from None


# ------------------------------------------------------------------ the facts the adapter fetches


@dataclass(frozen=True)
class OrderFact:
    """One order placed in the period, with the moments of its timeline the reports need (UTC)."""

    order_id: str
    store_id: str
    mode: str
    status: str
    placed_at: datetime
    accepted_at: datetime | None = None
    door_at: datetime | None = None  # delivered, in the locker, or ready at the counter (DOOR)
    failed_at: datetime | None = None  # a delivery that failed at the door
    promised_at: datetime | None = None  # the promise as it last stood (or the chosen slot's end)
    first_promised_at: datetime | None = None  # the first promise the shopper was given
    by_helper: bool = False
    for_resident: bool = False  # ordered for a resident a helper registered
    call_before: bool = False


@dataclass(frozen=True)
class LineFact:
    """One order line of an order placed in the period, and what picking made of it."""

    order_id: str
    store_id: str
    location_id: str
    product_id: str
    name_zh: str
    name_en: str
    quantity: int  # pieces ordered
    estimated_fen: int
    status: str
    substitute_declined: bool = False


@dataclass(frozen=True)
class RatingFact:
    store_id: str
    shop_stars: int | None
    rider_stars: int | None


@dataclass(frozen=True)
class Table:
    """A report as one flat table: the CSV export."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


# ------------------------------------------------------------------ arithmetic


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile with linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def minutes(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def share(part: int, whole: int) -> float | None:
    """A percentage to one decimal; None when there is nothing to share."""
    return round(100 * part / whole, 1) if whole else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# ------------------------------------------------------------------ orders per hour and per day


@dataclass(frozen=True)
class Volume:
    total: int
    by_day: list[tuple[date, int]]
    by_hour: list[int]  # 24 local hours of the day, summed over the period
    by_store: dict[str, int]
    by_mode: dict[str, int]
    table: Table

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_day": [{"date": d.isoformat(), "orders": n} for d, n in self.by_day],
            "by_hour": [{"hour": h, "orders": n} for h, n in enumerate(self.by_hour)],
            "by_store": [{"store_id": s, "orders": n} for s, n in self.by_store.items()],
            "by_mode": [{"mode": m, "orders": n} for m, n in self.by_mode.items()],
        }


def volume(period: Period, facts: Iterable[OrderFact]) -> Volume:
    """Orders placed, bucketed by local day and hour, by shop and by fulfilment mode."""
    cells: Counter[tuple[date, int, str, str]] = Counter()
    for f in facts:
        local = period.local(f.placed_at)
        cells[(local.date(), local.hour, f.store_id, f.mode)] += 1
    per_day: Counter[date] = Counter()
    per_hour: Counter[int] = Counter()
    per_store: Counter[str] = Counter()
    per_mode: Counter[str] = Counter()
    for (day, hour, store, mode), n in cells.items():
        per_day[day] += n
        per_hour[hour] += n
        per_store[store] += n
        per_mode[mode] += n
    rows = [(d.isoformat(), h, s, m, n) for (d, h, s, m), n in sorted(cells.items())]
    return Volume(
        total=sum(cells.values()),
        by_day=[(d, per_day[d]) for d in period.days()],
        by_hour=[per_hour[h] for h in range(24)],
        by_store=dict(sorted(per_store.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_mode={m: per_mode[m] for m in (*MODES, *sorted(set(per_mode) - set(MODES)))},
        table=Table(("date", "hour", "store_id", "mode", "orders"), rows),
    )


# ------------------------------------------------------------------ on time against the promise


@dataclass
class OnTimeCount:
    arrived: int = 0  # reached the door (or the locker) with a promise to judge against
    on_time: int = 0
    late: int = 0
    on_time_first_promise: int = 0  # against the first promise the shopper was given
    failed: int = 0  # the delivery failed at the door
    no_promise: int = 0  # arrived, but no promise was ever given
    late_minutes: list[float] = field(default_factory=list)

    def add(self, f: OrderFact) -> None:
        if f.failed_at is not None:
            self.failed += 1
            return
        if f.door_at is None:
            return
        if f.promised_at is None:
            self.no_promise += 1
            return
        self.arrived += 1
        if f.door_at <= f.promised_at:
            self.on_time += 1
        else:
            self.late += 1
            self.late_minutes.append(minutes(f.promised_at, f.door_at))
        first = f.first_promised_at or f.promised_at
        if f.door_at <= first:
            self.on_time_first_promise += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "arrived": self.arrived,
            "on_time": self.on_time,
            "late": self.late,
            "on_time_pct": share(self.on_time, self.arrived),
            "on_time_first_promise": self.on_time_first_promise,
            "on_time_first_promise_pct": share(self.on_time_first_promise, self.arrived),
            "failed": self.failed,
            "no_promise": self.no_promise,
            "late_median_min": _round(quantile(self.late_minutes, 0.5)),
            "late_p90_min": _round(quantile(self.late_minutes, 0.9)),
        }


@dataclass(frozen=True)
class OnTime:
    total: OnTimeCount
    by_day: list[tuple[date, OnTimeCount]]
    by_store: dict[str, OnTimeCount]
    table: Table

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.total.as_dict(),
            "by_day": [{"date": d.isoformat(), **c.as_dict()} for d, c in self.by_day],
            "by_store": [{"store_id": s, **c.as_dict()} for s, c in self.by_store.items()],
        }


CARRIED = ("delivery", "locker")


def on_time(period: Period, facts: Iterable[OrderFact]) -> OnTime:
    """Carried orders (to the door, or to a locker) that arrived, against the promise as it last stood.

    A promise dispatch moved later (with its reason on the timeline) is the one kept or broken; the
    first promise is counted beside it, so that moving promises cannot hide lateness.
    """
    total = OnTimeCount()
    days: dict[date, OnTimeCount] = {d: OnTimeCount() for d in period.days()}
    stores: dict[str, OnTimeCount] = defaultdict(OnTimeCount)
    cells: dict[tuple[date, str, str], OnTimeCount] = defaultdict(OnTimeCount)
    for f in facts:
        if f.mode not in CARRIED:
            continue
        day = period.local(f.placed_at).date()
        for count in (total, days.setdefault(day, OnTimeCount()), stores[f.store_id], cells[(day, f.store_id, f.mode)]):
            count.add(f)
    columns: tuple[str, ...] = ("date", "store_id", "mode", "arrived", "on_time", "late", "on_time_first_promise")
    columns += ("failed", "no_promise")
    rows = [
        (d.isoformat(), s, m, c.arrived, c.on_time, c.late, c.on_time_first_promise, c.failed, c.no_promise)
        for (d, s, m), c in sorted(cells.items())
    ]
    return OnTime(total, sorted(days.items()), dict(sorted(stores.items())), Table(columns, rows))


# ------------------------------------------------------------------ time to acceptance and to the door


@dataclass
class Durations:
    minutes: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": len(self.minutes),
            "median_min": _round(quantile(self.minutes, 0.5)),
            "p90_min": _round(quantile(self.minutes, 0.9)),
        }


MEASURES = ("to_acceptance", "to_door")


@dataclass(frozen=True)
class Timings:
    """Placing to the shop's acceptance, and placing to the door (DOOR: delivered, in the locker, ready)."""

    by_mode: dict[str, dict[str, Durations]]  # mode (or ALL) -> measure -> durations
    table: Table
    door_shown: bool = True

    def as_dict(self) -> dict[str, Any]:
        measures = MEASURES if self.door_shown else MEASURES[:1]
        return {
            "door": DOOR,
            "by_mode": [{"mode": mode, **{m: d[m].as_dict() for m in measures}} for mode, d in self.by_mode.items()],
        }


def timings(facts: Iterable[OrderFact], *, door: bool = True) -> Timings:
    """Median and 90th percentile, per fulfilment mode and per shop; `door` False leaves the rider's side out."""
    cells: dict[tuple[str, str], dict[str, Durations]] = defaultdict(lambda: {m: Durations() for m in MEASURES})
    for f in facts:
        for key in ((f.mode, ALL), (f.mode, f.store_id), (ALL, ALL), (ALL, f.store_id)):
            d = cells[key]
            if f.accepted_at is not None:
                d["to_acceptance"].minutes.append(minutes(f.placed_at, f.accepted_at))
            if f.door_at is not None:
                d["to_door"].minutes.append(minutes(f.placed_at, f.door_at))
    by_mode = {mode: cells[(mode, ALL)] for mode in (ALL, *MODES) if (mode, ALL) in cells}
    measures = MEASURES if door else MEASURES[:1]
    rows = []
    every_shop_first = sorted(cells.items(), key=lambda kv: (kv[0][1] != ALL, kv[0][1], kv[0][0] != ALL, kv[0][0]))
    for (mode, store), d in every_shop_first:
        for m in measures:
            a = d[m].as_dict()
            rows.append((store, mode, m, a["orders"], a["median_min"], a["p90_min"]))
    return Timings(by_mode, Table(("store_id", "mode", "measure", "orders", "median_min", "p90_min"), rows), door)


# ------------------------------------------------------------------ fill rate


LINE_OUTCOMES = ("picked", "substituted", "out_of_stock", "substitute_declined", "refused")


def line_outcome(f: LineFact) -> str | None:
    """What picking made of a line; None while it is not settled (reserved, waiting for an answer)."""
    if f.status in ("picked", "substituted", "out_of_stock"):
        return f.status
    if f.status == "refunded":
        return "substitute_declined" if f.substitute_declined else "refused"  # else its stall refused its part
    return None


@dataclass
class FillCount:
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def lines(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        n = self.lines
        return {
            "lines": n,
            **{o: self.counts[o] for o in LINE_OUTCOMES},
            "picked_pct": share(self.counts["picked"], n),
            "filled_pct": share(self.counts["picked"] + self.counts["substituted"], n),
        }


@dataclass(frozen=True)
class FillRate:
    total: FillCount
    by_location: dict[tuple[str, str], FillCount]  # (store, the line's shop or stall)
    table: Table

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.total.as_dict(),
            "by_location": [
                {"store_id": s, "location_id": loc, **c.as_dict()} for (s, loc), c in self.by_location.items()
            ],
        }


def fill_rate(lines: Iterable[LineFact]) -> FillRate:
    """Settled lines: picked as ordered, substituted, out of stock, substitute declined, or refused by the stall."""
    total = FillCount()
    cells: dict[tuple[str, str], FillCount] = defaultdict(FillCount)
    for f in lines:
        outcome = line_outcome(f)
        if outcome is None:
            continue
        total.counts[outcome] += 1
        cells[(f.store_id, f.location_id)].counts[outcome] += 1
    by_location = dict(sorted(cells.items()))
    columns = ("store_id", "location_id", "lines", *LINE_OUTCOMES, "picked_pct", "filled_pct")
    rows = []
    for (s, loc), c in by_location.items():
        a = c.as_dict()
        rows.append((s, loc, a["lines"], *(a[o] for o in LINE_OUTCOMES), a["picked_pct"], a["filled_pct"]))
    return FillRate(total, by_location, Table(columns, rows))


# ------------------------------------------------------------------ ratings


@dataclass
class StarCount:
    stars: Counter[int] = field(default_factory=Counter)

    def add(self, value: int | None) -> None:
        if value is not None:
            self.stars[value] += 1

    @property
    def count(self) -> int:
        return sum(self.stars.values())

    @property
    def average(self) -> float | None:
        n = self.count
        return round(sum(s * k for s, k in self.stars.items()) / n, 2) if n else None

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "average": self.average, "stars": {str(s): self.stars[s] for s in range(1, 6)}}


@dataclass
class StoreStars:
    ratings: int = 0
    shop: StarCount = field(default_factory=StarCount)
    rider: StarCount = field(default_factory=StarCount)

    def add(self, f: RatingFact) -> None:
        self.ratings += 1
        self.shop.add(f.shop_stars)
        self.rider.add(f.rider_stars)

    def as_dict(self, rider: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"ratings": self.ratings, "shop": self.shop.as_dict()}
        if rider:
            data["rider"] = self.rider.as_dict()
        return data


@dataclass(frozen=True)
class Ratings:
    total: StoreStars
    by_store: dict[str, StoreStars]
    table: Table
    rider_shown: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.total.as_dict(self.rider_shown),
            "by_store": [{"store_id": s, **c.as_dict(self.rider_shown)} for s, c in self.by_store.items()],
        }


def ratings(facts: Iterable[RatingFact], *, rider: bool = True) -> Ratings:
    """Stars given to the shop and to the rider, 1 to 5; a rating may give either or both.

    `rider` False leaves the riders' stars out (a shop's staff see the shop's own)."""
    total = StoreStars()
    stores: dict[str, StoreStars] = defaultdict(StoreStars)
    for f in facts:
        total.add(f)
        stores[f.store_id].add(f)
    by_store = dict(sorted(stores.items()))
    columns: tuple[str, ...] = ("store_id", "ratings", "shop_ratings", "shop_average")
    columns += tuple(f"shop_{k}" for k in range(1, 6))
    if rider:
        columns += ("rider_ratings", "rider_average")
    rows = []
    for s, c in by_store.items():
        row: tuple[Any, ...] = (s, c.ratings, c.shop.count, c.shop.average, *(c.shop.stars[k] for k in range(1, 6)))
        rows.append(row + ((c.rider.count, c.rider.average) if rider else ()))
    return Ratings(total, by_store, Table(columns, rows), rider)


# ------------------------------------------------------------------ helpers and call before delivery


@dataclass
class CareCount:
    orders: int = 0
    by_helper: int = 0  # placed by a helper for someone they help
    for_residents: int = 0  # of those, for a resident the helper registered
    deliveries: int = 0  # delivery orders (to the door)
    call_before: int = 0  # of those, flagged "call before delivery"
    call_before_delivered: int = 0

    def add(self, f: OrderFact) -> None:
        self.orders += 1
        if f.by_helper:
            self.by_helper += 1
            self.for_residents += f.for_resident
        if f.mode == "delivery":
            self.deliveries += 1
            if f.call_before:
                self.call_before += 1
                self.call_before_delivered += f.door_at is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "by_helper": self.by_helper,
            "by_helper_pct": share(self.by_helper, self.orders),
            "for_residents": self.for_residents,
            "deliveries": self.deliveries,
            "call_before": self.call_before,
            "call_before_pct": share(self.call_before, self.deliveries),
            "call_before_delivered": self.call_before_delivered,
        }

    def row(self) -> tuple[int, ...]:
        return (
            self.orders,
            self.by_helper,
            self.for_residents,
            self.deliveries,
            self.call_before,
            self.call_before_delivered,
        )


@dataclass(frozen=True)
class Care:
    total: CareCount
    by_day: list[tuple[date, CareCount]]
    table: Table

    def as_dict(self) -> dict[str, Any]:
        return {**self.total.as_dict(), "by_day": [{"date": d.isoformat(), **c.as_dict()} for d, c in self.by_day]}


def care(period: Period, facts: Iterable[OrderFact]) -> Care:
    """Orders helpers placed for those they help, and deliveries flagged "call before delivery", per day."""
    total = CareCount()
    days: dict[date, CareCount] = {d: CareCount() for d in period.days()}
    for f in facts:
        total.add(f)
        days.setdefault(period.local(f.placed_at).date(), CareCount()).add(f)
    columns = ("date", "orders", "by_helper", "for_residents", "deliveries", "call_before", "call_before_delivered")
    by_day = sorted(days.items())
    return Care(total, by_day, Table(columns, [(d.isoformat(), *c.row()) for d, c in by_day]))


# ------------------------------------------------------------------ busiest products


@dataclass
class ProductCount:
    product_id: str
    name_zh: str
    name_en: str
    store_id: str
    location_id: str
    orders: set[str] = field(default_factory=set)
    pieces: int = 0
    estimated_fen: int = 0
    out_of_stock: int = 0  # lines of it the shop could not pick (out of stock, substituted or declined)

    def as_dict(self, rank: int) -> dict[str, Any]:
        return {
            "rank": rank,
            "product_id": self.product_id,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "store_id": self.store_id,
            "location_id": self.location_id,
            "orders": len(self.orders),
            "pieces": self.pieces,
            "estimated_fen": self.estimated_fen,
            "short": self.out_of_stock,
        }


@dataclass(frozen=True)
class Products:
    products: list[ProductCount]
    table: Table

    def as_dict(self) -> dict[str, Any]:
        return {"products": [p.as_dict(n) for n, p in enumerate(self.products, start=1)]}


def busiest_products(lines: Iterable[LineFact], limit: int) -> Products:
    """Products by the orders that asked for them, then pieces; the name is the latest order's."""
    found: dict[str, ProductCount] = {}
    for f in lines:
        p = found.get(f.product_id)
        if p is None:
            p = found[f.product_id] = ProductCount(f.product_id, f.name_zh, f.name_en, f.store_id, f.location_id)
        p.name_zh, p.name_en = f.name_zh, f.name_en
        p.orders.add(f.order_id)
        p.pieces += f.quantity
        p.estimated_fen += f.estimated_fen
        p.out_of_stock += line_outcome(f) in ("substituted", "out_of_stock", "substitute_declined")
    ranked = sorted(found.values(), key=lambda p: (-len(p.orders), -p.pieces, p.product_id))[:limit]
    columns: tuple[str, ...] = ("rank", "product_id", "name_zh", "name_en", "store_id", "location_id")
    columns += ("orders", "pieces", "estimated_fen", "short")
    rows = [tuple(p.as_dict(n).values()) for n, p in enumerate(ranked, start=1)]
    return Products(ranked, Table(columns, rows))
