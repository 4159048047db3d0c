"""PostgreSQL stopped hard under a steady stream of orders, and kept down far longer than the
consumers' retry window: nothing is dead-lettered, every acknowledged order exists once and is
decided, each is paid once, and no request was answered 500 meanwhile.

It runs on a stack of its own, since it stops the PostgreSQL every service uses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import issue_token
from shared.settings import Settings
from shared.stack import (
    SERVICES,
    EmbeddedPostgres,
    Infrastructure,
    Process,
    free_port,
    start_infrastructure,
    start_services,
    wait_healthy,
)
from shared.vocabulary.roles import Role
from tests.e2e.conftest import E2E_ENV
from tests.waiting import eventually

RETRY_WINDOW_S = 3
OUTAGE_S = 15  # five retry windows: before outages paused, every event in flight was dead-lettered
RATE_PER_S = 4
SENDING_S = 24
STOP_AFTER_S = 4
PRICE_FEN = 300
FLOAT_FEN = 1_000_000

pytestmark = pytest.mark.skipif(
    any(os.environ.get(v) for v in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")),
    reason="the outage drill stops the PostgreSQL of a stack of its own",
)


class Stack:
    def __init__(self, infra: Infrastructure, ports: dict[str, int], processes: dict[str, Process]) -> None:
        self.infra, self.ports, self.processes = infra, ports, processes
        self.settings = Settings()
        self.statuses: list[int] = []  # every answer the placing clients saw

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def headers(self, role: Role, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, role, subject, None)}"}

    @property
    def postgres(self) -> EmbeddedPostgres:
        assert self.infra.postgres is not None
        return self.infra.postgres

    def crash_postgres(self) -> None:
        """SIGQUIT to the postmaster, what `pg_ctl stop -m immediate` sends: no checkpoint, every
        backend gone at once; the restart replays the WAL as after a crash."""
        pid = int((self.postgres.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGQUIT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        raise AssertionError("PostgreSQL did not stop within 30 s of SIGQUIT")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home: Path = tmp_path_factory.mktemp("db-outage")
    infra = start_infrastructure(home)
    try:
        ports = {s: free_port() for s in SERVICES}
        env = {**E2E_ENV, "LINLI_ACCEPT_LIMIT_S": "600", "LINLI_CONSUMER_RETRY_WINDOW_S": str(RETRY_WINDOW_S)}
        processes = start_services(infra, home, ports, env)
        wait_healthy(processes, ports, timeout=180)
        yield Stack(infra, ports, processes)
    finally:
        infra.stop()


async def _shop(stack: Stack) -> tuple[str, str]:
    store_id, product_id = f"shop-{uuid.uuid4().hex[:6]}", f"rice-{uuid.uuid4().hex[:6]}"
    admin = stack.headers(Role.ADMIN, "admin-1")
    async with httpx.AsyncClient(base_url=stack.url("inventory"), headers=admin, timeout=30) as inventory:
        location = {
            "kind": "shop",
            "category": "convenience",
            "name_zh": "停库测试店",
            "name_en": "Outage shop",
            "lat": 32.04,
            "lon": 118.79,
        }
        (await inventory.put(f"/admin/locations/{store_id}", json=location)).raise_for_status()
        product = {
            "location_id": store_id,
            "name_zh": "米",
            "name_en": "rice",
            "category": "test",
            "unit": "piece",
            "price_fen": PRICE_FEN,
            "on_hand": 10_000,
        }
        (await inventory.put(f"/admin/products/{product_id}", json=product)).raise_for_status()
    async with httpx.AsyncClient(base_url=stack.url("orders"), headers=admin, timeout=30) as desk:
        top_up = {"holder": "resident-outage", "amount_fen": FLOAT_FEN, "note": "drill float"}
        answer = await desk.post("/balance/top-ups", headers={"Idempotency-Key": str(uuid.uuid4())}, json=top_up)
        assert answer.status_code == 201, answer.text

        async def known() -> bool:
            return (await desk.get(f"/catalog/products/{product_id}")).status_code == 200

        await eventually(known, within=30)
    return store_id, product_id


async def _place(stack: Stack, body: dict[str, Any], placed: dict[str, str]) -> None:
    """Place once, retrying with the same Idempotency-Key until a definite answer."""
    key = str(uuid.uuid4())
    headers = {**stack.headers(Role.SHOPPER, "resident-outage"), "Idempotency-Key": key}
    deadline = time.monotonic() + OUTAGE_S + 60
    async with httpx.AsyncClient(base_url=stack.url("orders"), timeout=10) as orders:
        while time.monotonic() < deadline:
            try:
                answer = await orders.post("/orders", headers=headers, json=body)
            except httpx.TransportError:
                stack.statuses.append(0)
                await asyncio.sleep(0.3)
                continue
            stack.statuses.append(answer.status_code)
            if answer.status_code == 201:
                placed[key] = answer.json()["id"]
                return
            assert answer.status_code == 503, answer.text  # the database is away: never a 500
            assert "Retry-After" in answer.headers
            await asyncio.sleep(0.3)
    raise AssertionError(f"an order could not be placed within {OUTAGE_S + 60}s")


async def _health(stack: Stack, service: str) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(base_url=stack.url(service), timeout=5) as client:
            return dict((await client.get("/health")).json())
    except (httpx.HTTPError, ValueError):
        return {}


async def test_postgres_down_longer_than_the_retry_window_dead_letters_nothing(stack: Stack) -> None:
    store_id, product_id = await _shop(stack)
    body = {
        "store_id": store_id,
        "lines": [{"product_id": product_id, "quantity": 1}],
        "fulfilment": {"mode": "pickup"},
    }
    placed: dict[str, str] = {}
    sending: list[asyncio.Task[None]] = []
    started = time.monotonic()
    paused_seen: set[str] = set()
    restarted_at = 0.0
    stopped_at = 0.0
    frozen = False
    inventory = stack.processes["inventory"].popen
    assert inventory is not None
    for n in range(RATE_PER_S * SENDING_S):
        await asyncio.sleep(max(0.0, started + n / RATE_PER_S - time.monotonic()))
        elapsed = time.monotonic() - started
        if not frozen and elapsed >= STOP_AFTER_S - 2:
            inventory.send_signal(signal.SIGSTOP)  # OrderPlaced events pile up in the broker, unread
            frozen = True
        if not stopped_at and elapsed >= STOP_AFTER_S:
            await asyncio.to_thread(stack.crash_postgres)
            stopped_at = time.monotonic()
            inventory.send_signal(signal.SIGCONT)  # and now it reads them, with the database away
        if stopped_at and not restarted_at:
            for service in SERVICES:
                consumers = (await _health(stack, service)).get("consumers", {})
                if any("paused" in c for c in consumers.values()):
                    paused_seen.add(service)
            if time.monotonic() - stopped_at >= OUTAGE_S:
                await asyncio.to_thread(stack.postgres.start, True)
                restarted_at = time.monotonic()
        sending.append(asyncio.create_task(_place(stack, body, placed)))
    await asyncio.gather(*sending)

    assert restarted_at, "the drill restarted PostgreSQL"
    assert 500 not in stack.statuses, "during the outage every answer was a 503 with Retry-After"
    assert stack.statuses.count(503) > 0, "some requests did meet the outage"
    assert "inventory" in paused_seen, "inventory, reading events with the database away, said it paused"
    assert len(placed) == RATE_PER_S * SENDING_S, "every acknowledged order exists once"
    assert len(set(placed.values())) == len(placed)

    shopper = stack.headers(Role.SHOPPER, "resident-outage")
    async with httpx.AsyncClient(base_url=stack.url("orders"), headers=shopper, timeout=30) as orders:

        async def statuses() -> dict[str, str]:
            return {o: (await orders.get(f"/orders/{o}")).json()["status"] for o in placed.values()}

        async def all_confirmed() -> bool:
            return set((await statuses()).values()) == {"CONFIRMED"}

        await eventually(all_confirmed, within=60, interval=1.0)
        for order_id in placed.values():
            ledger = (await orders.get(f"/orders/{order_id}/ledger")).json()
            assert ledger["paid_fen"] == PRICE_FEN, ledger  # paid once, however often it was retried
        balance = (await orders.get("/balance")).json()
        assert balance["balance_fen"] == FLOAT_FEN - PRICE_FEN * len(placed)

    for service in SERVICES:
        health = await _health(stack, service)
        assert health.get("dead_lettered") == 0, f"{service} dead-lettered events during the outage: {health}"
        assert not any("paused" in c for c in health.get("consumers", {}).values()), health
