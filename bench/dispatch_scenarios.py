"""`make bench-dispatch`: a family of delivery days, each over many seeds, both policies on the same days.

A benchmark that cannot be tuned to one day: every scenario is a different shape of day built
from a seed (demand, shops, riders, shifts, preparation, travel), dispatched by `plan`
(services/dispatch/domain/assignment.py) and by its baseline `nearest_available` on exactly the
same orders, packing times and riders. For each scenario it reports, per policy, the mean and
p90 placed -> door (an undelivered order counted at 90 minutes), % late against the promise, %
undelivered, orders per rider-hour and per trip, and the round time; and the per-seed paired
difference plan - nearest with its 95 % interval (Student's t over the seeds).

The promise is the load-aware one of `promises.py` (`assignment.promise` where it gives none; the
JSON says which rule gave how many promises). By default (`--promise history`) its slack comes
from dispatch's history (`PromiseHistory`): yesterday, the scenario's day of seed + 10,000
dispatched by plan while learning its misses; both policies are then measured against promises
made with that history, each from its own simulated load. `--promise load` is the rule's slack
alone (what the service quotes while its history is too thin).

It also times one round at scale: 2,000 open orders and 500 riders, and a neighbourhood round.

    python -m bench.dispatch_scenarios                    # every scenario, 10 seeds, JSON + PNG
    python -m bench.dispatch_scenarios --seeds 3 --only balanced --only under_staffed
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.dispatch_day import (
    CENTRE,
    DAY,
    DEFAULT_FLEET,
    Day,
    DayOrder,
    RiderSpec,
    Shop,
    _in_disc,
    default_shops,
    offset,
    simulate,
)
from bench.place_orders import _git_commit
from services.dispatch.domain.assignment import OpenOrder, RiderView, nearest_available, plan
from services.dispatch.domain.promises import PromiseHistory

RESULTS_DIR = Path(__file__).resolve().parent / "results"
FIRST_HOUR, LAST_HOUR = 10, 15  # a five-hour day, lunch in the middle
ORDERS = 170  # orders in a balanced day
RIDERS = 9  # riders on shift all day in a balanced day
ROUND_S = 15.0
# "history": the load-aware promise with its slack learnt from the day's delivered orders, per shop
# and load band (PromiseHistory; the rule's slack until a band has history); "load": the rule alone.
PROMISE_MODE = "history"
YESTERDAY = 10_000  # the history's day is the scenario's day of seed + this (never one of the measured days)


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    claim: str  # "beat": riders scarce or bundling possible; "no_worse": upper end of the interval <= +0.5 min
    riders: float = 1.0  # share of the balanced day's rider-hours
    spread_m: float | None = None  # riders start anywhere within this of the centre (None: at a shop)
    prep: float = 1.0  # preparation x this
    speed: float = 1.0  # real travel speed x this (dispatch plans with its model)
    lunch: bool = False  # 45 % of the orders 11:30-12:30
    shifts: bool = False  # shifts starting and ending through the day
    market: bool = False  # a market of many stalls plus shops within 300 m


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("balanced", "the balanced day", "no_worse"),
    Scenario("under_staffed", "60 % of the balanced day's rider-hours", "beat", riders=0.6),
    Scenario("spread_out", "riders start anywhere within 3 km", "no_worse", spread_m=3000),
    Scenario("prep_x1.25", "preparation takes 25 % longer", "no_worse", prep=1.25),
    Scenario("prep_x0.75", "preparation takes 25 % less", "no_worse", prep=0.75),
    Scenario("fast_travel", "travel 25 % faster than dispatch's model", "no_worse", speed=1.25),
    Scenario("lunch_spike", "45 % of the orders in one lunch hour", "beat", lunch=True),
    Scenario("shifts", "staggered shifts start and end through the day", "no_worse", shifts=True),
    Scenario("market", "a market of 8 stalls plus 3 shops within 300 m: 70 % of orders", "beat", market=True),
)


def _market_shops() -> list[Shop]:
    """A wet market's stalls (one store, pickups 30-120 m apart) and three shops within 300 m of it."""
    base = default_shops()
    market = next(s for s in base if s.shop_id == "xiaoshi-market").point
    stalls = [
        Shop(
            f"stall-{i}",
            "market stall",
            offset(market, 40 * math.cos(i), 40 * math.sin(i) + 10 * i),
            6.0,
            ((0, 24),),
            0.7 / 8,
        )
        for i in range(8)
    ]
    near = [
        Shop("near-bakery", "bakery 150 m away", offset(market, 150, 0), 4.0, ((0, 24),), 0.1),
        Shop("near-butcher", "butcher 220 m away", offset(market, -100, 190), 8.0, ((0, 24),), 0.1),
        Shop("near-tea", "tea shop 260 m away", offset(market, 0, -250), 3.0, ((0, 24),), 0.1),
    ]
    return stalls + near


