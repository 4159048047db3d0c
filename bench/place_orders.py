"""`make bench`: place orders at a fixed rate and measure how fast they go from placed to confirmed.

Open loop: order i is sent at start + i / rate whether or not earlier requests have answered,
so a slow system shows up as latency instead of quietly lowering the offered load. Placed ->
confirmed latency is read from each order's own timeline (both timestamps come from the orders
service's clock), not from polling, so the polling interval does not blur it.

The baseline, measured on the same PostgreSQL server in the same run, is the rate of single-row
INSERT transactions (autocommit) from a few connections: what one commit costs on this disk and
CPU, the floor under every step of the flow.

    python -m bench.place_orders --start --orders 500 --rate 100     # its own stack, on free ports
    python -m bench.place_orders --orders 500 --rate 100 \\
        --database-url postgresql://postgres@127.0.0.1:PORT/postgres  # against `make run`
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_DIR = Path(__file__).resolve().parent.parent
DECIDED = {"CONFIRMED", "REJECTED", "CANCELLED", "ACCEPTED"}


# --- pure functions: summary math, unit-tested in tests/unit/test_bench_stats.py -------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation between closest ranks; None if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"a percentile is between 0 and 100, not {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize(values: Sequence[float], digits: int = 1) -> dict[str, float | int | None]:
    """count, min, mean, p50, p95, p99 and max of a sample, rounded."""

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "count": len(values),
        "min": r(min(values)) if values else None,
        "mean": r(sum(values) / len(values)) if values else None,
        "p50": r(percentile(values, 50)),
        "p95": r(percentile(values, 95)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)) if values else None,
    }


def schedule(count: int, rate: float) -> list[float]:
    """Open-loop send offsets in seconds: request i goes out at i / rate."""
    if rate <= 0:
        raise ValueError("the rate must be positive")
    return [i / rate for i in range(count)]


def parse_time(text: str) -> datetime:
    """An ISO 8601 timestamp as the services write it (always with a UTC offset)."""
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return at


@dataclass(frozen=True)
class Timing:
    """When an order was placed and when it left PLACED, from its own timeline."""

    placed_at: datetime
    decided_at: datetime | None
    outcome: str  # CONFIRMED, REJECTED, ... or PLACED while undecided

    @property
    def latency_ms(self) -> float | None:
        if self.decided_at is None:
            return None
        return (self.decided_at - self.placed_at).total_seconds() * 1000


def timing_of(order: dict[str, Any]) -> Timing | None:
    """Placed -> first decision (CONFIRMED or REJECTED, ...) from GET /orders/{id}; None without PLACED."""
    placed_at: datetime | None = None
    for entry in order.get("timeline") or []:
        status = entry.get("status")
        if status == "PLACED" and placed_at is None:
            placed_at = parse_time(entry["at"])
        elif status in DECIDED and placed_at is not None:
            return Timing(placed_at, parse_time(entry["at"]), status)
    if placed_at is None:
        return None
    return Timing(placed_at, None, "PLACED")


def throughput(timings: Iterable[Timing], outcome: str = "CONFIRMED") -> tuple[float | None, float | None]:
    """(orders per second, window in seconds): orders with `outcome` / (last decided - first placed)."""
    chosen = [t for t in timings if t.outcome == outcome and t.decided_at is not None]
    if not chosen:
        return None, None
    first = min(t.placed_at for t in chosen)
    last = max(t.decided_at for t in chosen if t.decided_at is not None)
    window = (last - first).total_seconds()
    if window <= 0:
        return None, window
    return len(chosen) / window, window


@dataclass
class Sent:
    """What happened to one POST /orders."""

    index: int
    scheduled_s: float  # offset from the start of the run
    started_s: float | None = None  # when the request got a connection slot and went out
    finished_s: float | None = None
    status: int | None = None
    error: str | None = None  # "timeout" or a transport error's class name
    order_id: str | None = None
    answer: str | None = None  # the start of a refusal's body

    @property
    def latency_ms(self) -> float | None:
        if self.started_s is None or self.finished_s is None:
            return None
        return (self.finished_s - self.started_s) * 1000

    @property
    def latency_from_schedule_ms(self) -> float | None:
        if self.finished_s is None:
            return None
        return (self.finished_s - self.scheduled_s) * 1000


def post_errors(sent: Sequence[Sent]) -> dict[str, Any]:
    """Non-201 answers by status code, timeouts and other transport errors."""
    statuses = Counter(str(s.status) for s in sent if s.status is not None and s.status != 201)
    transport = Counter(s.error for s in sent if s.error is not None and s.error != "timeout")
    timeouts = sum(1 for s in sent if s.error == "timeout")
    failed = [s for s in sent if s.status != 201]
    return {
        "non_201": dict(sorted(statuses.items())),
        "timeouts": timeouts,
        "transport": dict(sorted(transport.items())),
        "first_failures": [
            {
                "index": s.index,
                "scheduled_s": round(s.scheduled_s, 3),
                "after_ms": rounded(s.latency_ms),
                "status": s.status,
                "error": s.error,
                "answer": s.answer,
            }
            for s in failed[:5]
        ],
    }


def rate_of(count: int, seconds: float | None) -> float | None:
    return None if not seconds or seconds <= 0 else count / seconds


def rounded(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def database_url_named(server_url: str, database: str) -> str:
    """The same server (and credentials, and query options) with another database name."""
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def result_path(started: datetime, directory: Path = RESULTS_DIR) -> Path:
    return directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"


MACHINE, STALLED = "_machine", "_stalled"  # whole-machine busy seconds; seconds some task waited for a CPU


def cpu_used(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, Any]:
    """Cores each process tree kept busy on average between two snapshots; with whole-machine figures
    when present: everything else running on the machine, and how often a task waited for a CPU."""
    if seconds <= 0:
        return {}
    trees = {
        name: max(0.0, after[name] - before.get(name, 0.0)) / seconds
        for name in after
        if name not in (MACHINE, STALLED)
    }
    report: dict[str, Any] = {
        "window_s": round(seconds, 1),
        "cores_busy": {name: round(v, 2) for name, v in trees.items()},
        "ours_cores_busy": round(sum(trees.values()), 2),
    }
    if MACHINE in after and MACHINE in before:
        machine = (after[MACHINE] - before[MACHINE]) / seconds
        report["machine_cores_busy"] = round(machine, 2)
        report["others_cores_busy"] = round(max(0.0, machine - sum(trees.values())), 2)
    if STALLED in after and STALLED in before:
        report["cpu_pressure_pct"] = round(100 * (after[STALLED] - before[STALLED]) / seconds, 1)
    return report


def cpu_ms_per_order(before: dict[str, float], after: dict[str, float], orders: int) -> dict[str, float] | None:
    """CPU milliseconds per order: the system (services, broker, Redis, PostgreSQL) and the bench apart."""
    if orders <= 0 or not after:
        return None
    used = {name: max(0.0, after[name] - before.get(name, 0.0)) for name in after if name not in (MACHINE, STALLED)}
    bench = used.pop("bench", 0.0)
    return {"system": round(1000 * sum(used.values()) / orders, 1), "bench": round(1000 * bench / orders, 1)}


def cpu_ms_by_process(before: dict[str, float], after: dict[str, float], orders: int) -> dict[str, Any] | None:
    """CPU milliseconds per order for each process tree; `system` sums all but the load generator (`bench`)."""
    if orders <= 0 or not after:
        return None
    used = {name: max(0.0, after[name] - before.get(name, 0.0)) for name in after if name not in (MACHINE, STALLED)}
    generator = used.pop("bench", 0.0)
    per = {name: round(1000 * v / orders, 2) for name, v in sorted(used.items())}
    return {
        "per_process": per,
        "system": round(1000 * sum(used.values()) / orders, 2),
        "load_generator": round(1000 * generator / orders, 2),
    }


HOT_GENERATOR_CORES = 0.5


def generator_load(cores: float | None, hot_above: float = HOT_GENERATOR_CORES) -> dict[str, Any]:
    """The load generator's share of the CPU, and whether it ran hot enough to be what limits the figure."""
    return {"cores": cores, "hot": cores is not None and cores > hot_above, "hot_above_cores": hot_above}


