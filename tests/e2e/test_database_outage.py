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
from collections.abc import Iterator

import pytest

from shared.stack import SERVICES
from tests.e2e.own_stack import (
    OwnStack,
    drill_shop,
    only_embedded,
    own_stack,
    paid_once,
    place_until_answered,
    statuses,
)
from tests.waiting import eventually

RETRY_WINDOW_S = 3
OUTAGE_S = 12  # four retry windows: before outages paused, every event in flight was dead-lettered
RATE_PER_S = 4
SENDING_S = 18
STOP_AFTER_S = 4
PRICE_FEN = 300
RESIDENT = "resident-outage"

pytestmark = only_embedded("the outage drill stops the PostgreSQL of a stack of its own")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    env = {"LINLI_ACCEPT_LIMIT_S": "600", "LINLI_CONSUMER_RETRY_WINDOW_S": str(RETRY_WINDOW_S)}
    with own_stack(tmp_path_factory.mktemp("db-outage"), env) as stack:
        yield stack


def crash_postgres(stack: OwnStack) -> None:
    """SIGQUIT to the postmaster, what `pg_ctl stop -m immediate` sends: no checkpoint, every
    backend gone at once; the restart replays the WAL as after a crash."""
    pid = int((stack.postgres.data_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError("PostgreSQL did not stop within 30 s of SIGQUIT")


async def test_postgres_down_longer_than_the_retry_window_dead_letters_nothing(stack: OwnStack) -> None:
    store_id, product_id = await drill_shop(stack, RESIDENT, stock=10_000, price_fen=PRICE_FEN, name_en="Outage shop")
    body = {
        "store_id": store_id,
        "lines": [{"product_id": product_id, "quantity": 1}],
        "fulfilment": {"mode": "pickup"},
    }
    answers: list[int] = []
    placing: list[asyncio.Task[str]] = []
    paused_seen: set[str] = set()
    started = time.monotonic()
    stopped_at = restarted_at = 0.0
    inventory = stack.processes["inventory"].popen
    assert inventory is not None
    for n in range(RATE_PER_S * SENDING_S):
        await asyncio.sleep(max(0.0, started + n / RATE_PER_S - time.monotonic()))
        elapsed = time.monotonic() - started
        if not stopped_at and elapsed >= STOP_AFTER_S - 2:
            inventory.send_signal(signal.SIGSTOP)  # OrderPlaced events pile up in the broker, unread
        if not stopped_at and elapsed >= STOP_AFTER_S:
            await asyncio.to_thread(crash_postgres, stack)
            stopped_at = time.monotonic()
            inventory.send_signal(signal.SIGCONT)  # and now it reads them, with the database away
        if stopped_at and not restarted_at:
            for service in SERVICES:
                consumers = (await stack.health(service)).get("consumers", {})
                if any("paused" in c for c in consumers.values()):
                    paused_seen.add(service)
            if time.monotonic() - stopped_at >= OUTAGE_S:
                await asyncio.to_thread(stack.postgres.start, True)
                restarted_at = time.monotonic()
        placing.append(
            asyncio.create_task(place_until_answered(stack, RESIDENT, body, within=OUTAGE_S + 60, seen=answers))
        )
    placed = await asyncio.gather(*placing)

    assert restarted_at, "the drill restarted PostgreSQL"
    assert 500 not in answers, "during the outage every answer was a 503 with Retry-After"
    assert answers.count(503) > 0, "some requests did meet the outage"
    assert "inventory" in paused_seen, "inventory, reading events with the database away, said it paused"
    assert len(set(placed)) == RATE_PER_S * SENDING_S, "every acknowledged order exists once"

    async def all_confirmed() -> bool:
        return set((await statuses(stack, RESIDENT, placed)).values()) == {"CONFIRMED"}

    await eventually(all_confirmed, within=60, interval=1.0)
    await paid_once(stack, RESIDENT, await statuses(stack, RESIDENT, placed), PRICE_FEN)
    for service in SERVICES:
        health = await stack.health(service)
        assert health.get("dead_lettered") == 0, f"{service} dead-lettered events during the outage: {health}"
        assert not any("paused" in c for c in health.get("consumers", {}).values()), health
