"""`make chaos`: the fault drill. Faults one after another under a steady load, then the promises.

It starts an embedded stack of its own on free ports (PostgreSQL, Redis, the broker and one
instance of each service) and places a steady load of one-line prepaid pickup orders, each
retried with the SAME Idempotency-Key until it gets a definite answer (bench/_load.py). Some
orders ask for a scarce product, so some must be refused and refunded. Then, one after another,
each followed by a wait until new orders confirm again and the backlog is decided:

1. SIGKILL of orders, then of inventory, then of dispatch, each started again after a moment;
2. the broker frozen with SIGSTOP for 10 s, then SIGCONT;
3. PostgreSQL stopped hard (`pg_ctl stop -m immediate`: no checkpoint, crash recovery on start)
   and started again;
4. Redis stopped (SIGKILL) and started again, empty;
5. malformed messages published to every topic a service consumes (not JSON; JSON that is no
   envelope).

Then the load stops and it checks, reading each service's own database directly (an operator
tool, not a service), the promises in bench/_invariants.py: every acknowledged order exists once,
none is stuck, stock is conserved and never oversold, nothing is applied twice, balances equal
their ledgers, outboxes are drained, and the DLQ holds exactly the malformed messages (read until
the broker returns no more, as `linli dlq list` does). It prints a table per fault and exits 1 on
any violation (2 if the drill itself could not run). Every process it started is stopped at the
end, also on Ctrl-C or failure.

    python -m bench.chaos [--rate 20] [--write-docs docs/operations.md]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bench import _invariants as inv
from bench._load import Shop, Stack, SteadyLoad, log, make_shop, start_stack, terminate_as_interrupt

console = Console(width=None if Console().is_terminal else 160)
GARBAGE_MARKER = "chaos-garbage"
RESULTS = Path(__file__).resolve().parent / "results"
DRILL_ENV = {
    "LINLI_DEMO_SEED": "false",
    "LINLI_ACCEPT_LIMIT_S": "3600",  # no order lapses during the drill: every decision is the system's
    "LINLI_RELAY_POLL_INTERVAL_S": "0.5",
}


def _say(message: str) -> None:
    log("chaos", message)


@dataclass
class Fault:
    """One fault as it happened: when it was injected and removed, and what followed."""

    name: str
    injected: float = 0.0  # wall clock
    restored: float = 0.0  # the moment the thing is back (process started, server up, resumed)
    healthy_s: float | None = None  # a restarted service: seconds until its /health answered 200
    waited_s: float | None = None  # how long the drill waited for recovery before the next fault
    recovered: bool = False
    note: str = ""
    row: dict[str, Any] = field(default_factory=dict)


# --- reading the databases -----------------------------------------------------------------------


async def _fetch(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args, timeout=30)]
    finally:
        await conn.close()


async def _try_fetch(url: str, sql: str, *args: Any) -> list[dict[str, Any]] | None:
    try:
        return await _fetch(url, sql, *args)
    except Exception:  # the server is away (a fault), or starting: ask again later
        return None


async def _statuses(stack: Stack, shop: Shop) -> dict[str, str] | None:
    rows = await _try_fetch(
        stack.database_url("orders"), "SELECT id, status FROM orders WHERE store_id = $1", shop.store_id
    )
    return None if rows is None else {str(r["id"]): str(r["status"]) for r in rows}


async def _pending_outboxes(stack: Stack) -> dict[str, int]:
    from shared.stack import SERVICES

    pending = {}
    for service in SERVICES:
        rows = await _fetch(stack.database_url(service), "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
        pending[service] = int(rows[0]["n"])
    return pending


# --- the faults ----------------------------------------------------------------------------------


async def _blocking(fn: Callable[[], Any]) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, fn)


async def kill_service(stack: Stack, fault: Fault, service: str, down_s: float) -> None:
    from shared.stack import wait_healthy

    process = stack.process(service)
    assert process.popen is not None
    fault.injected = time.time()
    process.popen.kill()  # SIGKILL: no goodbye to the group, no transaction finished politely
    await _blocking(process.popen.wait)
    await asyncio.sleep(down_s)
    process.start()
    fault.restored = time.time()
    await _blocking(lambda: wait_healthy({service: process}, stack.ports, timeout=120))
    fault.healthy_s = round(time.time() - fault.restored, 1)


async def freeze_broker(stack: Stack, fault: Fault, frozen_s: float) -> None:
    pid = stack.process("broker").popen.pid
    fault.injected = time.time()
    os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(frozen_s)
    finally:
        os.kill(pid, signal.SIGCONT)
    fault.restored = time.time()


async def stop_postgres(stack: Stack, fault: Fault, down_s: float) -> None:
    from shared.stack import _pg_bin, _run_as

    pg = stack.infra.postgres
    fault.injected = time.time()
    stopped = await _blocking(
        lambda: subprocess.run(  # noqa: PLW1510  # read below
            [str(_pg_bin("pg_ctl")), "-D", str(pg.data_dir), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            text=True,
            **_run_as(pg.user),  # type: ignore[call-overload]
        )
    )
    if stopped.returncode != 0:
        raise RuntimeError(f"pg_ctl stop -m immediate failed: {stopped.stderr.strip()}")
    await asyncio.sleep(down_s)
    await _blocking(lambda: pg.start(keep=True))  # crash recovery, then accepting connections
    fault.restored = time.time()


async def stop_redis(stack: Stack, fault: Fault, down_s: float) -> None:
    from shared.stack import wait_for_port

    redis = stack.process("redis")
    assert redis.popen is not None
    port = int(stack.infra.redis_url.rsplit(":", 1)[1].split("/")[0])
    fault.injected = time.time()
    redis.popen.kill()
    await _blocking(redis.popen.wait)
    await asyncio.sleep(down_s)
    redis.start()
    await _blocking(lambda: wait_for_port(port))
    fault.restored = time.time()


def consumer_groups() -> dict[str, int]:
    """How many consumer groups read each topic, from the services' own declarations."""
    import importlib

    from shared.stack import SERVICES

    groups: Counter[str] = Counter()
    for service in SERVICES:
        spec = importlib.import_module(f"services.{service}.entrypoints.app").SPEC
        for sub in spec.subscriptions:
            groups[sub.topic.name] += 1
    return dict(groups)


