"""`make soak`: a steady load for a long time, and whether anything creeps.

It starts an embedded stack of its own on free ports and places one-line prepaid pickup orders
at `--rate` (default 50/s: about half the sustainable rate measured on a quiet machine, see
docs/performance.md) for `--minutes` (default 30), each retried with its own Idempotency-Key
until answered (bench/_load.py). Every `--interval-s` (60) it reports:

- RSS of each process it started (orders, inventory, dispatch, the broker, Redis; PostgreSQL as
  the PSS sum of the postmaster and its backends, which share their buffers);
- consumer lag: per group, end offsets minus committed offsets, read the tansu-safe way
  shared/dead_letters.py does (the group's own OffsetFetch through a consumer that joins nothing
  and commits nothing; tansu may report an end one short, so a lag reads at most one low);
- outbox and inbox rows per service (the services run with short retention, so the sizes
  level off when housekeeping works) and open PostgreSQL connections per database;
- orders sent, confirmed, and what clients saw.

Lag is also sampled every `--lag-every-s` (10) for the trend. It fails (exit 1) if the RSS of a
judged process (by default the three services and Redis) grows by more than 10 % after the
warm-up (`--warmup-minutes`, 3) or if the lag trends upward (bench/_soak_rules.py). The broker
keeps every message in memory (tansu's memory storage) and PostgreSQL's caches fill with its
data, so they are reported, not judged.

    python -m bench.soak [--minutes 30] [--rate 50]
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bench._load import Stack, SteadyLoad, log, make_shop, start_stack, terminate_as_interrupt
from bench._soak_rules import Verdict, lag_trend, rss_growth
from bench.place_orders import _git_commit

console = Console(width=None if Console().is_terminal else 200)
RESULTS = Path(__file__).resolve().parent / "results"
JUDGED = ("orders", "inventory", "dispatch", "redis")


def _say(message: str) -> None:
    log("soak", message)


# --- what is measured ----------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    return children


def _kib(path: Path, field_name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory(pids: dict[str, int]) -> dict[str, int]:
    """Bytes per process: RSS, or for PostgreSQL the PSS of the postmaster and all its backends."""
    out = {}
    tree = _children()
    for name, pid in pids.items():
        if name == "postgres":
            total, stack = 0, [pid]
            while stack:
                p = stack.pop()
                total += _kib(Path(f"/proc/{p}/smaps_rollup"), "Pss")
                stack.extend(tree.get(p, []))
            out[name] = total
        else:
            out[name] = _kib(Path(f"/proc/{pid}/status"), "VmRSS")
    return out


def consumer_groups() -> list[tuple[str, str, int]]:
    """(group, topic, partitions) of every subscription, from the services' own declarations."""
    import importlib

    from shared.stack import SERVICES

    return [
        (sub.group, sub.topic.name, sub.topic.partitions)
        for service in SERVICES
        for sub in importlib.import_module(f"services.{service}.entrypoints.app").SPEC.subscriptions
    ]


