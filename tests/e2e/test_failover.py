"""Two instances of every service under a steady stream of orders; one instance of each is
killed with SIGKILL mid-load. The survivors take over the partitions and the relays, every
order is decided, nothing is applied twice and no stock is oversold.

It runs on a stack of its own (its own PostgreSQL, Redis and broker), since the services'
databases and topics have fixed names.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.stack import SERVICES, instance_name
from tests.e2e.own_stack import (
    OwnStack,
    available,
    drill_shop,
    only_embedded,
    own_stack,
    paid_once,
    place_until_answered,
    statuses,
)
from tests.waiting import eventually

STOCK = 120  # fewer pieces than the orders ask for: some must be refused, none oversold
RATE_PER_S = 6
SENDING_S = 14
KILL_AFTER_S = 6
PRICE_FEN = 300
RESIDENT = "resident-drill"

pytestmark = only_embedded("the failover drill starts an embedded stack of its own; real servers are shared by name")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    env = {"LINLI_ACCEPT_LIMIT_S": "600", "LINLI_RELAY_LEADER_RETRY_S": "1"}
    with own_stack(tmp_path_factory.mktemp("failover"), env, instances=2) as stack:
        yield stack


async def _place_steadily_and_kill(pair: OwnStack, body: dict[str, Any]) -> tuple[list[str], float]:
    """Orders at RATE_PER_S for SENDING_S; KILL_AFTER_S in, the first instance of every service dies."""
    sending: list[asyncio.Task[str]] = []
    started = time.monotonic()
    killed_at = 0.0
    for n in range(RATE_PER_S * SENDING_S):
        await asyncio.sleep(max(0.0, started + n / RATE_PER_S - time.monotonic()))
        if not killed_at and time.monotonic() - started >= KILL_AFTER_S:
            for service in SERVICES:
                popen = pair.processes[service].popen
                assert popen is not None
                popen.kill()  # SIGKILL: no goodbye to the group, no lock released politely
            killed_at = time.monotonic()
        sending.append(asyncio.create_task(place_until_answered(pair, RESIDENT, body, instances=2)))
    return list(await asyncio.gather(*sending)), killed_at


async def _all_decided(pair: OwnStack, order_ids: list[str], by: float) -> dict[str, str]:
    async def decided() -> bool:
        return "PLACED" not in (await statuses(pair, RESIDENT, order_ids, "orders-1")).values()

    try:
        await eventually(decided, within=max(1.0, by - time.monotonic()), interval=1.0)
    except AssertionError:
        found = await statuses(pair, RESIDENT, order_ids, "orders-1")
        undecided = [o for o, s in found.items() if s == "PLACED"]
        survivors = {s: await pair.health(instance_name(s, 1)) for s in SERVICES}
        raise AssertionError(f"{len(undecided)} orders undecided 60 s after the kill; {survivors}") from None
    return await statuses(pair, RESIDENT, order_ids, "orders-1")


async def test_killing_one_instance_of_each_service_mid_load_loses_and_doubles_nothing(pair: OwnStack) -> None:
    store_id, product_id = await drill_shop(pair, RESIDENT, stock=STOCK, price_fen=PRICE_FEN, name_en="Failover shop")
    line = {"product_id": product_id, "quantity": 1}
    placed, killed_at = await _place_steadily_and_kill(
        pair, {"store_id": store_id, "lines": [line], "fulfilment": {"mode": "pickup"}}
    )
    assert len(set(placed)) == RATE_PER_S * SENDING_S, "every acknowledged order exists once"

    # The survivors lead their relays within 20 s of the kill.
    for service in SERVICES:

        async def leads(service: str = service) -> bool:
            health = await pair.health(instance_name(service, 1))
            return bool(health.get("outbox", {}).get("relay_leader"))

        await eventually(leads, within=max(1.0, killed_at + 20 - time.monotonic()))

    decided = await _all_decided(pair, placed, by=killed_at + 60)
    confirmed = [o for o, s in decided.items() if s == "CONFIRMED"]
    assert set(decided.values()) <= {"CONFIRMED", "REJECTED"}, decided
    assert len(confirmed) == min(STOCK, len(placed)), "exactly the stock there was is reserved"
    await paid_once(pair, RESIDENT, decided, PRICE_FEN, "orders-1")

    # Stock: held exactly for the confirmed orders, never below nothing.
    async def settled() -> bool:
        return await available(pair, store_id, product_id, "inventory-1") == STOCK - len(confirmed)

    await eventually(settled, within=20)
    assert await available(pair, store_id, product_id, "inventory-1") >= 0