GARBAGE = (b"\x00\xff not JSON at all {", b'{"chaos": "JSON, but no envelope"}')


async def send_garbage(stack: Stack, fault: Fault, topics: list[str]) -> dict[str, int]:
    """Each garbage message once to each topic; returns how many went to each."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all")
    await producer.start()
    sent: Counter[str] = Counter()
    fault.injected = time.time()
    try:
        for topic in topics:
            for n, value in enumerate(GARBAGE):
                key = f"{GARBAGE_MARKER}-{topic}-{n}".encode()
                await producer.send_and_wait(topic, value=value, key=key)
                sent[topic] += 1
    finally:
        await producer.stop()
    fault.restored = time.time()
    return dict(sent)


async def wait_recovered(stack: Stack, shop: Shop, load: SteadyLoad, fault: Fault, within_s: float) -> None:
    """Until an order first sent after the fault's end is confirmed and nothing older than 5 s is PLACED."""
    began = time.monotonic()
    while time.monotonic() - began < within_s:
        statuses = await _statuses(stack, shop)
        if statuses is not None:
            fresh = [p.order_id for p in load.orders if p.order_id and (p.first_sent or 0) >= fault.restored]
            confirmed = any(statuses.get(o) == "CONFIRMED" for o in fresh)
            old = time.time() - 5
            backlog = [
                p
                for p in load.orders
                if p.order_id and (p.first_sent or 0) < old and statuses.get(p.order_id) == "PLACED"
            ]
            if confirmed and not backlog:
                fault.recovered = True
                break
        await asyncio.sleep(1.0)
    fault.waited_s = round(time.monotonic() - began, 1)


