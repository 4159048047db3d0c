"""The embedded broker restarted under the running services: it comes back with no topics, no
messages and no committed offsets. The services declare their topics again, their relays re-send
what they had published, the inboxes drop what was applied, and orders placed before and after are
each decided once: paid once, stock held once.

It runs on a stack of its own (its own PostgreSQL, Redis and broker), since restarting the
session's broker would take every other test's topics and messages with it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from shared.stack import SERVICES, Process, broker_process, wait_for_port
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

STOCK = 60
PRICE_FEN = 300
BEFORE, AFTER = 10, 10
RESIDENT = "resident-loss"

pytestmark = only_embedded("restarts an embedded broker of its own; a real one is not ours to restart")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    with own_stack(tmp_path_factory.mktemp("broker-loss")) as stack:
        yield stack


def restart_broker(stack: OwnStack) -> None:
    """Stop the broker and start a new one on the same port: everything it held is gone."""
    old: Process = next(p for p in stack.infra.processes if p.name == "broker")
    old.stop()
    port = int(stack.infra.kafka_bootstrap_servers.rsplit(":", 1)[1])
    new = broker_process(port, stack.home / "logs")
    new.start()
    stack.infra.processes[stack.infra.processes.index(old)] = new
    wait_for_port(port)


async def all_confirmed(stack: OwnStack, order_ids: list[str], within: float) -> None:
    async def confirmed() -> bool:
        return set((await statuses(stack, RESIDENT, order_ids)).values()) == {"CONFIRMED"}

    try:
        await eventually(confirmed, within=within, interval=1.0)
    except AssertionError:
        health = {s: await stack.health(s) for s in SERVICES}
        raise AssertionError(f"not all confirmed: {await statuses(stack, RESIDENT, order_ids)}; {health}") from None


async def place(stack: OwnStack, body: dict[str, Any]) -> str:
    return await place_until_answered(stack, RESIDENT, body)


async def test_a_broker_restarted_empty_loses_and_doubles_nothing(stack: OwnStack) -> None:
    store_id, product_id = await drill_shop(
        stack, RESIDENT, stock=STOCK, price_fen=PRICE_FEN, name_en="Broker loss shop"
    )
    body = {
        "store_id": store_id,
        "lines": [{"product_id": product_id, "quantity": 1}],
        "fulfilment": {"mode": "pickup"},
    }
    before = [await place(stack, body) for _ in range(BEFORE)]
    await all_confirmed(stack, before, within=60)

    restart_broker(stack)
    restarted = time.monotonic()

    for service in SERVICES:

        async def refilled(service: str = service) -> bool:
            broker = (await stack.health(service)).get("broker") or {}
            return bool(broker.get("lost_and_resent"))

        await eventually(refilled, within=60, interval=0.5)
    after = [await place(stack, body) for _ in range(AFTER)]
    await all_confirmed(stack, before + after, within=max(30.0, restarted + 120 - time.monotonic()))

    decided = await statuses(stack, RESIDENT, before + after)
    assert set(decided.values()) == {"CONFIRMED"}
    await paid_once(stack, RESIDENT, decided, PRICE_FEN)  # each paid once, none refunded: none applied twice

    async def held_once() -> bool:
        return await available(stack, store_id, product_id) == STOCK - BEFORE - AFTER

    await eventually(held_once, within=20)
    duplicates = 0
    for service in SERVICES:
        health = await stack.health(service)
        duplicates += sum(c.get("duplicates", 0) for c in (health.get("consumers") or {}).values())
        lost = health["broker"]["lost_and_resent"]
        assert lost["older_may_be_lost"] is False, lost
    assert duplicates > 0, "re-sent events the inboxes had already applied were dropped"
