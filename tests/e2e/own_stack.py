"""A stack of its own for a drill that breaks what it runs on: the failover, the database outage
and the broker loss each kill or restart a part every other test shares, so each starts its own
PostgreSQL, Redis, broker and services, and seeds a shop and a resident's float the same way.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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
    instance_name,
    start_infrastructure,
    start_services,
    wait_healthy,
)
from shared.vocabulary.roles import Role
from tests.e2e.conftest import E2E_ENV, stop_together
from tests.waiting import eventually

FLOAT_FEN = 1_000_000  # the most one top-up may be: the resident's money for a whole drill


def only_embedded(reason: str) -> pytest.MarkDecorator:
    """Skip where the environment names real servers: they are shared by name and not ours to break."""
    return pytest.mark.skipif(
        any(os.environ.get(v) for v in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")), reason=reason
    )


class OwnStack:
    """The embedded infrastructure, the service processes (by instance name) and their ports."""

    def __init__(self, infra: Infrastructure, home: Path, ports: dict[str, int], processes: dict[str, Process]) -> None:
        self.infra, self.home, self.ports, self.processes = infra, home, ports, processes
        self.settings = Settings()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def headers(self, role: Role, subject: str, store: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, role, subject, store)}"}

    @property
    def postgres(self) -> EmbeddedPostgres:
        assert self.infra.postgres is not None, "an own stack always runs its own PostgreSQL"
        return self.infra.postgres

    async def health(self, name: str) -> dict[str, Any]:
        """What /health says, or {} while the instance does not answer."""
        try:
            async with httpx.AsyncClient(base_url=self.url(name), timeout=5) as client:
                return dict((await client.get("/health")).json())
        except (httpx.HTTPError, ValueError):
            return {}


@contextmanager
def own_stack(home: Path, env: dict[str, str] | None = None, instances: int = 1) -> Iterator[OwnStack]:
    """Start everything on free ports, wait until healthy, and stop it all afterwards."""
    infra = start_infrastructure(home)
    try:
        ports = {instance_name(s, i): free_port() for s in SERVICES for i in range(instances)}
        processes = start_services(infra, home, ports, {**E2E_ENV, **(env or {})}, instances=instances)
        wait_healthy(processes, ports, timeout=180)
        yield OwnStack(infra, home, ports, processes)
    finally:
        try:
            stop_together(p for p in infra.processes if p.name not in ("broker", "redis"))
        finally:
            infra.stop()


async def drill_shop(stack: OwnStack, resident: str, *, stock: int, price_fen: int, name_en: str) -> tuple[str, str]:
    """A shop with one product, a resident with FLOAT_FEN on their balance, and orders knowing the product."""
    store_id, product_id = f"shop-{uuid.uuid4().hex[:6]}", f"water-{uuid.uuid4().hex[:6]}"
    admin = stack.headers(Role.ADMIN, "admin-1")
    async with httpx.AsyncClient(base_url=stack.url("inventory"), headers=admin, timeout=30) as inventory:
        location = {
            "kind": "shop",
            "category": "convenience",
            "name_zh": "演练店",
            "name_en": name_en,
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
            "price_fen": price_fen,
            "on_hand": stock,
        }
        (await inventory.put(f"/admin/products/{product_id}", json=product)).raise_for_status()
    async with httpx.AsyncClient(base_url=stack.url("orders"), headers=admin, timeout=30) as desk:
        top_up = {"holder": resident, "amount_fen": FLOAT_FEN, "note": "drill float"}
        answer = await desk.post("/balance/top-ups", headers={"Idempotency-Key": str(uuid.uuid4())}, json=top_up)
        assert answer.status_code == 201, answer.text

        async def known() -> bool:
            return (await desk.get(f"/catalog/products/{product_id}")).status_code == 200

        await eventually(known, within=30)
    return store_id, product_id


async def place_until_answered(
    stack: OwnStack,
    resident: str,
    body: dict[str, Any],
    *,
    within: float = 60.0,
    instances: int = 1,
    seen: list[int] | None = None,
) -> str:
    """Place one order, retrying with the same Idempotency-Key (over the orders instances in turn)
    until it is created; while a part is away every answer must be a 502 or a 503, never a 500."""
    headers = {**stack.headers(Role.SHOPPER, resident), "Idempotency-Key": str(uuid.uuid4())}
    deadline = time.monotonic() + within
    attempt = 0
    while time.monotonic() < deadline:
        url = stack.url(instance_name("orders", attempt % instances))
        attempt += 1
        try:
            async with httpx.AsyncClient(base_url=url, timeout=10) as orders:
                answer = await orders.post("/orders", headers=headers, json=body)
        except httpx.TransportError:
            if seen is not None:
                seen.append(0)
            await asyncio.sleep(0.2)
            continue
        if seen is not None:
            seen.append(answer.status_code)
        if answer.status_code == 201:
            return str(answer.json()["id"])
        assert answer.status_code in (502, 503), answer.text
        if answer.status_code == 503:
            assert "Retry-After" in answer.headers, answer.headers
        await asyncio.sleep(0.2)
    raise AssertionError(f"an order could not be placed within {within:g}s")


async def statuses(stack: OwnStack, resident: str, order_ids: list[str], instance: str = "orders") -> dict[str, str]:
    """Each order's status as its orderer reads it."""
    found = {}
    shopper = stack.headers(Role.SHOPPER, resident)
    async with httpx.AsyncClient(base_url=stack.url(instance), headers=shopper, timeout=30) as orders:
        for order_id in order_ids:
            answer = await orders.get(f"/orders/{order_id}")
            assert answer.status_code == 200, answer.text
            found[order_id] = answer.json()["status"]
    return found


async def paid_once(
    stack: OwnStack, resident: str, statuses_: dict[str, str], price_fen: int, instance: str = "orders"
) -> None:
    """No event applied twice: each order paid once, refunded once if refused, the balance agreeing."""
    shopper = stack.headers(Role.SHOPPER, resident)
    moved = 0
    async with httpx.AsyncClient(base_url=stack.url(instance), headers=shopper, timeout=30) as orders:
        for order_id, status in statuses_.items():
            ledger = (await orders.get(f"/orders/{order_id}/ledger")).json()
            assert ledger["paid_fen"] == price_fen, ledger
            assert ledger["refund_fen"] == (price_fen if status == "REJECTED" else 0), ledger
            moved += ledger["paid_fen"] - ledger["refund_fen"]
        balance = (await orders.get("/balance")).json()
    assert balance["balance_fen"] == FLOAT_FEN - moved


async def available(stack: OwnStack, store_id: str, product_id: str, instance: str = "inventory") -> int:
    async with httpx.AsyncClient(
        base_url=stack.url(instance), headers=stack.headers(Role.SHOPPER, "a-neighbour"), timeout=30
    ) as inventory:
        products = (await inventory.get(f"/stores/{store_id}/products")).json()
    return int(next(p["available"] for p in products if p["id"] == product_id))