class Replayer:
    """Twice a second, POSTs the newest acknowledged order again with its key and body (httpx, which
    shows headers): it must name the same order, or answer 503 with Retry-After, or not answer."""

    def __init__(self, stack: Stack, load: SteadyLoad) -> None:
        self.stack, self.load = stack, load
        self.answers: list[tuple[int | None, bool, bool]] = []  # (status, Retry-After, same order)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        import httpx

        async with httpx.AsyncClient(base_url=self.stack.url("orders"), timeout=10) as client:
            while True:
                await asyncio.sleep(0.5)
                acked = next((p for p in reversed(self.load.orders) if p.order_id), None)
                if acked is None:
                    continue
                headers = {
                    "Authorization": f"Bearer {self.load.tokens[acked.index % len(self.load.tokens)]}",
                    "Idempotency-Key": acked.key,
                    "Content-Type": "application/json",
                }
                try:
                    answer = await client.post("/orders", content=self.load.body(acked.index), headers=headers)
                except httpx.HTTPError:
                    self.answers.append((None, False, False))
                    continue
                same = answer.status_code == 201 and answer.json().get("id") == acked.order_id
                self.answers.append((answer.status_code, "retry-after" in answer.headers, same))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Options:
    rate: float
    baseline_s: float
    down_s: float
    freeze_s: float
    pg_down_s: float
    redis_down_s: float
    recover_within_s: float
    settle_s: float
    answer_within_s: float
    decide_within_s: float
    cancel_every: int
    faults_by: float = float("inf")  # monotonic: no fault starts after this


async def drill(
    stack: Stack, groups: dict[str, int], opts: Options
) -> tuple[list[Fault], list[inv.Violation], dict[str, Any]]:
    from shared.events.topics import ALL_TOPICS

    run_id = os.urandom(3).hex()
    expected_rate_orders = int(opts.rate * 600)  # more than the drill can send in its 10 minutes
    shop = await make_shop(
        stack,
        run_id,
        products=5,
        on_hand=expected_rate_orders,
        shoppers=40,
        fund_orders=expected_rate_orders // 20,
        scarce_on_hand=int(opts.rate * 20),  # the scarce product (1 order in 6) runs out after ~2 minutes
    )
    _say(f"shop {shop.store_id} ready; load at {opts.rate}/s")
    load = SteadyLoad(stack, shop, opts.rate, cancel_every=opts.cancel_every)
    load.start()
    replayer = Replayer(stack, load)
    replayer.start()
    began = time.time()
    faults: list[Fault] = []
    baseline = Fault("none (baseline)", injected=began, restored=began, recovered=True)
    faults.append(baseline)
    await asyncio.sleep(opts.baseline_s)

    steps: list[tuple[str, Callable[[Fault], Awaitable[Any]]]] = [
        *[
            (f"SIGKILL {s} + restart", lambda f, s=s: kill_service(stack, f, s, opts.down_s))
            for s in ("orders", "inventory", "dispatch")
        ],
        (f"broker SIGSTOP {opts.freeze_s:.0f} s", lambda f: freeze_broker(stack, f, opts.freeze_s)),
        (f"PostgreSQL immediate stop, {opts.pg_down_s:.0f} s down", lambda f: stop_postgres(stack, f, opts.pg_down_s)),
        (f"Redis stop, {opts.redis_down_s:.0f} s down", lambda f: stop_redis(stack, f, opts.redis_down_s)),
    ]
    consumed = [t.name for t in ALL_TOPICS if groups.get(t.name)]
    garbage_sent: dict[str, int] = {}

    async def garbage(f: Fault) -> None:
        garbage_sent.update(await send_garbage(stack, f, consumed))

    steps.append((f"malformed messages ({len(GARBAGE) * len(consumed)})", garbage))
    skipped: list[str] = []
    for name, inject in steps:
        left = opts.faults_by - time.monotonic()
        if left < 30:  # the checks need their time: the drill stays within its budget
            skipped.append(name)
            continue
        fault = Fault(name)
        faults.append(fault)
        _say(f"fault: {name}")
        await inject(fault)
        await wait_recovered(stack, shop, load, fault, min(opts.recover_within_s, max(10.0, left - 20)))
        _say(f"  back after {fault.restored - fault.injected:.1f} s; recovered={fault.recovered} ({fault.waited_s} s)")
        await asyncio.sleep(opts.settle_s)

    load_stopped = time.time()
    _say(f"load stops after {len(load.orders)} orders; waiting for every answer")
    await replayer.stop()
    await load.stop(opts.answer_within_s)

    _say("waiting until every order is decided and every outbox drained")
    deadline = time.monotonic() + opts.decide_within_s
    while time.monotonic() < deadline:
        statuses = await _statuses(stack, shop) or {}
        if statuses and "PLACED" not in statuses.values() and not any((await _pending_outboxes(stack)).values()):
            break
        await asyncio.sleep(1.0)
    decided_after_s = round(time.time() - load_stopped, 1)
    await asyncio.sleep(3)  # the consumers apply what the relays just published

    violations, rows = await check(stack, shop, load, groups, garbage_sent)
    violations += inv.replays_consistent(replayer.answers)
    violations += [
        inv.Violation("recovers", f"{f.name}: no order sent after it was confirmed within {f.waited_s} s")
        for f in faults
        if not f.recovered
    ]
    if skipped:
        violations.append(inv.Violation("drill budget", f"out of time, not injected: {', '.join(skipped)}"))
    _describe(faults, load, rows, load_stopped)
    facts = {
        "orders_sent": len(load.orders),
        "acknowledged": len(load.acknowledged()),
        "unanswered": load.unanswered(),
        "refusals": dict(Counter(str(p.status) for p in load.orders if p.status not in (None, 201))),
        "cancels": dict(Counter(str(p.cancel_status) for p in load.orders if p.cancel_attempts)),
        "cancel_refusals": dict(Counter((p.cancel_answer or "")[:120] for p in load.orders if p.cancel_answer)),
        "statuses": dict(Counter(o["status"] for o in rows["orders"])),
        "decided_after_load_s": decided_after_s,
        "garbage_sent": sum(garbage_sent.values()),
        "dead_letters": sum(len(v) for v in rows["letters"].values()),
        "load_s": round(load_stopped - began, 1),
        "replays": dict(Counter(str(status) for status, _, _ in replayer.answers)),
        "events": rows["events"],
    }
    return faults, violations, facts


