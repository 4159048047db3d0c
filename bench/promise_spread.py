"""Where the spread of the promise's misses comes from (issue 14, item 5: the median-gap target).

A miss is an order's real door minus the forecast's door without slack (`PromiseParts.base_at`);
the history's slack is its 96th percentile, so the median promise sits about p96 - p50 of the
misses (plus the whole minutes' rounding) above the median door. This runs each scenario's day
with the planner twice, learning the misses as dispatch does:

- normal: the forecast knows what dispatch knows (the packing estimate until the bag is packed);
- oracle picking: the forecast is told every bag's real packing time (the new order's and those
  ahead), which no system has at acceptance. The planner is unchanged (it still sees estimates).

If the oracle's spread is about the normal one, picking is not what spreads the misses: the
queue (which rider really takes which order, in what order, bundled how) is. Per load band too.

    python -m bench.promise_spread --seeds 4
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import typer

from bench import dispatch_day as dd
from bench import dispatch_scenarios as ds
from services.dispatch.domain.assignment import plan
from services.dispatch.domain.promises import PromiseHistory


def quantile(xs: Sequence[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered)) - 1))]


class _Recording(PromiseHistory):
    """A history that also keeps every (band, miss) it learns, in minutes."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, float]] = []

    def record(self, store_id: str, band: int, miss_s: float) -> None:
        self.seen.append((band, miss_s / 60))
        super().record(store_id, band, miss_s)


def _oracle(real: Callable[..., Any]) -> Callable[..., Any]:
    """The promise's path with every bag's estimate replaced by its real packing time."""

    def learnt(day: dd.Day, o: dd.DayOrder, views: Any, open_orders: list[dd.DayOrder], t: float, h: Any) -> Any:
        told = [dataclasses.replace(a, est_ready=a.packed) for a in open_orders]
        return real(day, dataclasses.replace(o, est_ready=o.packed), views, told, t, h)

    return learnt


def misses(sc: ds.Scenario, seed: int, oracle: bool) -> list[tuple[int, float]]:
    history = _Recording()
    real = dd._learnt
    if oracle:
        dd._learnt = _oracle(real)
    try:
        dd.simulate(ds.make_scenario_day(sc, seed), plan, round_s=ds.ROUND_S, promise_mode="history", history=history)
    finally:
        dd._learnt = real
    return history.seen


def _spread(xs: Sequence[float]) -> str:
    p50, p96 = quantile(xs, 0.5), quantile(xs, 0.96)
    return f"p50 {p50:+.1f} p96 {p96:+.1f} spread {p96 - p50:.1f}"


def main(seeds: Annotated[int, typer.Option(help="seeds per scenario")] = 4) -> None:
    for sc in ds.SCENARIOS:
        days = [ds.make_scenario_day(sc, s) for s in range(1, seeds + 1)]
        picking = [(o.packed - o.est_ready) / 60 for d in days for o in d.orders]
        row = [f"{sc.name:14s}", f"picking error {_spread(picking)}"]
        for oracle in (False, True):
            seen = [m for s in range(1, seeds + 1) for m in misses(sc, s, oracle)]
            bands: dict[int, list[float]] = {}
            for b, m in seen:
                bands.setdefault(b, []).append(m)
            per_band = " ".join(
                f"b{b}(n{len(v)}) {quantile(v, 0.96) - quantile(v, 0.5):.1f}" for b, v in sorted(bands.items())
            )
            row.append(f"{'oracle' if oracle else 'normal'} miss {_spread([m for _, m in seen])} [{per_band}]")
        typer.echo(" | ".join(row))


if __name__ == "__main__":
    typer.run(main)
