"""The counter's handover code resists guessing, over HTTP against real PostgreSQL: five wrong codes
lock the order's handover for fifteen minutes (429 with Retry-After, the right code included) and
tell orders and dispatch (HandoverCodeLockedOut); the lockout ends on the clock; a right code resets
the count. The rider's pickup reported by dispatch is not a guess and is not counted here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.inventory.entrypoints.app import SPEC
from services.inventory.entrypoints.staff_http import router as staff_router
from services.inventory.service_layer import fulfilment, reservations
from shared.service import install_error_handlers
from shared.vocabulary.roles import Role
from tests.fakes import FakeClock
from tests.integration.inventory.support import SETTINGS, as_, events, placed, run
from tests.runtime import runtime_for

LOCKOUT_S = 15 * 60
STAFF = as_(Role.STORE_STAFF, "shop")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def counter(inv: asyncpg.Pool, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    """Inventory's staff routes in process, on a clock the test moves."""
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = runtime_for(SPEC, SETTINGS, inv, clock=clock)
    install_error_handlers(app)
    app.include_router(staff_router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inventory") as c:
        yield c


async def packed_for_pickup(pool: asyncpg.Pool, order_id: str) -> str:
    """A pickup order packed at the shop; returns its handover code."""
    await run(pool, lambda uow: reservations.on_order_placed(uow, placed(order_id, [("water", 1)])))
    await run(pool, lambda uow: reservations.accept(uow, "shop", order_id, "keeper"))
    await run(pool, lambda uow: fulfilment.pick_line(uow, "shop", order_id, 1, None, "keeper"))
    await run(pool, lambda uow: fulfilment.pack_part(uow, "shop", order_id, 1, 600, "keeper"))
    return str(next(p for t, p in await events(pool, order_id) if t == "OrderPacked")["handover_code"])


async def hand_over(counter: httpx.AsyncClient, order_id: str, code: str) -> httpx.Response:
    return await counter.post(
        f"/stores/shop/orders/{order_id}/handover", json={"code": code, "to": "shopper"}, headers=STAFF
    )


def other_than(code: str) -> str:
    return "000000" if code != "000000" else "111111"


async def test_five_wrong_codes_lock_the_counter_handover(
    inv: asyncpg.Pool, counter: httpx.AsyncClient, clock: FakeClock
) -> None:
    code = await packed_for_pickup(inv, "h1")
    for left in (4, 3, 2, 1, 0):
        wrong = await hand_over(counter, "h1", other_than(code))
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["tries_left"] == left
    clock.advance(5)
    locked = await hand_over(counter, "h1", code)
    assert locked.status_code == 429, locked.text
    assert locked.headers["Retry-After"] == str(LOCKOUT_S - 5)
    assert locked.json()["retry_after_s"] == LOCKOUT_S - 5
    assert "OrderHandedOver" not in [t for t, _ in await events(inv, "h1")], "nothing left the shop"
    [lockout] = [p for t, p in await events(inv, "h1") if t == "HandoverCodeLockedOut"]
    assert lockout["wrong_tries"] == 5
    assert lockout["by"].endswith("someone")

    clock.advance(LOCKOUT_S - 5)
    done = await hand_over(counter, "h1", code)
    assert done.status_code == 200, done.text
    assert "OrderHandedOver" in [t for t, _ in await events(inv, "h1")]


async def test_a_right_code_resets_the_counters_count(inv: asyncpg.Pool, counter: httpx.AsyncClient) -> None:
    first, second = await packed_for_pickup(inv, "h1"), await packed_for_pickup(inv, "h2")
    for _ in range(4):
        assert (await hand_over(counter, "h1", other_than(first))).status_code == 422
    assert (await hand_over(counter, "h1", first)).status_code == 200
    assert await inv.fetchval("SELECT count(*) FROM code_tries") == 0
    assert (await hand_over(counter, "h2", other_than(second))).json()["tries_left"] == 4, "each order counts apart"