async def check(
    stack: Stack, shop: Shop, load: SteadyLoad, groups: dict[str, int], garbage_sent: dict[str, int]
) -> tuple[list[inv.Violation], dict[str, Any]]:
    from shared import dead_letters

    orders_db, inventory_db = stack.database_url("orders"), stack.database_url("inventory")
    products = list(shop.initial)
    orders = await _fetch(orders_db, "SELECT id, status FROM orders WHERE store_id = $1", shop.store_id)
    ids = [str(o["id"]) for o in orders]
    lines = await _fetch(
        orders_db, "SELECT order_id, product_id, stock_quantity FROM order_lines WHERE order_id = any($1::text[])", ids
    )
    ledger = await _fetch(
        orders_db,
        "SELECT id, holder, order_id, kind, account, amount_fen, balance_after_fen FROM ledger_entries "
        "WHERE holder = any($1::text[])",
        shop.shoppers,
    )
    balances = await _fetch(
        orders_db, "SELECT holder, balance_fen FROM balances WHERE holder = any($1::text[])", shop.shoppers
    )
    timeline = await _fetch(
        orders_db,
        "SELECT order_id, status, extract(epoch FROM at)::float8 AS at FROM order_timeline "
        "WHERE order_id = any($1::text[])",
        ids,
    )
    stock = await _fetch(
        inventory_db, "SELECT product_id, on_hand, reserved FROM stock WHERE product_id = any($1::text[])", products
    )
    holds = await _fetch(
        inventory_db, "SELECT order_id, product_id, quantity FROM holds WHERE product_id = any($1::text[])", products
    )
    reservations = await _fetch(
        inventory_db, "SELECT order_id, status FROM reservations WHERE store_id = $1", shop.store_id
    )
    committed_rows = await _fetch(
        inventory_db,
        "SELECT rl.product_id, sum(rl.quantity)::bigint AS n FROM reservation_lines rl "
        "JOIN reservations r USING (order_id) WHERE r.store_id = $1 AND r.status = 'committed' GROUP BY 1",
        shop.store_id,
    )
    reserve_moves = await _fetch(
        inventory_db,
        "SELECT order_id, product_id FROM stock_movements WHERE product_id = any($1::text[]) AND reserved_delta > 0",
        products,
    )
    pending = await _pending_outboxes(stack)
    found: dict[str, int] = {}
    for service in ("orders", "inventory", "dispatch"):
        url = stack.database_url(service)
        for r in await _fetch(url, "SELECT event_type, count(*) AS n FROM outbox GROUP BY 1"):
            found[f"{service} outbox {r['event_type']}"] = int(r["n"])
        for r in await _fetch(url, "SELECT consumer, event_type, count(*) AS n FROM inbox GROUP BY 1, 2"):
            found[f"{service} inbox {r['consumer']} {r['event_type']}"] = int(r["n"])
    letters: dict[str, list[dict[str, Any]]] = {}
    for topic in groups:
        letters[topic] = [{"key": d.key, "error": d.error} for d in await dead_letters.read(stack.bootstrap, topic)]

    status = {str(o["id"]): str(o["status"]) for o in orders}
    kept: Counter[str] = Counter()
    for line in lines:
        if status.get(str(line["order_id"])) not in inv.REFUNDED_WHEN:
            kept[str(line["product_id"])] += int(line["stock_quantity"])
    statuses_seen: Counter[int] = Counter()
    for p in load.orders:
        for _, outcome in p.attempts:
            if outcome.isdigit():
                statuses_seen[int(outcome)] += 1

    expected = inv.expected_events(timeline)
    found = inv.with_sums(found, expected)
    violations = [
        *inv.events_flowed_once(expected, found),
        *inv.acknowledged_orders_exist_once(load.acknowledged(), orders, load.unanswered()),
        *inv.no_order_stuck(orders),
        *inv.stock_conserved(
            shop.initial, stock, holds, reservations, {str(r["product_id"]): int(r["n"]) for r in committed_rows}
        ),
        *inv.never_oversold(shop.initial, kept),
        *inv.orders_agree_with_reservations(orders, reservations),
        *inv.applied_once(orders, ledger, timeline, reserve_moves),
        *inv.balances_match_ledgers(balances, ledger),
        *inv.outboxes_drained(pending),
        *inv.dead_letters_only_malformed(inv.expected_dead_letters(garbage_sent, groups), letters, GARBAGE_MARKER),
        *inv.server_errors(statuses_seen),
    ]
    violations += inv.cancels_held(load.cancelled(), orders)
    violations += inv.cancel_refusals_explained(load.cancel_refused(), orders)
    if load.unanswered_cancels():
        violations.append(inv.Violation("every cancel answered", f"{load.unanswered_cancels()} cancels never answered"))
    if load.unanswered():
        violations.append(
            inv.Violation("every order answered", f"{load.unanswered()} keys never got a definite answer")
        )
    events = {k: found.get(k, 0) for k in expected}
    return violations, {"orders": orders, "timeline": timeline, "letters": letters, "events": events}