# --- the run ---------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Options:
    orders: int
    rate: float
    concurrency: int
    products: int
    orders_url: str
    inventory_url: str
    database_url: str | None
    timeout_s: float
    baseline_s: float
    baseline_connections: int
    embedded: bool
    kafka: str | None = None  # the broker: confirmations are read from linli.orders; without it, polled
    shoppers: int | None = None  # shoppers orders rotate over; None: one per order
    on_hand: int | None = None  # stock per product; None: enough for `orders`
    pids: dict[str, int] = field(default_factory=dict)  # CPU accounting, for the stack --start started
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


def _token(role: str, subject: str) -> str:
    from shared.auth import issue_token
    from shared.settings import get_settings
    from shared.vocabulary.roles import Role

    return issue_token(get_settings(), Role(role), subject)


async def _make_shop(opts: Options) -> tuple[str, list[str]]:
    """A shop that waits an hour for acceptance (nothing times out) and enough stock for every order."""
    import httpx

    store_id = f"bench-{opts.run_id}"
    headers = {"Authorization": f"Bearer {_token('admin', 'bench-admin')}"}
    async with httpx.AsyncClient(base_url=opts.inventory_url, headers=headers, timeout=30.0) as admin:
        (
            await admin.put(
                f"/admin/locations/{store_id}",
                json={
                    "kind": "shop",
                    "category": "convenience",
                    "name_zh": "压测小店",
                    "name_en": "Bench shop",
                    "lat": 32.04,
                    "lon": 118.79,
                    "accept_limit_s": 3600,
                },
            )
        ).raise_for_status()
        product_ids = []
        for n in range(opts.products):
            pid = f"{store_id}-p{n}"
            (
                await admin.put(
                    f"/admin/products/{pid}",
                    json={
                        "location_id": store_id,
                        "name_zh": f"商品{n}",
                        "name_en": f"Product {n}",
                        "category": "bench",
                        "unit": "piece",
                        "price_fen": 500,
                        "on_hand": opts.on_hand or opts.orders + 10,
                    },
                )
            ).raise_for_status()
            product_ids.append(pid)
    return store_id, product_ids


