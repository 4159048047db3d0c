"""The shop counter's live queue over real HTTP and PostgreSQL LISTEN/NOTIFY: a change committed
anywhere (an order placed, a stall accepting) reaches the open streams of that stall and of its
market at once; staff of other places are refused; a quiet stream still says it is alive."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from services.inventory.adapters.fulfilment_repository import QUEUE_CHANNEL
from services.inventory.entrypoints import live_http
from services.inventory.entrypoints.app import SPEC
from services.inventory.entrypoints.http import router
from services.inventory.entrypoints.staff_http import router as staff_router
from services.inventory.service_layer import reservations
from shared import sse
from shared.auth import issue_token
from shared.service import install_error_handlers
from shared.settings import Settings
from shared.sse import LiveListener
from shared.stack import free_port
from shared.vocabulary.roles import Role
from tests.integration.inventory.support import SETTINGS, placed, run
from tests.runtime import runtime_for
from tests.waiting import eventually


@dataclass
class Counter:
    base: str
    settings: Settings

    def headers(self, role: Role, store: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, role, 'someone', store)}"}


@dataclass
class Stream:
    """What one open stream has received so far: its `queue` events and heartbeat comments."""

    queues: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: int = 0

    def orders(self) -> list[tuple[str, str, str]]:
        latest = self.queues[-1]["queue"] if self.queues else []
        return sorted((p["order_id"], p["location_id"], p["status"]) for p in latest)


@pytest.fixture
async def counter(inv: asyncpg.Pool, database_url: str) -> AsyncIterator[Counter]:
    """The inventory routes and the live stream on a real server (streams need real HTTP)."""
    settings = SETTINGS.model_copy(update={"database_url": database_url})
    runtime = runtime_for(SPEC, settings, inv)
    app = FastAPI()
    app.state.settings = settings
    app.state.runtime = runtime
    install_error_handlers(app)
    for r in (router, staff_router, live_http.router):
        app.include_router(r)
    listening = LiveListener.on(QUEUE_CHANNEL)(runtime)
    await listening.start()
    runtime.loops.append(listening)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started))
    try:
        yield Counter(f"http://127.0.0.1:{port}", settings)
    finally:
        await listening.stop()  # ends the open streams, so the server can stop
        server.should_exit = True
        await serving


@contextlib.asynccontextmanager
async def following(counter: Counter, location_id: str, headers: dict[str, str]) -> AsyncIterator[Stream]:
    received = Stream()

    async def read() -> None:
        async with (
            httpx.AsyncClient(base_url=counter.base, timeout=30.0) as client,
            client.stream("GET", f"/stores/{location_id}/live", headers=headers) as response,
        ):
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            name = None
            async for line in response.aiter_lines():
                if line.startswith(": heartbeat"):
                    received.heartbeats += 1
                elif line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "queue":
                    received.queues.append(json.loads(line.removeprefix("data: ")))

    task = asyncio.create_task(read())
    try:
        await eventually(lambda: asyncio.sleep(0, received.queues or task.done()))
        if task.done():
            task.result()
        yield received
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_placed_order_and_its_acceptance_reach_the_stall_and_the_market_live(
    counter: Counter, pool: asyncpg.Pool
) -> None:
    fish_staff = counter.headers(Role.STORE_STAFF, "fish")
    async with (
        following(counter, "fish", fish_staff) as fish,
        following(counter, "market", counter.headers(Role.STORE_STAFF, "market")) as market,
        following(counter, "shop", counter.headers(Role.ADMIN)) as shop,
    ):
        assert fish.orders() == []
        assert market.orders() == []
        assert shop.orders() == []
        assert fish.queues[0]["location_id"] == "fish"
        assert fish.queues[0]["scheduled"] == []

        await run(pool, lambda uow: reservations.on_order_placed(uow, placed("o1", [("carp", 1), ("bokchoy", 2)])))
        await eventually(lambda: asyncio.sleep(0, fish.orders() == [("o1", "fish", "waiting")]))
        await eventually(
            lambda: asyncio.sleep(0, market.orders() == [("o1", "fish", "waiting"), ("o1", "veg", "waiting")])
        )
        part = fish.queues[-1]["queue"][0]
        assert part["seconds_left"] > 500, "the accept countdown comes with the part"
        assert [ln["product_id"] for ln in part["lines"]] == ["carp"], "a stall sees only its own lines"

        async with httpx.AsyncClient(base_url=counter.base) as client:
            accepted = await client.post("/stores/fish/orders/o1/accept", headers=fish_staff)
            assert accepted.status_code == 200, accepted.text
        await eventually(lambda: asyncio.sleep(0, fish.orders() == [("o1", "fish", "accepted")]))
        await eventually(
            lambda: asyncio.sleep(0, market.orders() == [("o1", "fish", "accepted"), ("o1", "veg", "waiting")])
        )
        assert shop.orders() == [], "another shop's stream hears nothing of it"
        sent = len(fish.queues)

        # A change that is rolled back is never announced.
        with contextlib.suppress(RuntimeError):
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("UPDATE fulfilment_parts SET status = 'picking' WHERE order_id = 'o1'")
                await conn.execute("SELECT pg_notify('linli_queue', 'fish')")
                raise RuntimeError("undo")
        await run(pool, lambda uow: reservations.on_order_placed(uow, placed("o2", [("water", 1)])))
        await eventually(lambda: asyncio.sleep(0, [o for o, *_ in shop.orders()] == ["o2"]))
        assert len(fish.queues) == sent
        assert fish.orders() == [("o1", "fish", "accepted")]


async def test_only_staff_of_the_place_or_its_market_and_admins_may_follow_it(counter: Counter) -> None:
    async with httpx.AsyncClient(base_url=counter.base, timeout=10.0) as client:
        for who, location in (
            (counter.headers(Role.STORE_STAFF, "veg"), "fish"),
            (counter.headers(Role.STORE_STAFF, "fish"), "market"),
            (counter.headers(Role.STORE_STAFF, "shop"), "market"),
            (counter.headers(Role.SHOPPER), "shop"),
            (counter.headers(Role.RIDER), "shop"),
        ):
            refused = await client.get(f"/stores/{location}/live", headers=who)
            assert refused.status_code == 403, (who, location, refused.text)
            assert "detail" in refused.json()
        assert (await client.get("/stores/shop/live")).status_code == 401
        missing = await client.get("/stores/no-such-shop/live", headers=counter.headers(Role.ADMIN))
        assert missing.status_code == 404
        assert "no-such-shop" in missing.json()["detail"]


async def test_a_quiet_stream_sends_heartbeats(counter: Counter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sse, "HEARTBEAT_S", 0.2)
    async with following(counter, "veg", counter.headers(Role.STORE_STAFF, "market")) as veg:
        await eventually(lambda: asyncio.sleep(0, veg.heartbeats >= 2), within=5)
        assert len(veg.queues) == 1, "nothing changed, so the queue is not sent again"