def _describe(faults: list[Fault], load: SteadyLoad, rows: dict[str, Any], load_stopped: float) -> None:
    """Each fault's row: what clients saw during it and how long confirmations stopped."""
    confirmed_at = {str(t["order_id"]): float(t["at"]) for t in rows["timeline"] if t["status"] == "CONFIRMED"}
    confirmations = sorted(confirmed_at.values())
    sent = [(p.first_sent or 0.0, confirmed_at.get(p.order_id or "")) for p in load.orders]
    for i, fault in enumerate(faults):
        until = faults[i + 1].injected if i + 1 < len(faults) else load_stopped
        outcomes = load.outcomes_between(fault.injected, until)
        hit = sum(1 for p in load.orders if any(fault.injected <= at < until and o != "201" for at, o in p.attempts))
        errors = {k: n for k, n in sorted(outcomes.items()) if k != "201"}
        recover = inv.recovery_s(sent, fault.restored)
        window_end = fault.restored + (recover or 0.0)
        fault.row = {
            "fault": fault.name,
            "down_s": round(fault.restored - fault.injected, 1),
            "attempts": sum(outcomes.values()),
            "client_errors": sum(errors.values()),
            "orders_hit": hit,
            "error_kinds": errors,
            "no_confirmation_s": round(
                inv.longest_gap(confirmations, fault.injected, max(window_end, fault.injected + 1)), 1
            ),
            "recover_s": None if recover is None else round(recover, 1),
            "healthy_s": fault.healthy_s,
        }