def shopper_pool(orders: int, pool: int | None) -> tuple[int, int]:
    """(shoppers, orders each must afford): one per order unless a smaller pool is asked for."""
    count = max(1, min(orders, pool or orders))
    return count, math.ceil(orders / count)


async def _fund_shoppers(opts: Options, price_fen: int = 500) -> None:
    """Orders are prepaid: each bench shopper gets its orders' worth at the cash desk first (not timed)."""
    from bench.lean import LeanHTTP

    shoppers, each = shopper_pool(opts.orders, opts.shoppers)
    headers = {"Authorization": f"Bearer {_token('admin', 'bench-cash-desk')}"}
    desk = LeanHTTP(opts.orders_url, max_connections=16)
    slots = asyncio.Semaphore(16)
    maximum = 1_000_000  # the cash desk's largest top-up

    async def fund(i: int) -> None:
        left, part = each * price_fen, 0
        while left > 0:
            amount = min(left, maximum)
            async with slots:
                status, body = await desk.request(
                    "POST",
                    "/balance/top-ups",
                    {"holder": f"bench-{opts.run_id}-{i}", "amount_fen": amount},
                    {**headers, "Idempotency-Key": f"bench-{opts.run_id}-{i}-{part}"},
                )
            if status >= 300:
                raise RuntimeError(f"top-up for shopper {i} answered {status}: {body[:300]!r}")
            left, part = left - amount, part + 1

    try:
        await asyncio.gather(*(fund(i) for i in range(shoppers)))
    finally:
        await desk.close()


async def _wait_for_catalog(opts: Options, product_ids: list[str], timeout_s: float = 60.0) -> None:
    """Orders prices baskets from its read model of the catalog: wait until it has every product."""
    import httpx

    headers = {"Authorization": f"Bearer {_token('shopper', 'bench-probe')}"}
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=opts.orders_url, headers=headers, timeout=10.0) as orders:
        for pid in product_ids:
            while (await orders.get(f"/catalog/products/{pid}")).status_code != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"orders did not learn product {pid} within {timeout_s:.0f}s")
                await asyncio.sleep(0.1)


