"""`linli up --keep`: the second start finds the first run's orders, whoever runs it (root included)."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from shared.stack import Infrastructure, free_port, start_infrastructure, start_services, wait_healthy
from shared.vocabulary.roles import Role
from tests.e2e.conftest import (
    E2E_ENV,
    System,
    place_ok,
    put_location,
    put_product,
    stop_together,
    wait_for_catalog,
    wait_status,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="--keep is about the embedded PostgreSQL"),
]


def _up(home: Path, keep: bool) -> tuple[Infrastructure, System]:
    """What `linli up [--keep]` starts, on free ports so it runs beside anything else (blocking: run it in a thread)."""
    infra = start_infrastructure(home, keep=keep)
    try:
        ports = {name: free_port() for name in ("orders", "inventory", "dispatch")}
        processes = start_services(infra, home, ports, E2E_ENV)
        wait_healthy(processes, ports, timeout=120)
    except BaseException:
        infra.stop()
        raise
    return infra, System(ports, processes)


def _down(infra: Infrastructure, system: System) -> None:
    """What stopping `linli up` stops: the services side by side, then what they ran on."""
    stop_together(system.processes.values())
    infra.stop()


async def test_a_kept_stack_finds_the_orders_of_the_last_run(tmp_path: Path) -> None:
    home = tmp_path / "linli"
    subject = f"resident-{uuid.uuid4().hex[:6]}"
    infra, system = await asyncio.to_thread(_up, home, False)
    try:
        async with system.client("inventory", Role.ADMIN, "admin-1") as admin:
            store_id = f"shop-{uuid.uuid4().hex[:8]}"
            await put_location(admin, store_id, "shop")
            water = await put_product(admin, store_id, "water", {"on_hand": 5})
        await wait_for_catalog(system, [water], store_id)
        async with system.client("orders", Role.SHOPPER, subject) as shopper:
            order_id = await place_ok(shopper, store_id, {water: 2})
            before = await wait_status(shopper, order_id, "CONFIRMED")
    finally:
        await asyncio.to_thread(_down, infra, system)
    assert (home / "postgres").stat().st_mode & 0o777 == 0o700

    infra, system = await asyncio.to_thread(_up, home, True)
    try:
        async with system.client("orders", Role.SHOPPER, subject, balance_fen=0) as shopper:
            found = await shopper.get(f"/orders/{order_id}")
            listed = await shopper.get("/orders")
    finally:
        await asyncio.to_thread(_down, infra, system)
    assert found.status_code == 200, found.text
    assert found.json()["status"] == "CONFIRMED"
    assert found.json()["timeline"] == before["timeline"]
    assert [o["id"] for o in listed.json()] == [order_id]