def make_scenario_day(sc: Scenario, seed: int) -> Day:
    """One scenario's day from one seed: the same RNG stream for everything but the scenario's knobs."""
    rng = random.Random(seed * 1000 + 7)
    shops = _market_shops() if sc.market else [replace(s, hours=((0, 24),)) for s in default_shops()]
    homes = [_in_disc(rng, CENTRE, 1500) for _ in range(300)]
    span = (LAST_HOUR - FIRST_HOUR) * 3600.0
    placed: list[float] = []
    for _ in range(ORDERS):
        if sc.lunch and rng.random() < 0.45:
            placed.append(1.5 * 3600 + rng.uniform(0, 3600))  # 11:30-12:30
        else:
            placed.append(rng.uniform(0, span))
    placed.sort()
    orders = []
    for n, t in enumerate(placed):
        shop = rng.choices(shops, [s.share for s in shops])[0]
        store = "xiaoshi-market" if shop.shop_id.startswith("stall-") else shop.shop_id
        accepted = t + rng.uniform(20, 120)
        mean = shop.pick_min * 60 * sc.prep
        est = accepted + mean
        packed = accepted + mean * rng.uniform(0.6, 1.5)
        bags = rng.choices((1, 2, 3), (0.6, 0.3, 0.1))[0]
        grams = int(bags * rng.uniform(800, 3500))
        orders.append(
            DayOrder(f"o{n:04d}", store, shop.point, rng.choice(homes), t, accepted, est, packed, bags, grams)
        )
    riders = _riders(sc, rng, shops)
    start = DAY.replace(hour=FIRST_HOUR)
    return Day(seed, start, span / 3600, tuple(shops), tuple(orders), tuple(riders), len(homes), sc.speed)


def _riders(sc: Scenario, rng: random.Random, shops: list[Shop]) -> list[RiderSpec]:
    span = (LAST_HOUR - FIRST_HOUR) * 3600.0
    hours = RIDERS * span * sc.riders  # rider-seconds on shift
    out: list[RiderSpec] = []

    def where() -> Any:
        return _in_disc(rng, CENTRE, sc.spread_m) if sc.spread_m else rng.choice(shops).point

    if sc.shifts:  # 2.5-hour shifts starting and ending through the day, about RIDERS on at any time
        length = 2.5 * 3600
        n = max(1, round(hours / length))
        for i in range(n):
            on = max(0.0, span * i / n - length / 2 + rng.uniform(-600, 600))
            off = min(span + 30 * 60, on + length)
            vehicle, cap = DEFAULT_FLEET[i % len(DEFAULT_FLEET)]
            out.append(RiderSpec(f"r{i + 1:02d}", vehicle, cap, where(), on, off))
        return out
    full, part = divmod(hours, span)  # riders all day, and one for the rest of the rider-hours
    for i in range(int(full)):
        vehicle, cap = DEFAULT_FLEET[i % len(DEFAULT_FLEET)]
        out.append(RiderSpec(f"r{i + 1:02d}", vehicle, cap, where(), 0.0, span + 30 * 60))
    if part >= 600:  # e.g. 60 % of 9 riders: 5 all day and one for 0.4 of it, in the middle
        vehicle, cap = DEFAULT_FLEET[int(full) % len(DEFAULT_FLEET)]
        on = (span - part) / 2
        out.append(RiderSpec(f"r{int(full) + 1:02d}", vehicle, cap, where(), on, on + part))
    return out