async def _send_all(
    opts: Options, store_id: str, product_ids: list[str], first: int = 0, tokens: list[str] | None = None
) -> list[Sent]:
    """Send every order at its scheduled time, without waiting for earlier answers; what happened.
    `first` numbers the orders of a later step of a sweep on; `tokens` are the shoppers' (one per order
    by default), orders rotate over them."""
    from bench.lean import HTTPFailure, LeanHTTP

    bodies = [
        json.dumps(
            {
                "store_id": store_id,
                "fulfilment": {"mode": "pickup"},
                "lines": [{"product_id": product_ids[(first + i) % len(product_ids)], "quantity": 1}],
            }
        ).encode()
        for i in range(opts.orders)
    ]
    if tokens is None:
        tokens = shopper_tokens(opts)
    sent = [Sent(i, offset) for i, offset in enumerate(schedule(opts.orders, opts.rate))]
    slots = asyncio.Semaphore(opts.concurrency)
    client = LeanHTTP(opts.orders_url, max_connections=opts.concurrency, timeout_s=30.0)
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def send(s: Sent) -> None:
            async with slots:
                s.started_s = loop.time() - t0
                try:
                    status, answer = await client.request(
                        "POST",
                        "/orders",
                        bodies[s.index],
                        {
                            "Authorization": f"Bearer {tokens[(first + s.index) % len(tokens)]}",
                            "Idempotency-Key": str(uuid.uuid4()),
                        },
                    )
                    s.status = status
                    if status == 201:
                        s.order_id = json.loads(answer)["id"]
                    else:
                        s.answer = answer[:300].decode(errors="replace")
                except TimeoutError:
                    s.error = "timeout"
                except HTTPFailure as e:
                    s.error = e.kind
                s.finished_s = loop.time() - t0

        tasks = []
        for s in sent:
            delay = t0 + s.scheduled_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send(s)))
        await asyncio.gather(*tasks)
    finally:
        await client.close()
    return sent


def shopper_tokens(opts: Options) -> list[str]:
    shoppers, _ = shopper_pool(opts.orders, opts.shoppers)
    return [_token("shopper", f"bench-{opts.run_id}-{i}") for i in range(shoppers)]


async def _collect(opts: Options, order_ids: list[str]) -> tuple[dict[str, Timing], int]:
    """Poll GET /orders/{id} until every order left PLACED or the timeout; returns timings and GETs made."""
    import httpx

    headers = {"Authorization": f"Bearer {_token('admin', 'bench-admin')}"}
    timings: dict[str, Timing] = {}
    pending = list(order_ids)
    deadline = time.monotonic() + opts.timeout_s
    slots = asyncio.Semaphore(max(1, min(opts.concurrency, 20)))
    gets = 0
    async with httpx.AsyncClient(base_url=opts.orders_url, headers=headers, timeout=30.0) as client:

        async def look(order_id: str) -> None:
            nonlocal gets
            async with slots:
                try:
                    response = await client.get(f"/orders/{order_id}")
                except httpx.HTTPError:
                    return
                gets += 1
                if response.status_code == 200:
                    timing = timing_of(response.json())
                    if timing is not None:
                        timings[order_id] = timing

        while pending:
            await asyncio.gather(*(look(order_id) for order_id in pending))
            pending = [o for o in pending if o not in timings or timings[o].decided_at is None]
            if not pending or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    return timings, gets


async def _server_facts(database_url: str) -> dict[str, Any]:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return {
            "server_version": await conn.fetchval("SHOW server_version"),
            "fsync": await conn.fetchval("SHOW fsync"),
            "synchronous_commit": await conn.fetchval("SHOW synchronous_commit"),
            "shared_buffers": await conn.fetchval("SHOW shared_buffers"),
        }
    finally:
        await conn.close()


IDLE_WINDOW_S = 3.0


async def _next_xid(database_url: str) -> int:
    """The next transaction id of the whole server. Only writing transactions take an id, so its growth
    counts write transactions (committed or not) in every database, without using one up itself."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
    finally:
        await conn.close()


async def relay_lag(database_url: str, since: datetime) -> dict[str, Any]:
    """Per service, how long the outbox rows written since `since` waited to be published.

    `created_at` is the start of the transaction that wrote the row, so each figure also holds
    that transaction's own time: an upper bound on the relay's lag behind the commit.
    """
    import asyncpg

    from shared.stack import database_url_for

    lags: dict[str, Any] = {
        "what": "outbox row's writing transaction start -> published, ms (an upper bound on the relay's lag)"
    }
    for service in ("orders", "inventory", "dispatch"):
        conn = await asyncpg.connect(database_url_for(database_url, service))
        try:
            rows = await conn.fetch(
                "SELECT extract(epoch FROM published_at - created_at) * 1000 AS ms FROM outbox "
                "WHERE created_at >= $1 AND published_at IS NOT NULL",
                since,
            )
        finally:
            await conn.close()
        lags[service] = summarize([float(r["ms"]) for r in rows])
    return lags


def writes_per_order(before: int, after: int, seconds: float, idle_per_s: float, orders: int) -> float | None:
    """Write transactions per order: the counter's growth less what the idle services write anyway."""
    if orders <= 0:
        return None
    return max(0.0, (after - before) - idle_per_s * seconds) / orders


