"""Redis stopped and started again (a Redis of its own, so nothing else in the session loses it):
what does not need it carries on, what needs live positions answers 503 with Retry-After, the
rounds plan from the positions kept in PostgreSQL, and the live streams pick up again.

Dispatch is served by uvicorn in the test's own loop, so its live streams are real HTTP streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn

from services.dispatch.domain.riders import Rider, RiderState, Vehicle
from services.dispatch.entrypoints.app import SPEC, make_uow
from services.dispatch.entrypoints.live import LiveFeeds
from services.dispatch.service_layer import assigning, delivering, intake, riders
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from services.orders.entrypoints.app import SPEC as ORDERS_SPEC
from services.orders.entrypoints.http import router as orders_router
from services.orders.service_layer import payments
from shared import db
from shared.auth import Principal, issue_token
from shared.clock import SystemClock
from shared.events.contracts import LocationUpserted
from shared.service import Runtime, build_app, install_error_handlers
from shared.settings import Settings
from shared.stack import Infrastructure, Process, free_port, redis_process, wait_for_port
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.roles import Role
from tests.integration.dispatch.helpers import SHOP, accepted, packed, placed
from tests.integration.orders import conftest as orders
from tests.runtime import runtime_for
from tests.waiting import eventually

MIGRATIONS = Path(__file__).parents[3] / "services" / "dispatch" / "migrations"
SETTINGS = Settings(service="dispatch", rider_silent_s=5, no_rider_limit_s=600, offer_limit_s=30)


class Redis:
    """A Redis server of this test's own, on a fixed port, that can be stopped and started again (empty)."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.home = home
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = redis_process(self.port, self.home)
        self.process.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class Stream:
    """An open server-sent event stream, read in the background into `events`."""

    events: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def kinds(self) -> list[str]:
        return [e["event"] for e in self.events]


async def read_events(response: httpx.Response, into: list[dict[str, Any]]) -> None:
    event: dict[str, Any] = {}
    async for line in response.aiter_lines():
        if not line:
            if "event" in event:
                into.append(event)
            event = {}
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("id: "):
            event["id"] = line[4:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])


@dataclass
class Served:
    http: httpx.AsyncClient
    runtime: Runtime
    pool: asyncpg.Pool
    redis: Redis

    def as_(self, role: Role, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject)}"}

    async def run(self, use_case: Any) -> Any:
        uow: DispatchUnitOfWork = make_uow(self.runtime, cause=None, correlation_id=None, readonly=False)
        async with uow:
            return await use_case(uow)

    async def follow(self, path: str, headers: dict[str, str]) -> Stream:
        stream = Stream()
        opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def read() -> None:
            async with self.http.stream("GET", path, headers=headers, timeout=None) as response:
                opened.set_result(response.status_code)
                await read_events(response, stream.events)

        stream.task = asyncio.create_task(read())
        assert await asyncio.wait_for(opened, 10) == 200
        return stream


@pytest.fixture
async def served(pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    redis = Redis(tmp_path)
    redis.start()
    async with pool.acquire() as conn:
        await db.migrate(conn, [MIGRATIONS])
    client = aioredis.from_url(redis.url, decode_responses=True)
    runtime = runtime_for(SPEC, SETTINGS, pool, client, SystemClock())
    feeds = LiveFeeds(runtime)
    await feeds.start()
    runtime.loops.append(feeds)
    app = build_app(SPEC, SETTINGS)
    app.state.runtime = runtime
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, lifespan="off", log_level="warning", timeout_graceful_shutdown=1
        )
    )
    serving = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, server.started), within=10)
    http = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10)
    served = Served(http, runtime, pool, redis)
    shop = LocationUpserted(
        location_id="shop",
        kind=LocationKind.SHOP,
        category="grocery",
        name_zh="店",
        name_en="Shop",
        lat=SHOP[0],
        lon=SHOP[1],
        picking_minutes=0,
    )
    await served.run(lambda uow: intake.on_location(uow, shop))
    try:
        yield served
    finally:
        await http.aclose()
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 10)
        await feeds.stop()
        await client.aclose()
        redis.stop()


