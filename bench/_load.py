"""What the fault drill and the soak share: a stack of their own, a shop, and a steady, patient load.

`SteadyLoad` sends one-line prepaid pickup orders (as `make bench` does) at a fixed rate, open loop,
each with its own Idempotency-Key, and retries every order with the SAME key, after a short
capped pause, until it gets a definite answer: a 2xx, or a 4xx other than 429. A refused
connection, a timeout, a 503 or any other 5xx is retried. Every attempt is recorded with its wall
clock time and outcome, so a fault's window can count what clients saw during it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.lean import HTTPFailure, LeanHTTP

PRICE_FEN = 100
TOP_UP_FEN = 1_000_000  # the cash desk's largest top-up


def log(tool: str, message: str) -> None:
    print(f"[{tool} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def token(role: str, subject: str, store: str | None = None) -> str:
    from shared.auth import issue_token
    from shared.settings import get_settings
    from shared.vocabulary.roles import Role

    return issue_token(get_settings(), Role(role), subject, store)


@dataclass
class Stack:
    """The embedded infrastructure and one instance of each service, all started by us."""

    home: Path
    infra: Any
    processes: dict[str, Any]
    ports: dict[str, int]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def database_url(self, service: str) -> str:
        return str(self.infra.service_database_url(service))

    @property
    def server_url(self) -> str:
        return str(self.infra.database_url)

    @property
    def bootstrap(self) -> str:
        return str(self.infra.kafka_bootstrap_servers)

    def process(self, name: str) -> Any:
        """A process by name: orders, inventory, dispatch, broker or redis."""
        return next(p for p in self.infra.processes if p.name == name)

    def pids(self) -> dict[str, int]:
        """The pid of every process we started now; `postgres` is the postmaster (its backends are children)."""
        pids = {p.name: p.popen.pid for p in self.infra.processes if p.popen is not None and p.alive()}
        pg = self.infra.postgres
        if pg is not None:
            with contextlib.suppress(OSError, ValueError, IndexError):
                pids["postgres"] = int((pg.data_dir / "postmaster.pid").read_text().split()[0])
        return pids

    def stop(self) -> None:
        """Stop everything we started, whatever state a fault left it in (a frozen broker is woken first)."""
        for p in self.infra.processes:
            if p.popen is not None and p.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.popen.pid, signal.SIGCONT)
        self.infra.stop()


def start_stack(home: Path, env: dict[str, str], tool: str) -> Stack:
    """PostgreSQL, Redis, the broker (on free ports, whatever the environment names) and the services."""
    from shared.stack import SERVICES, free_port, start_infrastructure, start_services, wait_healthy

    for name in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        os.environ.pop(name, None)  # always our own: the drill kills and stops what it runs
    log(tool, f"starting PostgreSQL, Redis and the broker (embedded) in {home}")
    infra = start_infrastructure(home)
    try:
        ports = {s: free_port() for s in SERVICES}
        log(tool, f"starting orders, inventory and dispatch on {ports}")
        processes = start_services(infra, home, ports, env)
        wait_healthy(processes, ports, timeout=180)
    except BaseException:
        infra.stop()
        raise
    return Stack(home, infra, processes, ports)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt, so the `finally` that stops the stack runs."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    before = {s: signal.signal(s, interrupt) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)


@dataclass
class Shop:
    store_id: str
    products: list[str]  # orders rotate over these
    initial: dict[str, int]  # on_hand each product started with
    shoppers: list[str]  # subjects, each funded
    scarce: str | None = None  # a product with less stock than orders ask for: some must be refused


async def make_shop(
    stack: Stack, run_id: str, products: int, on_hand: int, shoppers: int, fund_orders: int, scarce_on_hand: int = 0
) -> Shop:
    """A shop that gives an hour to accept, its products, and shoppers funded for `fund_orders` orders each."""
    admin = {"Authorization": f"Bearer {token('admin', 'drill-admin')}"}
    inventory = LeanHTTP(stack.url("inventory"), max_connections=4)
    desk = LeanHTTP(stack.url("orders"), max_connections=8)
    store_id = f"drill-{run_id}"
    try:
        await _ok(
            inventory,
            "PUT",
            f"/admin/locations/{store_id}",
            {
                "kind": "shop",
                "category": "convenience",
                "name_zh": "演练小店",
                "name_en": "Drill shop",
                "lat": 32.04,
                "lon": 118.79,
                "accept_limit_s": 3600,
            },
            admin,
        )
        initial: dict[str, int] = {}
        names = [f"{store_id}-p{n}" for n in range(products)]
        scarce = f"{store_id}-scarce" if scarce_on_hand else None
        for pid in [*names, *([scarce] if scarce else [])]:
            stock = scarce_on_hand if pid == scarce else on_hand
            await _ok(
                inventory,
                "PUT",
                f"/admin/products/{pid}",
                {
                    "location_id": store_id,
                    "name_zh": "商品",
                    "name_en": f"Product {pid}",
                    "category": "drill",
                    "unit": "piece",
                    "price_fen": PRICE_FEN,
                    "on_hand": stock,
                },
                admin,
            )
            initial[pid] = stock
        subjects = [f"drill-{run_id}-{i}" for i in range(shoppers)]
        amount = fund_orders * PRICE_FEN
        for subject in subjects:
            part, left = 0, amount
            while left > 0:
                now = min(left, TOP_UP_FEN)
                await _ok(
                    desk,
                    "POST",
                    "/balance/top-ups",
                    {"holder": subject, "amount_fen": now},
                    {**admin, "Idempotency-Key": f"{subject}-top-up-{part}"},
                )
                left, part = left - now, part + 1
        deadline = time.monotonic() + 60
        for pid in initial:  # orders prices baskets from its read model of the catalog
            while (await desk.request("GET", f"/catalog/products/{pid}", None, admin))[0] != 200:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"orders did not learn product {pid} within 60 s")
                await asyncio.sleep(0.2)
    finally:
        await inventory.close()
        await desk.close()
    return Shop(store_id, [*names, *([scarce] if scarce else [])], initial, subjects, scarce)


async def _ok(client: LeanHTTP, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
    status, answer = await client.request(method, path, body, headers)
    if status >= 300:
        raise RuntimeError(f"{method} {path} answered {status}: {answer[:300]!r}")


def outcome_of(status: int | None, error: str | None) -> str:
    """How one attempt ended, as the fault table counts it: '201', '503', 'refused', 'timeout', ..."""
    if status is not None:
        return str(status)
    if error in ("ConnectionRefusedError",):
        return "refused"
    return error or "?"


def definite(status: int) -> bool:
    """An answer the client keeps: success or a refusal that retrying cannot change."""
    return status < 500 and status != 429


@dataclass
class Placed:
    """One order as the client sees it: its key, its attempts and the answer it kept."""

    index: int
    key: str
    first_sent: float | None = None  # wall clock
    status: int | None = None  # the definite answer
    order_id: str | None = None
    attempts: list[tuple[float, str]] = field(default_factory=list)  # (wall clock, outcome)
    cancel_status: int | None = None  # the definite answer to its cancel, for the orders the load cancels
    cancel_attempts: int = 0
    cancel_answer: str | None = None  # the start of a refused cancel's answer


class SteadyLoad:
    """Open-loop orders at `rate`, each retried with its own key until a definite answer or `give_up_at`.

    With `cancel_every` = n, the shopper of every n-th acknowledged order cancels it 0-3 s later
    (POST /orders/{id}/cancel with a key of its own, retried the same way).
    """

    def __init__(self, stack: Stack, shop: Shop, rate: float, timeout_s: float = 10.0, cancel_every: int = 0) -> None:
        self.stack, self.shop, self.rate, self.cancel_every = stack, shop, rate, cancel_every
        self.client = LeanHTTP(stack.url("orders"), max_connections=64, timeout_s=timeout_s)
        self.tokens = [token("shopper", s) for s in shop.shoppers]
        self.orders: list[Placed] = []
        self.give_up_at = float("inf")  # wall clock; set when the load stops
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self.run_id = uuid.uuid4().hex[:6]

    def start(self) -> None:
        self._runner = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        t0, n = loop.time(), 0
        while not self._stop.is_set():
            delay = t0 + n / self.rate - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
                continue
            placed = Placed(n, f"{self.run_id}-{n}")
            self.orders.append(placed)
            task = asyncio.create_task(self._place(placed))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            n += 1

    def body(self, index: int) -> bytes:
        products = self.shop.products
        return json.dumps(
            {
                "store_id": self.shop.store_id,
                "fulfilment": {"mode": "pickup"},
                "lines": [{"product_id": products[index % len(products)], "quantity": 1}],
            }
        ).encode()

    async def _place(self, placed: Placed) -> None:
        await self._post_until_answered(placed, "/orders", self.body(placed.index), placed.key)
        if placed.order_id and self.cancel_every and placed.index % self.cancel_every == self.cancel_every - 1:
            await asyncio.sleep(3 * (placed.index * 7919 % 100) / 100)  # 0-3 s: before and after it confirms
            await self._post_until_answered(placed, f"/orders/{placed.order_id}/cancel", b"{}", f"{placed.key}-cancel")

    async def _post_until_answered(self, placed: Placed, path: str, body: bytes, key: str) -> None:
        cancelling = path != "/orders"
        headers = {
            "Authorization": f"Bearer {self.tokens[placed.index % len(self.tokens)]}",
            "Idempotency-Key": key,
        }
        pause = 0.25
        while time.time() < self.give_up_at:
            at = time.time()
            if placed.first_sent is None:
                placed.first_sent = at
            status: int | None = None
            error: str | None = None
            answer = b""
            try:
                status, answer = await self.client.request("POST", path, body, headers)
            except TimeoutError:
                error = "timeout"
            except HTTPFailure as e:
                error = e.kind
            if cancelling:
                placed.cancel_attempts += 1
            else:
                placed.attempts.append((at, outcome_of(status, error)))
            if status is not None and definite(status):
                if cancelling:
                    placed.cancel_status = status
                    if status != 200:
                        placed.cancel_answer = answer[:200].decode(errors="replace")
                else:
                    placed.status = status
                    if status == 201:
                        placed.order_id = str(json.loads(answer)["id"])
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)

    async def stop(self, answer_within_s: float) -> None:
        """Send no more; give every order `answer_within_s` to get its definite answer, then give up."""
        self._stop.set()
        if self._runner is not None:
            await self._runner
        self.give_up_at = time.time() + answer_within_s
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=answer_within_s + 15)
        for task in list(self._tasks):
            task.cancel()
        await self.client.close()

    def acknowledged(self) -> dict[str, str]:
        return {p.key: p.order_id for p in self.orders if p.order_id is not None}

    def unanswered(self) -> int:
        """Orders that never got a definite answer."""
        return sum(1 for p in self.orders if p.status is None)

    def unanswered_cancels(self) -> int:
        return sum(1 for p in self.orders if p.cancel_attempts and p.cancel_status is None)

    def cancel_refused(self) -> list[str]:
        """Orders whose cancel was refused (a 4xx)."""
        return [
            p.order_id for p in self.orders if p.order_id and p.cancel_status is not None and p.cancel_status >= 400
        ]

    def cancelled(self) -> list[str]:
        """Orders whose cancel was answered 200."""
        return [p.order_id for p in self.orders if p.order_id and p.cancel_status == 200]

    def outcomes_between(self, start: float, end: float) -> Counter[str]:
        """Every attempt's outcome in [start, end), 201s included."""
        return Counter(o for p in self.orders for at, o in p.attempts if start <= at < end)