async def baseline(database_url: str, seconds: float, connections: int) -> dict[str, Any]:
    """Single-row INSERT transactions, autocommit, from `connections` connections, in a scratch database."""
    import asyncpg

    scratch = f"bench_baseline_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{scratch}"')
    try:
        url = database_url_named(database_url, scratch)
        setup = await asyncpg.connect(url)
        await setup.execute(
            "CREATE TABLE baseline (id bigserial PRIMARY KEY, payload text NOT NULL, "
            "created_at timestamptz NOT NULL DEFAULT now())"
        )
        await setup.close()
        conns = [await asyncpg.connect(url) for _ in range(connections)]
        latencies: list[float] = []
        stop_at = time.monotonic() + seconds

        async def insert_until_stop(conn: asyncpg.Connection) -> int:
            done = 0
            while time.monotonic() < stop_at:
                began = time.perf_counter()
                await conn.execute("INSERT INTO baseline (payload) VALUES ($1)", "x" * 100)
                latencies.append((time.perf_counter() - began) * 1000)
                done += 1
            return done

        began = time.monotonic()
        counts = await asyncio.gather(*(insert_until_stop(c) for c in conns))
        elapsed = time.monotonic() - began
        for c in conns:
            await c.close()
        inserts = sum(counts)
        return {
            "what": "single-row INSERT, one autocommit transaction each, into a scratch table",
            "connections": connections,
            "duration_s": round(elapsed, 2),
            "inserts": inserts,
            "inserts_per_s": rounded(rate_of(inserts, elapsed)),
            "latency_ms": summarize(latencies, 2),
        }
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
        await admin.close()


def _proc_cpu() -> tuple[dict[int, int], dict[int, float], dict[int, float]]:
    """Linux /proc: parent of every process, its own CPU seconds, and its reaped children's."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    own: dict[int, float] = {}
    reaped: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        own[pid] = (int(fields[11]) + int(fields[12])) / tick
        reaped[pid] = (int(fields[13]) + int(fields[14])) / tick
    return parents, own, reaped


def cpu_seconds(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process with its descendants, except those named
    themselves (the bench starts the services); Linux only, else empty."""
    if not Path("/proc/self/stat").exists():
        return {}
    parents, own, reaped = _proc_cpu()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    named = set(roots.values())
    totals: dict[str, float] = {}
    for name, root in roots.items():
        total, stack = reaped.get(root, 0.0), [root]
        while stack:
            pid = stack.pop()
            total += own.get(pid, 0.0)
            stack.extend(c for c in children.get(pid, []) if c not in named)  # each tree counted once
        totals[name] = total
    with contextlib.suppress(OSError, ValueError, IndexError):
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        totals[MACHINE] = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
    with contextlib.suppress(OSError, ValueError, IndexError):
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        totals[STALLED] = int(some.rsplit("total=", 1)[1]) / 1e6
    return totals


def _stack_pids(infra: Any) -> dict[str, int]:
    """The processes to account CPU for: the services, the broker, Redis, PostgreSQL and the bench."""
    pids = {p.name: p.popen.pid for p in infra.processes if p.popen is not None}
    if infra.postgres is not None:
        pid_file = infra.postgres.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pids["postgres"] = int(pid_file.read_text().split()[0])
    pids["bench"] = os.getpid()
    return pids


def _git_commit() -> dict[str, Any] | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True, check=True, timeout=5
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return {"commit": commit, "dirty": bool(changed), "changed_files": changed}


def _conditions(opts: Options) -> dict[str, Any]:
    from shared.events.topics import ORDERS
    from shared.settings import get_settings

    settings = get_settings()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "orders": opts.orders,
        "rate_per_s": opts.rate,
        "concurrency": opts.concurrency,
        "products": opts.products,
        "lines_per_order": 1,
        "timeout_s": opts.timeout_s,
        "services": "embedded (started by --start, on free ports)" if opts.embedded else "external",
        "orders_url": opts.orders_url,
        "inventory_url": opts.inventory_url,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git": _git_commit(),
        "service_settings": {
            "db_pool_max": settings.db_pool_max,
            "orders_partitions": ORDERS.partitions,
            "relay_poll_interval_s": settings.relay_poll_interval_s,
        }
        if opts.embedded
        else None,
    }


@dataclass
class Placement:
    """One measured batch of orders: the report's sections, and what the write count needs."""

    report: dict[str, Any]
    placed: int
    counted_s: float
    rate: float | None  # confirmed per second
    order_ids: list[str] = field(default_factory=list)