@pytest.fixture
async def orders_pool(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    """A database of orders' own beside dispatch's, as the services have."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    pool = await db.create_pool(f"{infra.database_url.rsplit('/', 1)[0]}/{name}", 1, 4)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, [db.SHARED_MIGRATIONS, orders.MIGRATIONS])
        await orders.seed(pool, orders.corner_shop(), orders.shop_product("water", "水", "Water", "drinks", 200))
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def add_rider(s: Served, rider_id: str) -> None:
    async def add(uow: DispatchUnitOfWork) -> None:
        await uow.riders.put(Rider(rider_id, rider_id, Vehicle.E_BIKE, 3, RiderState.AVAILABLE))
        rider = await uow.riders.get(rider_id)
        assert rider is not None
        rider.state = RiderState.AVAILABLE
        await uow.riders.save(rider)

    await s.run(add)


async def report(s: Served, rider_id: str, lat: float, lon: float) -> httpx.Response:
    return await s.http.post("/riders/me/location", json={"lat": lat, "lon": lon}, headers=s.as_(Role.RIDER, rider_id))


def unavailable(answer: httpx.Response) -> bool:
    return answer.status_code == 503 and answer.headers.get("Retry-After", "").isdigit()


async def test_with_redis_stopped_and_started_again(served: Served, orders_pool: asyncpg.Pool) -> None:
    s = served
    rider, dispatcher = s.as_(Role.RIDER, "r1"), s.as_(Role.DISPATCHER, "dispatcher-1")
    for rider_id in ("r1", "r-long-gone"):
        await add_rider(s, rider_id)
    assert (await report(s, "r1", SHOP[0] + 0.001, SHOP[1])).status_code == 200
    kept = await s.pool.fetchrow("SELECT lat, seen_at FROM rider_positions WHERE rider_id = 'r1'")
    assert kept is not None, "the position is kept in PostgreSQL"
    assert kept["lat"] == pytest.approx(SHOP[0] + 0.001)
    # Heard from last two minutes before Redis goes: silent, whatever Redis does.
    await s.pool.execute(
        "INSERT INTO rider_positions VALUES ('r-long-gone', $1, $2, now() - interval '120 seconds')", SHOP[0], SHOP[1]
    )
    await s.run(lambda uow: intake.on_order_placed(uow, placed("o1")))
    await s.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    await s.run(lambda uow: assigning.assign_by_hand(uow, "o1", "r1", "dispatcher-1"))
    await s.run(lambda uow: delivering.at_shop(uow, "o1", "r1"))
    await s.run(lambda uow: intake.on_order_packed(uow, packed("o1")))
    await s.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321"))
    board = await s.follow("/live", dispatcher)
    await eventually(lambda: asyncio.sleep(0, board.kinds() == ["snapshot"]), within=10)
    # r1 was kept a while ago (a kept position may be up to 30 s older than the rider's last report).
    await s.pool.execute("UPDATE rider_positions SET seen_at = now() - interval '33 seconds' WHERE rider_id = 'r1'")

    s.redis.stop()

    answer = await report(s, "r1", SHOP[0] + 0.002, SHOP[1])
    assert unavailable(answer), answer.text
    assert answer.json()["unavailable"] == "redis"
    assert unavailable(await s.http.get("/riders", headers=dispatcher)), "the roster shows live positions"
    assert unavailable(await s.http.get("/live", headers=dispatcher)), "no stream is opened onto nothing"
    # Deliveries by code need no Redis: the step is taken, its event recorded.
    step = await s.http.post("/deliveries/o1/at-door", headers=rider)
    assert step.status_code == 200, step.text
    done = await s.http.post("/deliveries/o1/delivered", json={"code": "123456"}, headers=rider)
    assert done.status_code == 200, done.text
    types = [r["event_type"] for r in await s.pool.fetch("SELECT event_type FROM outbox ORDER BY id")]
    assert types[-2:] == ["RiderAtDoor", "DeliveryCompleted"]
    # The rounds plan from the kept positions; time with Redis away is not silence.
    await asyncio.sleep(SETTINGS.rider_silent_s + 1)
    views = await s.run(riders.rider_views)
    assert [v.rider_id for v in views] == ["r1"]
    assert abs(views[0].position.lat - (SHOP[0] + 0.001)) < 1e-9, "where r1 was last kept"
    assert (await s.run(assigning.run_round)).skipped == 0, "a round runs without Redis"
    health = await SPEC.health_details(s.runtime)  # type: ignore[misc]
    assert health["riders"]["positions_from"].startswith("postgres"), health
    assert health["riders"]["redis_away_since"] is not None
    assert health["riders"]["live_notes_lost"] > 0, "the steps' live notes could not be written"
    # Placing needs no Redis either: orders answers as ever, with its client pointing at the stopped one.
    orders_runtime = runtime_for(ORDERS_SPEC, orders.SETTINGS, orders_pool, aioredis.from_url(s.redis.url))
    async with orders.unit_of_work(orders_pool) as uow:
        await payments.top_up(uow, Principal("cash-desk", Role.ADMIN), "grandma", 5000, "float")
    placing = build_orders(orders_runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=placing), base_url="http://orders") as shop:
        body = {"store_id": "shop", "lines": [{"product_id": "water", "quantity": 1}], "fulfilment": {"mode": "pickup"}}
        token = issue_token(orders.SETTINGS, Role.SHOPPER, "grandma")
        placed_answer = await shop.post(
            "/orders", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k-1"}
        )
        assert placed_answer.status_code == 201, placed_answer.text

    s.redis.start()  # empty: a Redis without persistence forgets everything

    # The open stream carries on by itself: a fresh snapshot (what it missed), then the changes.
    await eventually(lambda: asyncio.sleep(0, board.kinds().count("snapshot") >= 2), within=15)
    assert (await report(s, "r1", SHOP[0] + 0.003, SHOP[1])).status_code == 200
    await eventually(lambda: asyncio.sleep(0, "rider_position" in board.kinds()), within=10)
    moved = next(e for e in board.events if e["event"] == "rider_position")
    assert moved["data"]["data"]["lat"] == pytest.approx(SHOP[0] + 0.003)
    assert (await s.http.get("/riders", headers=dispatcher)).status_code == 200
    health = await SPEC.health_details(s.runtime)  # type: ignore[misc]
    assert health["riders"]["positions_from"] == "redis"
    assert health["riders"]["last_outage"] is not None
    # A client resuming from an id Redis no longer holds reads afresh; from one it holds, it resumes.
    before = next(e["id"] for e in board.events if e["event"] == "rider_position")
    await report(s, "r1", SHOP[0] + 0.004, SHOP[1])
    resumed = await s.follow("/live", {**dispatcher, "Last-Event-ID": before})
    await eventually(lambda: asyncio.sleep(0, "rider_position" in resumed.kinds()), within=10)
    assert resumed.kinds()[0] == "rider_position", "resumed where it left off, without a snapshot"
    assert resumed.events[0]["data"]["data"]["lat"] == pytest.approx(SHOP[0] + 0.004)
    lost = await s.follow("/live", {**dispatcher, "Last-Event-ID": "1-0"})
    await eventually(lambda: asyncio.sleep(0, lost.kinds()[:1] == ["snapshot"]), within=10)
    for stream in (board, resumed, lost):
        assert stream.task is not None
        stream.task.cancel()
        await asyncio.gather(stream.task, return_exceptions=True)


def build_orders(runtime: Runtime) -> Any:
    from fastapi import FastAPI

    app = FastAPI()
    app.state.settings = orders.SETTINGS
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(orders_router)
    return app


async def test_a_redis_that_hangs_holds_a_request_once_not_every_time(served: Served) -> None:
    """Stopped (SIGSTOP), Redis accepts connections and answers nothing: the first request meets the
    client's timeout, the ones after it no longer wait for Redis, and all is well once it goes on."""
    s = served
    rider = s.as_(Role.RIDER, "r1")
    await add_rider(s, "r1")
    assert (await report(s, "r1", SHOP[0], SHOP[1])).status_code == 200
    for n in range(3):
        await s.run(lambda uow, n=n: intake.on_order_placed(uow, placed(f"o{n}")))
        await s.run(lambda uow, n=n: intake.on_order_accepted(uow, accepted(f"o{n}")))
        await s.run(lambda uow, n=n: assigning.assign_by_hand(uow, f"o{n}", "r1", "dispatcher-1"))
    popen = s.redis.process.popen if s.redis.process else None
    assert popen is not None
    popen.send_signal(signal.SIGSTOP)
    try:
        first = await s.http.post("/deliveries/o0/at-shop", headers=rider, timeout=30)
        assert first.status_code == 200, first.text  # committed; its live note waited for the timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in (1, 2):
            step = await s.http.post(f"/deliveries/o{n}/at-shop", headers=rider)
            assert step.status_code == 200, step.text
        answer = await report(s, "r1", SHOP[0], SHOP[1])
        assert unavailable(answer), answer.text
        assert loop.time() - started < 2.0, "nothing after the first waited for a Redis that does not answer"
    finally:
        popen.send_signal(signal.SIGCONT)
    await eventually(lambda: report_ok(s), within=15)
    health = await SPEC.health_details(s.runtime)  # type: ignore[misc]
    assert health["riders"]["positions_from"] == "redis"


async def report_ok(s: Served) -> bool:
    return (await report(s, "r1", SHOP[0], SHOP[1])).status_code == 200