COLUMNS = (
    "fault",
    "down s",
    "attempts",
    "client errors",
    "orders hit",
    "what clients saw",
    "no confirmation s",
    "recover s",
    "healthy s",
)


def cells(r: dict[str, Any]) -> list[str]:
    """One fault's row, in COLUMNS order."""
    return [
        r["fault"],
        f"{r['down_s']:.1f}",
        str(r["attempts"]),
        str(r["client_errors"]),
        str(r["orders_hit"]),
        ", ".join(f"{k} {n}" for k, n in r["error_kinds"].items()) or "-",
        f"{r['no_confirmation_s']:.1f}",
        "-" if r["recover_s"] is None else f"{r['recover_s']:.1f}",
        "-" if r["healthy_s"] is None else f"{r['healthy_s']:.1f}",
    ]


def table(faults: list[Fault]) -> Table:
    t = Table(title="Fault drill")
    for col in COLUMNS:
        t.add_column(col)
    for f in faults:
        t.add_row(*cells(f.row))
    return t


def markdown(
    faults: list[Fault], violations: list[inv.Violation], facts: dict[str, Any], conditions: dict[str, Any]
) -> str:
    lines = [
        f"Latest run: {conditions['date']}, {conditions['machine']}, git {conditions['git']}, "
        f"{facts['load_s']:.0f} s of load at {conditions['rate']}/s, the whole drill {conditions['wall_s']:.0f} s.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cells(f.row)) + " |" for f in faults]
    lines += [
        "",
        f"Orders: {facts['orders_sent']} sent, {facts['acknowledged']} acknowledged, {facts['unanswered']} unanswered, "
        f"refusals {facts['refusals'] or 'none'}; cancels sent 0-3 s after the answer, by answer: "
        f"{facts['cancels'] or 'none'} (refusals: {facts['cancel_refusals'] or 'none'}); "
        f"final statuses {facts['statuses']}; all decided "
        f"{facts['decided_after_load_s']} s after the load stopped. Malformed messages sent: {facts['garbage_sent']}; "
        f"dead letters found: {facts['dead_letters']}. Replays of an answered key (twice a second, by status): "
        f"{facts['replays']}. Events in the outboxes and inboxes: "
        + ", ".join(f"{k} {n}" for k, n in facts["events"].items())
        + ".",
        "",
        "Invariants: " + ("all held." if not violations else f"{len(violations)} violated:"),
    ]
    lines += [f"- {v}" for v in violations]
    return "\n".join(lines)


DOCS_BEGIN, DOCS_END = "<!-- chaos:latest -->", "<!-- /chaos:latest -->"


def write_docs(path: Path, text: str) -> None:
    """Replace the latest figures between the markers of the "Fault drill" section."""
    doc = path.read_text()
    if DOCS_BEGIN not in doc:
        raise RuntimeError(f"{path} has no {DOCS_BEGIN} marker in its Fault drill section")
    new = re.sub(
        re.escape(DOCS_BEGIN) + r".*?" + re.escape(DOCS_END),
        lambda _: f"{DOCS_BEGIN}\n{text}\n{DOCS_END}",
        doc,
        flags=re.S,
    )
    path.write_text(new)


def conditions(opts: Options, wall_s: float, load_before: tuple[float, ...]) -> dict[str, Any]:
    from bench.place_orders import _git_commit

    git = _git_commit() or {}
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before and "
        f"{os.getloadavg()[0]:.1f} after (shared with other work), Python {platform.python_version()}",
        "git": (git.get("commit") or "?")[:7] + (" (dirty tree)" if git.get("dirty") else ""),
        "rate": opts.rate,
        "wall_s": wall_s,
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    rate: Annotated[float, typer.Option(min=1, help="orders per second, open loop")] = 20,
    baseline_s: Annotated[float, typer.Option(help="seconds of load before the first fault")] = 15,
    down_s: Annotated[float, typer.Option(help="seconds a killed service stays down")] = 2,
    freeze_s: Annotated[float, typer.Option(help="seconds the broker stays frozen (SIGSTOP)")] = 10,
    pg_down_s: Annotated[
        float, typer.Option(help="seconds PostgreSQL stays down (longer than the consumers' 30 s retry window)")
    ] = 40,
    redis_down_s: Annotated[float, typer.Option(help="seconds Redis stays down")] = 10,
    recover_within_s: Annotated[float, typer.Option(help="most seconds to wait for recovery after a fault")] = 90,
    settle_s: Annotated[float, typer.Option(help="seconds of plain load between faults")] = 5,
    answer_within_s: Annotated[float, typer.Option(help="after the load: seconds every order has for its answer")] = 60,
    decide_within_s: Annotated[
        float, typer.Option(help="after the load: seconds until every order must be decided")
    ] = 60,
    write_docs_to: Annotated[
        Path | None, typer.Option("--write-docs", help="put the table into this file's Fault drill section")
    ] = None,
    cancel_every: Annotated[int, typer.Option(help="the shopper cancels every n-th order (0: none)")] = 10,
    budget_s: Annotated[
        float, typer.Option(help="the whole drill's seconds: faults that would not fit are skipped (a violation)")
    ] = 570,
    keep_home: Annotated[bool, typer.Option(help="keep the stack's data and logs (kept anyway on failure)")] = False,
) -> None:
    """Faults one after another under a steady load, then check every promise; exit 1 on a violation."""
    opts = Options(
        rate,
        baseline_s,
        down_s,
        freeze_s,
        pg_down_s,
        redis_down_s,
        recover_within_s,
        settle_s,
        answer_within_s,
        decide_within_s,
        cancel_every,
    )
    home = Path(tempfile.mkdtemp(prefix="linli-chaos-"))
    began, load_before = time.monotonic(), os.getloadavg()
    opts.faults_by = began + budget_s - (answer_within_s + decide_within_s + 40)  # the rest is for the checks
    stack: Stack | None = None
    failed = True
    with terminate_as_interrupt():
        try:
            groups = consumer_groups()  # before anything starts: a service that cannot be imported fails fast
            stack = start_stack(home, DRILL_ENV, "chaos")
            faults, violations, facts = asyncio.run(drill(stack, groups, opts))
            failed = bool(violations)
        except Exception as e:  # the drill itself could not run: say why, stop everything, exit 2
            console.print_exception()
            console.print(f"[red]the drill could not run: {e!r}[/red]")
            raise typer.Exit(2) from e
        finally:
            if stack is not None:
                _say("stopping everything the drill started")
                stack.stop()
            if failed or keep_home:
                _say(f"data and logs kept in {home}")
            else:
                shutil.rmtree(home, ignore_errors=True)
    console.print(table(faults))
    cond = conditions(opts, time.monotonic() - began, load_before)
    text = markdown(faults, violations, facts, cond)
    console.print(text.split("\n\n", 2)[-1])
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"chaos-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    record = {
        "faults": [f.row for f in faults],
        "facts": facts,
        "violations": [str(v) for v in violations],
        "conditions": cond,
    }
    out.write_text(json.dumps(record, indent=2, default=str))
    _say(f"JSON in {out}")
    if write_docs_to is not None:
        write_docs(write_docs_to, text)
        _say(f"wrote the figures into {write_docs_to}")
    raise typer.Exit(1 if violations else 0)


if __name__ == "__main__":
    app()