async def measure_placement(
    opts: Options,
    store_id: str,
    product_ids: list[str],
    tokens: list[str] | None = None,
    watcher: Any = None,
    first: int = 0,
    before_end: Any = None,
) -> Placement:
    """Send `opts.orders` at `opts.rate`, wait for them to be decided (read from the broker by `watcher`,
    else polled), and report placed->confirmed, POST latency, errors and CPU. `before_end` is awaited
    just before the window closes (the write count)."""
    counted_from = time.monotonic()
    cpu_before = cpu_seconds(opts.pids)
    log(f"sending {opts.orders} orders at {opts.rate:g}/s to {opts.orders_url}")
    sent = await _send_all(opts, store_id, product_ids, first, tokens)
    sent_s = time.monotonic() - counted_from
    cpu_sent = cpu_seconds(opts.pids)
    send_window = max((s.started_s or 0) for s in sent) if sent else 0.0
    order_ids = [s.order_id for s in sent if s.order_id]
    log(f"{len(order_ids)} placed; waiting up to {opts.timeout_s:g}s for them to be confirmed")
    gets = 0
    if watcher is not None:
        await watcher.wait_decided(order_ids, opts.timeout_s)
        timings = {o: t for o in order_ids if (t := watcher.timing(o)) is not None}
    else:
        timings, gets = await _collect(opts, order_ids)
    if before_end is not None:
        await before_end()
    counted_s = time.monotonic() - counted_from
    cpu_after = cpu_seconds(opts.pids)

    confirmed = [t for t in timings.values() if t.outcome == "CONFIRMED"]
    rate, window = throughput(timings.values())
    outcomes = Counter(t.outcome for t in timings.values())
    undecided = len(order_ids) - sum(n for o, n in outcomes.items() if o != "PLACED")
    errors = post_errors(sent)
    rejected = {o: n for o, n in outcomes.items() if o not in ("CONFIRMED", "PLACED")}
    errors.update({"not_confirmed": {"rejected_or_other": rejected, "undecided_at_timeout": undecided}})
    errors["total"] = (len(sent) - len(order_ids)) + sum(rejected.values()) + undecided

    created = [s for s in sent if s.status == 201]
    report: dict[str, Any] = {
        "placed_to_confirmed": {
            "confirmed": len(confirmed),
            "orders_per_s": rounded(rate),
            "window_s": rounded(window, 2),
            "latency_ms": summarize([t.latency_ms for t in confirmed if t.latency_ms is not None]),
        },
        "post_orders": {
            "sent": len(sent),
            "created": len(created),
            "offered_rate_per_s": rounded(rate_of(len(sent) - 1, send_window)) if len(sent) > 1 else None,
            "latency_ms": summarize([s.latency_ms for s in created if s.latency_ms is not None]),
            "latency_from_schedule_ms": summarize(
                [s.latency_from_schedule_ms for s in created if s.latency_from_schedule_ms is not None]
            ),
            "start_lag_ms": summarize([((s.started_s or 0) - s.scheduled_s) * 1000 for s in sent]),
        },
        "errors": errors,
        "polling": {"get_requests": gets},
        "confirmations": "read from the broker (linli.orders events, group-less consumer)"
        if watcher is not None
        else "polled with GET /orders/{id}",
    }
    if opts.pids and cpu_after:
        sending = cpu_used(cpu_before, cpu_sent, sent_s)
        report["cpu"] = {
            "what": "average cores busy per process tree (the bench is the load generator and its confirmation "
            "reader), everything else on the machine, and % of time some task waited for a CPU",
            "while_sending": sending,
            "until_all_decided": cpu_used(cpu_before, cpu_after, counted_s),
            "ms_per_placed_order": cpu_ms_per_order(cpu_before, cpu_after, len(order_ids)),
            "ms_per_placed_order_by_process": cpu_ms_by_process(cpu_before, cpu_after, len(order_ids)),
            "load_generator": generator_load(sending.get("cores_busy", {}).get("bench")),
        }
        if report["cpu"]["load_generator"]["hot"]:
            log(f"warning: the load generator itself ran hot ({report['cpu']['load_generator']['cores']} cores)")
    return Placement(report, len(order_ids), counted_s, rate, order_ids)