# --- one seed, both policies ----------------------------------------------------------------------


def _policy(name: str) -> Callable[..., Any]:
    return plan if name == "plan" else nearest_available


def run_seed(args: tuple[str, int] | tuple[str, int, str]) -> dict[str, Any]:
    name, seed = args[0], args[1]
    mode = args[2] if len(args) > 2 else PROMISE_MODE
    sc = next(s for s in SCENARIOS if s.name == name)
    day = make_scenario_day(sc, seed)
    out: dict[str, Any] = {"scenario": name, "seed": seed, "promise_mode": mode}
    history = None
    if mode == "history":
        # Dispatch's history: yesterday, a day of the same kind (another seed) dispatched by the
        # planner, which dispatch runs; both policies are measured against the promises made with it.
        history = PromiseHistory()
        simulate(make_scenario_day(sc, seed + YESTERDAY), plan, round_s=ROUND_S, promise_mode=mode, history=history)
        out["history_misses"] = history.samples()
    for policy in ("plan", "nearest"):
        f = simulate(day, _policy(policy), round_s=ROUND_S, promise_mode=mode, history=history, learn=False)
        out[policy] = {
            "mean_min": f["placed_to_door_counted_min"]["mean"],
            "p90_min": f["placed_to_door_counted_min"]["p90"],
            "late_pct": round(100 * f["late_share"], 2),
            "undelivered_pct": round(100 * f["undelivered_share"], 2),
            "orders_per_rider_hour": f["riders"]["orders_per_rider_hour"],
            "orders_per_trip": f["trips"]["orders_per_trip"],
            "round_ms_p50": f["rounds"]["plan_ms"]["p50"],
            "round_ms_max": f["rounds"]["plan_ms"]["max"],
            "promise_rule": f["promise_rule"],
            "median_promise_min": f["promised_min"]["p50"],
            "median_to_door_min": f["order_to_door_min"]["p50"],
            "delivered_within_promise_pct": round(100 * (f["delivered_within_promise"] or 0.0), 2),
        }
    return out


# --- statistics -----------------------------------------------------------------------------------

# Student's t, two-sided 95 %, by degrees of freedom (beyond 30: the normal's 1.96).
_T95 = {
    1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
    11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
    20: 2.086, 21: 2.080, 22: 2.074, 23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048,
    29: 2.045, 30: 2.042,
}  # fmt: skip


def paired(diffs: list[float]) -> dict[str, float | int | None]:
    """Mean of the per-seed differences and its 95 % interval."""
    n = len(diffs)
    if n == 0:
        return {"n": 0, "mean": None, "low": None, "high": None}
    mean = statistics.fmean(diffs)
    if n == 1:
        return {"n": 1, "mean": round(mean, 2), "low": None, "high": None}
    half = _T95.get(n - 1, 1.96) * statistics.stdev(diffs) / math.sqrt(n)
    return {"n": n, "mean": round(mean, 2), "low": round(mean - half, 2), "high": round(mean + half, 2)}


METRICS = ("mean_min", "p90_min", "late_pct", "undelivered_pct", "orders_per_rider_hour", "orders_per_trip")
PROMISE = ("median_promise_min", "median_to_door_min", "delivered_within_promise_pct")


