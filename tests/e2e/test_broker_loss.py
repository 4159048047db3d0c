"""The embedded broker restarted under the running services: it comes back with no topics, no
messages and no committed offsets. The services declare their topics again, their relays re-send
what they had published, the inboxes drop what was applied, and orders placed before and after are
each decided once: paid once, stock held once.

It runs on a stack of its own (its own PostgreSQL, Redis and broker), since restarting the
session's broker would take every other test's topics and messages with it.
"""

from __future__ import annotations

import asyncio
import os
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
    Infrastructure,
    Process,
    broker_process,
    free_port,
    start_infrastructure,
    start_services,
    wait_for_port,
    wait_healthy,
)
from shared.vocabulary.roles import Role
from tests.e2e.conftest import E2E_ENV
from tests.waiting import eventually

STOCK = 60
PRICE_FEN = 300
FLOAT_FEN = 1_000_000
BEFORE, AFTER = 10, 10

pytestmark = pytest.mark.skipif(
    any(os.environ.get(v) for v in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")),
    reason="restarts an embedded broker of its own; a real one is not ours to restart",
)


class Stack:
    def __init__(self, infra: Infrastructure, home: Path, ports: dict[str, int]) -> None:
        self.infra, self.home, self.ports = infra, home, ports
        self.settings = Settings()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def headers(self, role: Role, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, role, subject)}"}

    def restart_broker(self) -> None:
        """Stop the broker and start a new one on the same port: everything it held is gone."""
        old: Process = next(p for p in self.infra.processes if p.name == "broker")
        old.stop()
        port = int(self.infra.kafka_bootstrap_servers.rsplit(":", 1)[1])
        new = broker_process(port, self.home / "logs")
        new.start()
        self.infra.processes[self.infra.processes.index(old)] = new
        wait_for_port(port)

    async def health(self, service: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(base_url=self.url(service), timeout=5) as client:
                return dict((await client.get("/health")).json())
        except (httpx.HTTPError, ValueError):
            return {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home: Path = tmp_path_factory.mktemp("broker-loss")
    infra = start_infrastructure(home)
    try:
        ports = {s: free_port() for s in SERVICES}
        processes = start_services(infra, home, ports, E2E_ENV)
        wait_healthy(processes, ports, timeout=180)
        yield Stack(infra, home, ports)
    finally:
        infra.stop()


async def shop(stack: Stack) -> tuple[str, str]:
    store_id, product_id = f"shop-{uuid.uuid4().hex[:6]}", f"water-{uuid.uuid4().hex[:6]}"
    admin = stack.headers(Role.ADMIN, "admin-1")
    async with httpx.AsyncClient(base_url=stack.url("inventory"), headers=admin, timeout=30) as inventory:
        location = {
            "kind": "shop",
            "category": "convenience",
            "name_zh": "测试店",
            "name_en": "Broker loss shop",
            "lat": 32.04,
            "lon": 118.79,
        }
        (await inventory.put(f"/admin/locations/{store_id}", json=location)).raise_for_status()
        product = {
            "location_id": store_id,
            "name_zh": "水",
            "name_en": "water",
            "category": "test",
            "unit": "piece",
            "price_fen": PRICE_FEN,
            "on_hand": STOCK,
        }
        (await inventory.put(f"/admin/products/{product_id}", json=product)).raise_for_status()
    async with httpx.AsyncClient(base_url=stack.url("orders"), headers=admin, timeout=30) as desk:
        top_up = {"holder": "resident-loss", "amount_fen": FLOAT_FEN, "note": "drill float"}
        answer = await desk.post("/balance/top-ups", headers={"Idempotency-Key": str(uuid.uuid4())}, json=top_up)
        assert answer.status_code == 201, answer.text

        async def known() -> bool:
            return (await desk.get(f"/catalog/products/{product_id}")).status_code == 200

        await eventually(known, within=30)
    return store_id, product_id


async def place(stack: Stack, body: dict[str, Any]) -> str:
    """Place once, retrying with the same Idempotency-Key while the service is away."""
    headers = {**stack.headers(Role.SHOPPER, "resident-loss"), "Idempotency-Key": str(uuid.uuid4())}
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=stack.url("orders"), timeout=10) as orders:
        while time.monotonic() < deadline:
            try:
                answer = await orders.post("/orders", headers=headers, json=body)
            except httpx.TransportError:
                await asyncio.sleep(0.2)
                continue
            if answer.status_code == 201:
                return str(answer.json()["id"])
            assert answer.status_code == 503, answer.text  # away for a moment, never a 500
            await asyncio.sleep(0.2)
    raise AssertionError("an order could not be placed for 60 s")


async def statuses(stack: Stack, order_ids: list[str]) -> dict[str, str]:
    found = {}
    async with httpx.AsyncClient(
        base_url=stack.url("orders"), headers=stack.headers(Role.SHOPPER, "resident-loss"), timeout=30
    ) as orders:
        for order_id in order_ids:
            answer = await orders.get(f"/orders/{order_id}")
            assert answer.status_code == 200, answer.text
            found[order_id] = answer.json()["status"]
    return found


async def all_confirmed(stack: Stack, order_ids: list[str], within: float) -> None:
    async def confirmed() -> bool:
        return set((await statuses(stack, order_ids)).values()) == {"CONFIRMED"}

    try:
        await eventually(confirmed, within=within, interval=1.0)
    except AssertionError:
        health = {s: await stack.health(s) for s in SERVICES}
        raise AssertionError(f"not all confirmed: {await statuses(stack, order_ids)}; {health}") from None


async def test_a_broker_restarted_empty_loses_and_doubles_nothing(stack: Stack) -> None:
    store_id, product_id = await shop(stack)
    body = {
        "store_id": store_id,
        "lines": [{"product_id": product_id, "quantity": 1}],
        "fulfilment": {"mode": "pickup"},
    }
    before = [await place(stack, body) for _ in range(BEFORE)]
    await all_confirmed(stack, before, within=60)

    stack.restart_broker()
    restarted = time.monotonic()

    for service in SERVICES:

        async def refilled(service: str = service) -> bool:
            broker = (await stack.health(service)).get("broker") or {}
            return bool(broker.get("lost_and_resent"))

        await eventually(refilled, within=60, interval=0.5)
    after = [await place(stack, body) for _ in range(AFTER)]
    await all_confirmed(stack, before + after, within=max(30.0, restarted + 120 - time.monotonic()))

    shopper = stack.headers(Role.SHOPPER, "resident-loss")
    async with httpx.AsyncClient(base_url=stack.url("orders"), headers=shopper, timeout=30) as orders:
        for order_id in before + after:  # each paid once, none refunded: no event applied twice
            ledger = (await orders.get(f"/orders/{order_id}/ledger")).json()
            assert (ledger["paid_fen"], ledger["refund_fen"]) == (PRICE_FEN, 0), ledger
        balance = (await orders.get("/balance")).json()
        assert balance["balance_fen"] == FLOAT_FEN - PRICE_FEN * (BEFORE + AFTER)
    async with httpx.AsyncClient(base_url=stack.url("inventory"), headers=shopper, timeout=30) as inventory:

        async def held_once() -> bool:
            products = (await inventory.get(f"/stores/{store_id}/products")).json()
            return next(p["available"] for p in products if p["id"] == product_id) == STOCK - BEFORE - AFTER

        await eventually(held_once, within=20)
    duplicates = 0
    for service in SERVICES:
        health = await stack.health(service)
        duplicates += sum(c.get("duplicates", 0) for c in (health.get("consumers") or {}).values())
        lost = health["broker"]["lost_and_resent"]
        assert lost["older_may_be_lost"] is False, lost
    assert duplicates > 0, "re-sent events the inboxes had already applied were dropped"