class LagReader:
    """Each consumer group's lag, from its own committed offsets, without joining or committing."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.consumers: dict[str, Any] = {}
        self.partitions: dict[str, list[Any]] = {}

    async def start(self, groups: list[tuple[str, str, int]]) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        for group, topic, partitions in groups:
            consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
            await consumer.start()
            tps = [TopicPartition(topic, p) for p in range(partitions)]
            consumer.assign(tps)
            self.consumers[group], self.partitions[group] = consumer, tps

    async def lag(self) -> dict[str, int]:
        lags = {}
        for group, consumer in self.consumers.items():
            tps = self.partitions[group]
            ends = await consumer.end_offsets(tps)
            behind = 0
            for tp in tps:
                committed = await consumer.committed(tp) or 0
                behind += max(0, ends[tp] - committed)
            lags[group] = behind
        return lags

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.consumers.values()), return_exceptions=True)


async def tables(stack: Stack) -> dict[str, dict[str, int]]:
    import asyncpg

    from shared.stack import SERVICES

    sizes = {}
    for service in SERVICES:
        conn = await asyncpg.connect(stack.database_url(service), timeout=10)
        try:
            sizes[service] = {
                "outbox": int(await conn.fetchval("SELECT count(*) FROM outbox")),
                "outbox_pending": int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")),
                "inbox": int(await conn.fetchval("SELECT count(*) FROM inbox")),
            }
        finally:
            await conn.close()
    return sizes


async def connections(stack: Stack) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(stack.server_url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT coalesce(datname, '?') AS db, count(*) AS n FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1 ORDER BY 1"
        )
    finally:
        await conn.close()
    return {str(r["db"]): int(r["n"]) for r in rows}


async def confirmed(stack: Stack, store_id: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(stack.database_url("orders"), timeout=10)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM orders WHERE store_id = $1 GROUP BY 1", store_id)
    finally:
        await conn.close()
    return {str(r["status"]): int(r["n"]) for r in rows}


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Sample:
    at_s: float
    memory: dict[str, int]
    lag: dict[str, int]
    tables: dict[str, dict[str, int]]
    connections: dict[str, int]
    orders: dict[str, int]
    sent: int
    client_errors: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


async def soak(
    stack: Stack, groups: list[tuple[str, str, int]], minutes: float, rate: float, interval_s: float, lag_every_s: float
) -> dict[str, Any]:
    orders_total = int(rate * minutes * 60) + 100
    shoppers = 100
    shop = await make_shop(
        stack, os.urandom(3).hex(), products=5, on_hand=orders_total, shoppers=shoppers,
        fund_orders=orders_total // shoppers + 10,
    )  # fmt: skip
    lags = LagReader(stack.bootstrap)
    await lags.start(groups)
    load = SteadyLoad(stack, shop, rate)
    load.start()
    t0, began = time.monotonic(), time.time()
    samples: list[Sample] = []
    lag_points: list[tuple[float, float]] = []
    next_sample = interval_s
    try:
        while (elapsed := time.monotonic() - t0) < minutes * 60:
            await asyncio.sleep(min(lag_every_s, max(0.1, minutes * 60 - elapsed)))
            at = time.monotonic() - t0
            lag = await lags.lag()
            lag_points.append((at, float(sum(lag.values()))))
            if at + 0.5 >= next_sample or at >= minutes * 60:
                next_sample += interval_s
                outcomes = load.outcomes_between(began, time.time())
                sample = Sample(
                    round(at, 1),
                    memory(stack.pids()),
                    lag,
                    await tables(stack),
                    await connections(stack),
                    await confirmed(stack, shop.store_id),
                    len(load.orders),
                    {k: n for k, n in sorted(outcomes.items()) if k != "201"},
                )
                samples.append(sample)
                _say(_line(sample))
    finally:
        await load.stop(answer_within_s=30)
        await lags.stop()
    return {
        "samples": [s.as_dict() for s in samples],
        "lag_points": lag_points,
        "orders": {"sent": len(load.orders), "acknowledged": len(load.acknowledged()), "unanswered": load.unanswered()},
        "refusals": dict(Counter(str(p.status) for p in load.orders if p.status not in (None, 201))),
    }


def _line(s: Sample) -> str:
    mib = ", ".join(f"{k} {v / 2**20:.0f}" for k, v in sorted(s.memory.items()))
    outbox = ", ".join(f"{k} {v['outbox']}/{v['inbox']}" for k, v in s.tables.items())
    return (
        f"t={s.at_s / 60:.1f} min sent {s.sent} {s.orders} | MiB {mib} | lag {sum(s.lag.values())} | "
        f"outbox/inbox {outbox} | connections {sum(s.connections.values())} | errors {s.client_errors or 0}"
    )


def judge(
    result: dict[str, Any], warmup_s: float, judged: tuple[str, ...], rss_limit: float, **lag: float
) -> list[Verdict]:
    series: dict[str, list[tuple[float, float]]] = {}
    for s in result["samples"]:
        for name, value in s["memory"].items():
            if name in judged:
                series.setdefault(name, []).append((s["at_s"], float(value)))
    verdicts = rss_growth(series, warmup_s, rss_limit)
    verdicts.append(lag_trend([tuple(p) for p in result["lag_points"]], warmup_s, **lag))
    return verdicts


def report(result: dict[str, Any], verdicts: list[Verdict]) -> tuple[Table, str]:
    samples = result["samples"]
    names = sorted({n for s in samples for n in s["memory"]})
    table = Table(title="Soak, every sample")
    cols = ["min", *[f"{n} MiB" for n in names], "lag", "outbox rows", "inbox rows", "PG conns", "confirmed", "errors"]
    for col in cols:
        table.add_column(col)
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for s in samples:
        row = [
            f"{s['at_s'] / 60:.1f}",
            *[f"{s['memory'].get(n, 0) / 2**20:.0f}" for n in names],
            str(sum(s["lag"].values())),
            " / ".join(str(t["outbox"]) for t in s["tables"].values()),
            " / ".join(str(t["inbox"]) for t in s["tables"].values()),
            str(sum(s["connections"].values())),
            str(s["orders"].get("CONFIRMED", 0)),
            str(sum(s["client_errors"].values())),
        ]
        table.add_row(*row)
        md.append("| " + " | ".join(row) + " |")
    md.append("")
    md += [
        f"- {'ok' if v.ok else 'FAILED'}{'' if v.judged else ' (not judged)'}: {v.what}: {v.detail}" for v in verdicts
    ]
    return table, "\n".join(md)


app = typer.Typer(add_completion=False)


@app.command()
def main(
    minutes: Annotated[float, typer.Option(min=0.5, help="how long the load runs")] = 30,
    rate: Annotated[float, typer.Option(min=1, help="orders per second (about half the sustainable rate)")] = 50,
    warmup_minutes: Annotated[float, typer.Option(help="samples before this are not judged")] = 3,
    interval_s: Annotated[float, typer.Option(help="seconds between reported samples")] = 60,
    lag_every_s: Annotated[float, typer.Option(help="seconds between lag samples for the trend")] = 10,
    rss_limit: Annotated[float, typer.Option(help="most RSS growth after the warm-up, as a fraction")] = 0.10,
    lag_slope_max: Annotated[float, typer.Option(help="most lag growth, messages per minute")] = 30,
    lag_floor: Annotated[float, typer.Option(help="a last lag at most this is no backlog")] = 50,
    outbox_retention_min: Annotated[float, typer.Option(help="the services keep published outbox rows this long")] = 2,
    inbox_retention_min: Annotated[float, typer.Option(help="the services keep inbox rows this long")] = 5,
    keep_home: Annotated[bool, typer.Option(help="keep the stack's data and logs")] = False,
) -> None:
    """Steady orders for a long time; fail if a service's memory grows or consumer lag trends upward."""
    env = {
        "LINLI_DEMO_SEED": "false",
        "LINLI_ACCEPT_LIMIT_S": "86400",
        "LINLI_RETENTION_OUTBOX_H": str(outbox_retention_min / 60),
        "LINLI_RETENTION_INBOX_H": str(inbox_retention_min / 60),
        "LINLI_HOUSEKEEPING_INTERVAL_S": "30",
    }
    home = Path(tempfile.mkdtemp(prefix="linli-soak-"))
    started, load_before = datetime.now(UTC), os.getloadavg()
    stack: Stack | None = None
    with terminate_as_interrupt():
        try:
            groups = consumer_groups()  # before anything starts: a service that cannot be imported fails fast
            stack = start_stack(home, env, "soak")
            result = asyncio.run(soak(stack, groups, minutes, rate, interval_s, lag_every_s))
        finally:
            if stack is not None:
                _say("stopping everything the soak started")
                stack.stop()
            if keep_home:
                _say(f"data and logs kept in {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)
    verdicts = judge(result, warmup_minutes * 60, JUDGED, rss_limit, max_slope_per_min=lag_slope_max, floor=lag_floor)
    table, md = report(result, verdicts)
    console.print(table)
    result["conditions"] = {
        "started_at": started.isoformat(timespec="seconds"),
        "minutes": minutes,
        "rate_per_s": rate,
        "warmup_minutes": warmup_minutes,
        "cpu_count": os.cpu_count(),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "python": platform.python_version(),
        "retention_min": {"outbox": outbox_retention_min, "inbox": inbox_retention_min},
        "git": _git_commit(),
    }
    result["verdicts"] = [v.__dict__ for v in verdicts]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"soak-{started:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    console.print(md)
    console.print(f"orders {result['orders']}, refusals {result['refusals'] or 'none'}; JSON in {out}")
    raise typer.Exit(0 if all(v.ok for v in verdicts) else 1)


if __name__ == "__main__":
    app()