def summarise(sc: Scenario, seeds: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"what": sc.what, "claim": sc.claim, "seeds": len(seeds)}
    for policy in ("plan", "nearest"):
        out[policy] = {
            m: round(statistics.fmean(s[policy][m] for s in seeds if s[policy][m] is not None), 2) for m in METRICS
        }
        for m in PROMISE:
            vals = [s[policy][m] for s in seeds if s[policy][m] is not None]
            out[policy][m] = round(statistics.fmean(vals), 2) if vals else None
        ms = [s[policy]["round_ms_p50"] for s in seeds if s[policy]["round_ms_p50"] is not None]
        out[policy]["round_ms_p50"] = round(statistics.median(ms), 2) if ms else None
        out[policy]["round_ms_max"] = max((s[policy]["round_ms_max"] or 0.0) for s in seeds)
    out["plan_minus_nearest"] = {m: paired([s["plan"][m] - s["nearest"][m] for s in seeds]) for m in METRICS}
    d = out["plan_minus_nearest"]
    if sc.claim == "beat":
        met = all(d[m]["high"] is not None and d[m]["high"] < 0 for m in ("mean_min", "late_pct"))
        out["verdict"] = "beats (both intervals below 0)" if met else "does NOT beat on both yet"
    else:
        met = d["mean_min"]["high"] is not None and d["mean_min"]["high"] <= 0.5
        out["verdict"] = "no worse (upper end <= +0.5 min)" if met else "WORSE than allowed"
    out["claim_met"] = met
    rules: dict[str, int] = {}
    for s in seeds:
        for policy in ("plan", "nearest"):
            for k, v in s[policy]["promise_rule"].items():
                rules[k] = rules.get(k, 0) + v
    out["promise_rule"] = rules
    return out


# --- round time at scale --------------------------------------------------------------------------


def scale_round(
    orders: int = 2000, riders: int = 500, shops: int = 120, repeat: int = 5, seed: int = 1
) -> dict[str, Any]:
    """One round of `plan` over `orders` open orders of `shops` shops and `riders` riders on a 4 km disc."""
    rng = random.Random(seed)
    now = DAY.replace(hour=18)
    points = [_in_disc(rng, CENTRE, 4000) for _ in range(shops)]
    open_orders = []
    for i in range(orders):
        s = rng.randrange(shops)
        open_orders.append(
            OpenOrder(
                f"o{i}",
                f"s{s}",
                points[s],
                _in_disc(rng, points[s], 1500),
                now + timedelta(seconds=rng.uniform(-120, 600)),
                now + timedelta(minutes=rng.uniform(15, 40)),
            )
        )
    crew = [
        RiderView(f"r{i}", v, _in_disc(rng, CENTRE, 4000), c)
        for i, (v, c) in enumerate(DEFAULT_FLEET[i % len(DEFAULT_FLEET)] for i in range(riders))
    ]
    plan(open_orders, crew, now)  # warm up
    wall, cpu = [], []
    result = None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = plan(open_orders, crew, now)
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    assert result is not None
    return {
        "orders": orders,
        "riders": riders,
        "shops": shops,
        "repeat": repeat,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "wall_ms_median": round(statistics.median(wall), 1),
        "wall_ms_min": round(min(wall), 1),
        "cpu_ms_median": round(statistics.median(cpu), 1),
        "cpu_ms_min": round(min(cpu), 1),  # the least disturbed by other work on a shared machine
        "proposals": len(result.proposals),
        "orders_proposed": sum(len(p.order_ids) for p in result.proposals),
        "held": len(result.holds),
    }


# --- the chart ------------------------------------------------------------------------------------