async def run(opts: Options) -> dict[str, Any]:
    started = datetime.now(UTC)
    conditions = _conditions(opts)
    conditions["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    if opts.database_url:
        conditions["postgres"] = await _server_facts(opts.database_url)

    log(f"creating the bench shop with {opts.products} products at {opts.inventory_url}")
    store_id, product_ids = await _make_shop(opts)
    conditions["shop"] = store_id
    await _wait_for_catalog(opts, product_ids)
    await _fund_shoppers(opts)
    tokens = shopper_tokens(opts)

    watcher = await start_watcher(opts)
    try:
        idle_writes_per_s: float | None = None
        xid_before = None
        if opts.database_url:
            # Background work that writes while idle would be counted too: measure it, to subtract it.
            first = await _next_xid(opts.database_url)
            await asyncio.sleep(IDLE_WINDOW_S)
            xid_before = await _next_xid(opts.database_url)
            idle_writes_per_s = (xid_before - first) / IDLE_WINDOW_S
        xid_after: int | None = None

        async def count_writes() -> None:
            nonlocal xid_after
            if opts.database_url:
                xid_after = await _next_xid(opts.database_url)

        placing_from = datetime.now(UTC)
        placement = await measure_placement(opts, store_id, product_ids, tokens, watcher, before_end=count_writes)
    finally:
        if watcher is not None:
            await watcher.stop()
    conditions["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    rate = placement.rate
    result: dict[str, Any] = {
        "benchmark": "place_orders",
        "started_at": started.isoformat(timespec="seconds"),
        "conditions": conditions,
        **placement.report,
    }
    if xid_before is not None and xid_after is not None and idle_writes_per_s is not None:
        result["db_write_transactions"] = {
            "what": "transaction ids the server assigned while the orders went through (one per writing "
            "transaction, in every database), less the idle rate, per placed order",
            "counted": xid_after - xid_before,
            "over_s": round(placement.counted_s, 1),
            "idle_per_s": round(idle_writes_per_s, 1),
            "per_placed_order": rounded(
                writes_per_order(xid_before, xid_after, placement.counted_s, idle_writes_per_s, placement.placed), 2
            ),
        }
    if opts.database_url:
        result["relay_lag_ms"] = await relay_lag(opts.database_url, placing_from)
    if opts.database_url and opts.baseline_s > 0:
        log(f"baseline: single-row insert transactions for {opts.baseline_s:g}s")
        result["baseline"] = await baseline(opts.database_url, opts.baseline_s, opts.baseline_connections)
        base_rate = result["baseline"]["inserts_per_s"]
        if rate and base_rate:
            result["confirmed_per_s_vs_baseline"] = round(rate / base_rate, 4)
    else:
        result["baseline"] = None
        if not opts.database_url:
            log("no --database-url (nor DATABASE_URL): the baseline was not measured")
    return result


async def start_watcher(opts: Options) -> Any:
    """The confirmation reader on the broker, or None (then orders are polled)."""
    if not opts.kafka:
        return None
    from bench.lean import OrderWatcher
    from shared.events.topics import ORDERS
    from shared.settings import get_settings

    watcher = OrderWatcher(opts.kafka, ORDERS.name, get_settings().consumer_fetch_max_wait_ms)
    await watcher.start()
    return watcher


DEMO_OFF = {"LINLI_DEMO_SEED": "false"}
# What `make run` (linli up) gives a user: the demo neighbourhood and its riders moving by themselves.
DEMO_ON = {"LINLI_DEMO_SEED": "true", "LINLI_RIDER_SIMULATOR": "true", "LINLI_ALLOW_DEV_SIGN_IN": "true"}


def _start_stack(home: Path, env: dict[str, str] | None = None) -> tuple[Any, dict[str, int]]:
    from shared.stack import free_port, start_infrastructure, start_services, wait_healthy

    log("starting PostgreSQL, Redis and the broker (embedded)")
    infra = start_infrastructure(home)
    try:
        ports = {name: free_port() for name in ("orders", "inventory", "dispatch")}
        log(f"starting orders, inventory and dispatch on {ports}")
        processes = start_services(infra, home, ports, env or DEMO_OFF)
        wait_healthy(processes, ports, timeout=120)
    except BaseException:
        infra.stop()
        raise
    return infra, ports


def save(result: dict[str, Any], started: datetime, directory: Path = RESULTS_DIR) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = result_path(started, directory)
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return path


app = typer.Typer(add_completion=False)


@app.command()
def main(
    orders: Annotated[
        int | None, typer.Option(min=1, help="a fixed run: how many orders to place (default 500)")
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.1, help="a fixed run: target orders per second, open loop (default 100)")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="most POSTs in flight at once (fixed run 64, sweep 256)")
    ] = None,
    products: Annotated[int, typer.Option(min=1, help="products in the bench shop; orders rotate over them")] = 10,
    orders_url: Annotated[str, typer.Option(help="the orders service")] = "http://127.0.0.1:8001",
    inventory_url: Annotated[str, typer.Option(help="the inventory service")] = "http://127.0.0.1:8002",
    database_url: Annotated[
        str | None, typer.Option(envvar="DATABASE_URL", help="PostgreSQL server for the baseline (and write counts)")
    ] = None,
    kafka: Annotated[
        str | None,
        typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="the broker: confirmations are read from it, else polled"),
    ] = None,
    start: Annotated[bool, typer.Option(help="start an embedded stack on free ports, stop it afterwards")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for confirmations after sending")] = 120.0,
    baseline_seconds: Annotated[float, typer.Option(help="baseline duration; 0 skips it")] = 5.0,
    baseline_connections: Annotated[int, typer.Option(min=1, help="baseline connections")] = 4,
    results_dir: Annotated[Path, typer.Option(help="where the JSON goes")] = RESULTS_DIR,
    demo: Annotated[
        str, typer.Option(help="demo neighbourhood and rider simulator: off, on, or both (sweep only)")
    ] = "both",
    budget: Annotated[float, typer.Option(help="sweep: bound on the whole run, in seconds")] = 480.0,
    step_seconds: Annotated[float, typer.Option(min=1, help="sweep: each step's length")] = 20.0,
    first_rate: Annotated[float, typer.Option(min=0.1, help="sweep: the first step's rate")] = 50.0,
    precision: Annotated[float, typer.Option(min=0.01, help="sweep: bisect until within this share")] = 0.10,
) -> None:
    """Without --orders or --rate: find the highest sustained rate (a sweep on embedded stacks, demo off and on).
    With them: place orders at that fixed rate and report placed->confirmed throughput and latency."""
    if demo not in ("off", "on", "both"):
        raise typer.BadParameter("--demo is off, on or both")
    if orders is None and rate is None:
        from bench.sweep import Search, SweepOptions, run_sweep, summary_text

        template = Options(
            orders=0,
            rate=1.0,
            concurrency=concurrency or 256,
            products=products,
            orders_url="",
            inventory_url="",
            database_url=None,
            timeout_s=timeout,
            baseline_s=baseline_seconds,
            baseline_connections=baseline_connections,
            embedded=True,
        )
        sweep = SweepOptions(
            modes={"off": ["demo_off"], "on": ["demo_on"], "both": ["demo_off", "demo_on"]}[demo],
            budget_s=budget,
            step_s=step_seconds,
            concurrency=concurrency or 256,
            products=products,
            baseline_s=baseline_seconds,
            baseline_connections=baseline_connections,
            search=Search(first=first_rate, precision=precision),
        )
        result, path = run_sweep(template, sweep, results_dir)
        print(summary_text(result))
        print(f"\nall figures: {path}")
        return
    started = datetime.now(UTC)
    opts = Options(
        orders=orders or 500,
        rate=rate or 100.0,
        concurrency=concurrency or 64,
        products=products,
        orders_url=orders_url,
        inventory_url=inventory_url,
        database_url=database_url,
        timeout_s=timeout,
        baseline_s=baseline_seconds,
        baseline_connections=baseline_connections,
        embedded=start,
        kafka=kafka,
    )
    infra = None
    home = tempfile.TemporaryDirectory(prefix="linli-bench-") if start else None
    try:
        if home is not None:
            infra, ports = _start_stack(Path(home.name), DEMO_ON if demo == "on" else DEMO_OFF)
            opts.orders_url = f"http://127.0.0.1:{ports['orders']}"
            opts.inventory_url = f"http://127.0.0.1:{ports['inventory']}"
            opts.database_url = infra.database_url
            opts.kafka = infra.kafka_bootstrap_servers
            opts.pids = _stack_pids(infra)
        result = asyncio.run(run(opts))
    except BaseException:
        if infra is not None:
            for process in infra.processes:
                log(f"--- {process.name} log tail ---\n{process.tail(20)}")
        raise
    finally:
        if infra is not None:
            log("stopping the embedded stack")
            infra.stop()
        if home is not None:
            home.cleanup()
    path = save(result, started, results_dir)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    log(f"written to {path}")


if __name__ == "__main__":
    app()
