"""`make bench` without a fixed rate: find the highest rate the stack sustains, and measure around it.

Per mode (the demo neighbourhood and rider simulator off, then on, each on a fresh embedded stack):

1. Steps through rates (50, 100, 200, ... by default), each step at least `step_s` of sends, until a
   step is not sustained; then bisects between the highest sustained rate and the lowest one that
   was not, until they are within `precision` (10 %) of each other. A step is sustained while the
   confirmed orders are at least 95 % of those offered, p99 placed->confirmed is at most 1 s, and
   the generator really sent at the rate asked. After each step it waits for the step's orders to
   be decided, then for the stack's CPU to fall back to its idle use (`quiet_s`), so a failed
   step's backlog is not measured as part of the next step or of the half-rate run.
2. A fixed run at half that rate: the latency, POST and CPU figures a user would see.
3. The two references, on the same broker and PostgreSQL: the peer (bench/bare_chain.py) and the
   limit (single-row insert transactions, the fixed run's baseline); their ratios.

The whole run is bounded by `budget_s`: each mode gets an equal share of what is left, and a mode
stops stepping when the next step and the runs after the sweep would not fit.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.place_orders import (
    DEMO_OFF,
    DEMO_ON,
    REPO_DIR,
    Options,
    _conditions,
    _fund_shoppers,
    _make_shop,
    _server_facts,
    _stack_pids,
    _start_stack,
    _wait_for_catalog,
    baseline,
    cpu_seconds,
    cpu_used,
    log,
    measure_placement,
    rounded,
    shopper_tokens,
    start_watcher,
)

# --- pure parts: the rule, the next rate, the ratios; unit-tested in tests/unit/shared/test_bench_stats.py


@dataclass(frozen=True)
class Rule:
    """When a step counts as sustained."""

    min_confirmed_share: float = 0.95  # of the orders offered
    max_p99_ms: float = 1000.0  # placed -> confirmed
    min_sent_share: float = 0.95  # of the rate asked: else the sends, not the system, fell behind


def sustained(
    offered: int, confirmed: int, p99_ms: float | None, sent_rate: float | None, target_rate: float, rule: Rule = Rule()
) -> tuple[bool, list[str]]:
    """(sustained?, why not): the confirmed share, the p99 and whether the orders went out at the rate."""
    if offered <= 0:
        return False, ["nothing was offered"]
    why = []
    share = confirmed / offered
    if share < rule.min_confirmed_share:
        why.append(f"confirmed {share:.1%} of the offered < {rule.min_confirmed_share:.0%}")
    if p99_ms is None:
        why.append("no order was confirmed")
    elif p99_ms > rule.max_p99_ms:
        why.append(f"p99 {p99_ms:.0f} ms > {rule.max_p99_ms:.0f} ms")
    if sent_rate is not None and sent_rate < rule.min_sent_share * target_rate:
        why.append(f"sent at only {sent_rate:.1f}/s of {target_rate:g}/s")
    return not why, why


@dataclass(frozen=True)
class Search:
    """How the rates are chosen: up by `factor` from `first` until a step fails (down while the first
    ones fail), then halving the bracket until high <= low * (1 + precision)."""

    first: float = 50.0
    factor: float = 2.0
    precision: float = 0.10
    lowest: float = 2.0
    highest: float = 6400.0


def bracket(history: Sequence[tuple[float, bool]]) -> tuple[float | None, float | None]:
    """(highest sustained rate, lowest rate above it that was not sustained)."""
    low = max((rate for rate, ok in history if ok), default=None)
    high = min((rate for rate, ok in history if not ok and (low is None or rate > low)), default=None)
    return low, high


def nice(rate: float) -> float:
    """Whole orders per second from 10/s up, one decimal below."""
    return float(round(rate)) if rate >= 10 else round(rate, 1)


def next_rate(history: Sequence[tuple[float, bool]], search: Search = Search()) -> float | None:
    """The next rate to try after `history` (rate, sustained) in the order run; None when done."""
    if not history:
        return search.first
    low, high = bracket(history)
    tried = {rate for rate, _ in history}
    if high is None:  # everything so far held: go up
        assert low is not None
        up = nice(low * search.factor)
        if low >= search.highest:
            return None
        return min(up, search.highest)
    if low is None:  # nothing held yet: go down
        down = nice(high / search.factor)
        return None if down < search.lowest or down in tried else down
    if high <= low * (1 + search.precision):
        return None
    middle = nice((low + high) / 2)
    return None if middle in (low, high) or middle in tried else middle


def converged(history: Sequence[tuple[float, bool]], search: Search = Search()) -> bool:
    """Whether the sweep ended by itself within the precision (rather than by the budget)."""
    low, high = bracket(history)
    if low is None:
        return high is not None and nice(high / search.factor) < search.lowest
    if high is None:
        return low >= search.highest
    return high <= low * (1 + search.precision) or next_rate(history, search) is None


def settled(busy_cores: float, idle_cores: float, margin_cores: float = 0.15) -> bool:
    """The stack is back to what it used idle: a step's backlog has gone through every consumer.

    Its orders being decided is not enough: after a failed step, events nobody waits on (dispatch's
    order log, the relays, the confirmations' own consumers) were still queued, and the next step,
    or the half-rate run, was measured while they drained.
    """
    return busy_cores <= idle_cores + margin_cores


def ratio(value: float | None, reference: float | None, digits: int = 3) -> float | None:
    """value / reference, or None when either is missing or the reference is not positive."""
    if value is None or reference is None or reference <= 0:
        return None
    return round(value / reference, digits)


def orders_for(rate: float, seconds: float) -> int:
    """Orders a step sends: enough for `seconds` at `rate`, and at least 20."""
    return max(20, math.ceil(rate * seconds))


def step_summary(rate: float, report: dict[str, Any], rule: Rule = Rule()) -> dict[str, Any]:
    """One step's line: what was offered and confirmed, the latency, and whether it was sustained."""
    post, ptc, errors = report["post_orders"], report["placed_to_confirmed"], report["errors"]
    p99 = ptc["latency_ms"]["p99"]
    ok, why = sustained(post["sent"], ptc["confirmed"], p99, post["offered_rate_per_s"], rate, rule)
    cpu = report.get("cpu") or {}
    per_order = cpu.get("ms_per_placed_order_by_process") or {}
    return {
        "rate_per_s": rate,
        "offered": post["sent"],
        "sent_rate_per_s": post["offered_rate_per_s"],
        "confirmed": ptc["confirmed"],
        "confirmed_share": rounded(ptc["confirmed"] / post["sent"], 4) if post["sent"] else None,
        "confirmed_per_s": ptc["orders_per_s"],
        "placed_to_confirmed_ms": {q: ptc["latency_ms"][q] for q in ("p50", "p95", "p99", "max")},
        "post_ms": {q: post["latency_ms"][q] for q in ("p50", "p99")},
        "errors": errors["total"],
        "error_kinds": {
            k: errors[k]
            for k in ("non_201", "timeouts", "transport", "first_failures", "not_confirmed")
            if errors[k] and (k != "not_confirmed" or errors["total"])
        },
        "system_cpu_ms_per_order": per_order.get("system"),
        "load_generator": cpu.get("load_generator"),
        "sustained": ok,
        "why_not": why,
    }


# --- the run ----------------------------------------------------------------------------------------


@dataclass
class SweepOptions:
    modes: list[str]  # "demo_off", "demo_on"
    budget_s: float = 480.0
    step_s: float = 20.0
    drain_s: float = 10.0  # after a step's last send, how long its orders may still take
    settle_s: float = 30.0  # before the next step, how long to wait for a failed step's backlog
    quiet_s: float = 30.0  # then, at most this long for the stack's CPU to fall back to its idle use
    concurrency: int = 256
    products: int = 10
    shoppers: int = 1000
    peer_messages: int = 3000
    baseline_s: float = 5.0
    baseline_connections: int = 4
    search: Search = field(default_factory=Search)
    rule: Rule = field(default_factory=Rule)

    def after_sweep_s(self) -> float:
        """What a mode needs after its steps: the half-rate run, the peer, the limit."""
        return self.step_s + self.drain_s + 20 + self.baseline_s + 5


MODE_ENV = {"demo_off": DEMO_OFF, "demo_on": DEMO_ON}


async def _peer(bootstrap: str, messages: int) -> dict[str, Any]:
    """bench/bare_chain.py in its own process (so it has its own event loop, as a service would)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.bare_chain",
        "--bootstrap",
        bootstrap,
        "--messages",
        str(messages),
        "--max-seconds",
        "10",
        cwd=REPO_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        return {"error": err.decode(errors="replace")[-2000:]}
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def _wait_settled(pids: dict[str, int], idle: dict[str, Any], within_s: float) -> float | None:
    """Wait, a second at a time, until the stack uses no more CPU than it did idle; how long it took
    (None: it had not settled within `within_s`, and the next step starts anyway)."""
    idle_cores = float(idle.get("ours_cores_busy", 0.0))
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        before = cpu_seconds(pids)
        await asyncio.sleep(1.0)
        busy = cpu_used(before, cpu_seconds(pids), 1.0).get("ours_cores_busy")
        if busy is None or settled(float(busy), idle_cores):
            return round(time.monotonic() - started, 1)
    log(f"the stack had not settled back to idle within {within_s:g}s")
    return None


async def sweep_stack(opts: Options, sweep: SweepOptions, deadline: float) -> dict[str, Any]:
    """The sweep, the half-rate run and the references on one running stack, within `deadline` (monotonic)."""
    assert opts.database_url
    assert opts.kafka
    facts = await _server_facts(opts.database_url)
    # A shop with stock for any sweep, and shoppers who can each afford 2000 orders (one top-up each).
    setup = replace(opts, orders=sweep.shoppers * 2000, shoppers=sweep.shoppers, on_hand=50_000_000)
    log(f"creating the bench shop with {opts.products} products and funding {sweep.shoppers} shoppers")
    store_id, product_ids = await _make_shop(setup)
    await _wait_for_catalog(setup, product_ids)
    await _fund_shoppers(setup)
    tokens = shopper_tokens(setup)
    watcher = await start_watcher(opts)
    assert watcher is not None
    try:
        idle_before = cpu_seconds(opts.pids)
        await asyncio.sleep(3.0)
        idle = cpu_used(idle_before, cpu_seconds(opts.pids), 3.0)
        history: list[tuple[float, bool]] = []
        steps: list[dict[str, Any]] = []
        first = 0
        budget_exhausted = False
        while (rate := next_rate(history, sweep.search)) is not None:
            estimate = sweep.step_s + sweep.drain_s / 2 + 3
            if time.monotonic() + estimate + sweep.after_sweep_s() > deadline:
                budget_exhausted = True
                log(f"the time budget leaves no room for a step at {rate:g}/s: stopping the sweep here")
                break
            step = replace(opts, orders=orders_for(rate, sweep.step_s), rate=rate, timeout_s=sweep.drain_s)
            log(f"step {len(steps) + 1}: {rate:g}/s for {sweep.step_s:g}s ({step.orders} orders)")
            placement = await measure_placement(step, store_id, product_ids, tokens, watcher, first)
            first += step.orders
            summary = step_summary(rate, placement.report, sweep.rule)
            steps.append(summary)
            history.append((rate, summary["sustained"]))
            _progress(summary)
            if watcher.undecided(placement.order_ids):  # let a failed step's backlog go before the next
                log(f"waiting up to {sweep.settle_s:g}s for the step's remaining orders")
                await watcher.wait_decided(placement.order_ids, sweep.settle_s)
            watcher.forget(placement.order_ids)
            summary["settled_after_s"] = await _wait_settled(opts.pids, idle, sweep.quiet_s)
        best, _ = bracket(history)

        at_half: dict[str, Any] | None = None
        if best:
            half = nice(best / 2)
            run = replace(opts, orders=orders_for(half, sweep.step_s), rate=half, timeout_s=sweep.drain_s * 3)
            log(f"at half the sustained rate: {half:g}/s for {sweep.step_s:g}s")
            placement = await measure_placement(run, store_id, product_ids, tokens, watcher, first)
            at_half = {"rate_per_s": half, **placement.report}
    finally:
        await watcher.stop()

    log(f"the peer: a bare FastStream chain on the same broker ({sweep.peer_messages} messages)")
    peer = await _peer(opts.kafka, sweep.peer_messages)
    limit = None
    if sweep.baseline_s > 0:
        log(f"the limit: single-row insert transactions on the same PostgreSQL for {sweep.baseline_s:g}s")
        limit = await baseline(opts.database_url, sweep.baseline_s, sweep.baseline_connections)
    return {
        "max_sustainable_rate_per_s": best,
        "converged": converged(history, sweep.search),
        "budget_exhausted": budget_exhausted,
        "steps": steps,
        "at_half_rate": at_half,
        "peer": peer,
        "limit": limit,
        "ratios": {
            "vs_peer": ratio(best, peer.get("messages_per_s")),
            "vs_limit": ratio(best, (limit or {}).get("inserts_per_s")),
        },
        "idle": idle,
        "postgres": facts,
        "shop": store_id,
    }


def _progress(step: dict[str, Any]) -> None:
    p = step["placed_to_confirmed_ms"]
    verdict = "sustained" if step["sustained"] else "NOT sustained: " + "; ".join(step["why_not"])
    gen = step["load_generator"] or {}
    log(
        f"  {step['rate_per_s']:g}/s: sent {step['sent_rate_per_s']}/s, confirmed {step['confirmed']}/{step['offered']}"
        f" ({step['confirmed_per_s']}/s), p50 {p['p50']} p99 {p['p99']} ms, errors {step['errors']},"
        f" generator {gen.get('cores')} cores -> {verdict}"
    )


def run_sweep(template: Options, sweep: SweepOptions, results_dir: Path) -> tuple[dict[str, Any], Path]:
    """Each mode on its own fresh embedded stack; the JSON written and returned with its path."""
    from bench.place_orders import save

    started = datetime.now(UTC)
    began = time.monotonic()
    conditions = _conditions(replace(template, embedded=True))
    for key in ("orders", "rate_per_s", "timeout_s", "orders_url", "inventory_url"):
        conditions.pop(key, None)
    conditions["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    modes: dict[str, Any] = {}
    for n, mode in enumerate(sweep.modes):
        left = sweep.budget_s - (time.monotonic() - began)
        deadline = time.monotonic() + left / (len(sweep.modes) - n)
        log(f"=== {mode}: {left / (len(sweep.modes) - n):.0f}s of the budget ===")
        home = tempfile.TemporaryDirectory(prefix="linli-bench-")
        infra = None
        try:
            t0 = time.monotonic()
            infra, ports = _start_stack(Path(home.name), MODE_ENV[mode])
            stack_start_s = round(time.monotonic() - t0, 1)
            opts = replace(
                template,
                orders_url=f"http://127.0.0.1:{ports['orders']}",
                inventory_url=f"http://127.0.0.1:{ports['inventory']}",
                database_url=infra.database_url,
                kafka=infra.kafka_bootstrap_servers,
                pids=_stack_pids(infra),
                concurrency=sweep.concurrency,
                products=sweep.products,
                embedded=True,
            )
            modes[mode] = {"env": MODE_ENV[mode], "stack_start_s": stack_start_s}
            modes[mode].update(asyncio.run(sweep_stack(opts, sweep, deadline)))
        except BaseException:
            if infra is not None:
                for process in infra.processes:
                    log(f"--- {process.name} log tail ---\n{process.tail(20)}")
            raise
        finally:
            if infra is not None:
                log("stopping the embedded stack")
                infra.stop()
            home.cleanup()
    conditions["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    conditions["wall_s"] = round(time.monotonic() - began, 1)
    result = {
        "benchmark": "place_orders_sweep",
        "started_at": started.isoformat(timespec="seconds"),
        "rule": {
            "min_confirmed_share": sweep.rule.min_confirmed_share,
            "max_p99_ms": sweep.rule.max_p99_ms,
            "min_sent_share": sweep.rule.min_sent_share,
        },
        "search": {
            "first": sweep.search.first,
            "factor": sweep.search.factor,
            "precision": sweep.search.precision,
            "step_s": sweep.step_s,
            "budget_s": sweep.budget_s,
        },
        "conditions": {**conditions, "concurrency": sweep.concurrency, "shoppers": sweep.shoppers},
        "modes": modes,
    }
    return result, save(result, started, results_dir)


def summary_text(result: dict[str, Any]) -> str:
    """The stdout summary of a sweep."""
    c = result["conditions"]
    lines = [
        f"make bench: the highest sustained rate (confirmed >= {result['rule']['min_confirmed_share']:.0%} of offered,"
        f" p99 placed->confirmed <= {result['rule']['max_p99_ms']:.0f} ms), steps of {result['search']['step_s']:g}s",
        f"machine: {c['cpus_usable']} cores, load average {c['load_average_before']} before,"
        f" {c['load_average_after']} after; {c['wall_s']}s in all",
    ]
    for mode, m in result["modes"].items():
        best = m["max_sustainable_rate_per_s"]
        state = "within the precision" if m["converged"] else "NOT converged (time budget)"
        lines += ["", f"[{mode}] max sustainable rate: {best if best is not None else 'none'} orders/s ({state})"]
        lines.append(
            "  steps: "
            + ", ".join(
                f"{s['rate_per_s']:g} {'ok' if s['sustained'] else 'x'}(p99 {s['placed_to_confirmed_ms']['p99']})"
                for s in m["steps"]
            )
        )
        half = m["at_half_rate"]
        if half:
            ptc, post, errors = half["placed_to_confirmed"]["latency_ms"], half["post_orders"], half["errors"]
            lines.append(
                f"  at {half['rate_per_s']:g}/s (half): placed->confirmed p50 {ptc['p50']} p95 {ptc['p95']}"
                f" p99 {ptc['p99']} ms; POST p50 {post['latency_ms']['p50']} p99 {post['latency_ms']['p99']} ms;"
                f" errors {errors['total']} (non-201 {errors['non_201'] or 0}, timeouts {errors['timeouts']},"
                f" transport {errors['transport'] or 0})"
            )
            cpu = half.get("cpu") or {}
            by = cpu.get("ms_per_placed_order_by_process")
            if by:
                parts = ", ".join(f"{name} {ms}" for name, ms in by["per_process"].items())
                lines.append(f"  CPU ms/order: {parts}; system {by['system']}")
                gen = cpu["load_generator"]
                hot = "  << HOT: the generator may be what limits the figure" if gen["hot"] else ""
                lines.append(f"  load generator: {by['load_generator']} ms/order, {gen['cores']} cores{hot}")
        hot_steps = [s["rate_per_s"] for s in m["steps"] if (s["load_generator"] or {}).get("hot")]
        if hot_steps:
            lines.append(f"  the load generator ran hot (> 0.5 cores) at {hot_steps}")
        peer, limit, ratios = m["peer"], m["limit"] or {}, m["ratios"]
        lines.append(
            f"  peer (bare FastStream chain): {peer.get('messages_per_s')} msg/s -> ratio {ratios['vs_peer']};"
            f" limit (single-row inserts): {limit.get('inserts_per_s')}/s -> ratio {ratios['vs_limit']}"
        )
    return "\n".join(lines)