def chart(summary: dict[str, Any], path: Path) -> None:
    """Per scenario: mean placed->door and % late for both policies, and the paired difference with its interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    fig, axes = plt.subplots(1, 3, figsize=(16, 5.5))
    x = range(len(names))
    for ax, metric, label in ((axes[0], "mean_min", "mean placed->door (min)"), (axes[1], "late_pct", "% late")):
        ax.bar([i - 0.2 for i in x], [summary[n]["plan"][metric] for n in names], 0.4, label="plan")
        ax.bar([i + 0.2 for i in x], [summary[n]["nearest"][metric] for n in names], 0.4, label="nearest")
        ax.set_xticks(list(x), names, rotation=40, ha="right")
        ax.set_title(label)
        ax.legend()
    ax = axes[2]
    for i, n in enumerate(names):
        d = summary[n]["plan_minus_nearest"]["mean_min"]
        if d["mean"] is None:
            continue
        low, high = d["low"] if d["low"] is not None else d["mean"], d["high"] if d["high"] is not None else d["mean"]
        ax.errorbar(i, d["mean"], yerr=[[d["mean"] - low], [high - d["mean"]]], fmt="o", capsize=4)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axhline(0.5, color="red", lw=0.6, ls="--")
    ax.set_xticks(list(x), names, rotation=40, ha="right")
    ax.set_title("plan - nearest, mean placed->door (min), 95 % CI")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(summary: dict[str, Any]) -> str:
    """The Markdown table docs/assignment.md shows."""
    head = (
        "| scenario | policy | mean min | p90 min | % late | % undelivered | orders/rider-h | orders/trip |"
        " round ms p50 / max |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for name, s in summary.items():
        for policy in ("plan", "nearest"):
            f = s[policy]
            rows.append(
                f"| {name} | {policy} | {f['mean_min']} | {f['p90_min']} | {f['late_pct']} | {f['undelivered_pct']} |"
                f" {f['orders_per_rider_hour']} | {f['orders_per_trip']} | {f['round_ms_p50']} / {f['round_ms_max']} |"
            )
        d = s["plan_minus_nearest"]

        def ci(m: str, d: dict[str, Any] = d) -> str:
            x = d[m]
            return f"{x['mean']:+} [{x['low']:+}, {x['high']:+}]" if x["low"] is not None else str(x["mean"])

        rows.append(
            f"| {name} | **plan − nearest** | {ci('mean_min')} | {ci('p90_min')} | {ci('late_pct')} |"
            f" {ci('undelivered_pct')} | {ci('orders_per_rider_hour')} | {ci('orders_per_trip')} | {s['verdict']} |"
        )
    return head + "\n".join(rows) + "\n"


app = typer.Typer(add_completion=False)


@app.command()
def main(
    seeds: Annotated[int, typer.Option(min=1, help="seeds per scenario (the same days for both policies)")] = 10,
    only: Annotated[list[str] | None, typer.Option(help="run only these scenarios")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="processes")] = 2,
    promise: Annotated[
        str, typer.Option(help="history: slack from the delivered orders' misses; load: the rule's slack alone")
    ] = PROMISE_MODE,
    results_dir: Annotated[Path, typer.Option(help="where the JSON and PNG go")] = RESULTS_DIR,
) -> None:
    """Every scenario over `seeds` seeds, both policies; the table, JSON and a PNG chart."""
    started = datetime.now(UTC)
    clock = time.perf_counter()
    chosen = [s for s in SCENARIOS if not only or s.name in only]
    if promise not in ("history", "load"):
        raise typer.BadParameter("--promise is history or load")
    work = [(s.name, seed, promise) for s in chosen for seed in range(1, seeds + 1)]
    with multiprocessing.Pool(jobs) as pool:
        done = pool.map(run_seed, work)
    summary = {s.name: summarise(s, [d for d in done if d["scenario"] == s.name]) for s in chosen}
    result: dict[str, Any] = {
        "benchmark": "dispatch_scenarios",
        "started_at": started.isoformat(timespec="seconds"),
        "day": {
            "hours": f"{FIRST_HOUR:02d}:00-{LAST_HOUR:02d}:00 local",
            "orders": ORDERS,
            "riders_balanced": RIDERS,
            "round_s": ROUND_S,
            "undelivered_counted_min": 90,
            "promise": promise,
        },
        "scenarios": summary,
        "scale_round": scale_round(repeat=15),
        "neighbourhood_round": scale_round(orders=50, riders=30, shops=4, repeat=20),
        "per_seed": done,
        "conditions": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "git": _git_commit(),
            "jobs": jobs,
            "wall_s": round(time.perf_counter() - clock, 1),
        },
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"dispatch_scenarios-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    png = results_dir / f"dispatch_scenarios-{stamp}.png"
    chart(summary, png)
    print(table(summary))
    print(json.dumps({"scale_round": result["scale_round"], "neighbourhood_round": result["neighbourhood_round"]}))
    print(f"written to {path} and {png}", file=sys.stderr)


if __name__ == "__main__":
    app()
