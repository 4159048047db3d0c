"""While PostgreSQL or Redis is away, or every database connection is busy, a request is answered
503 with Retry-After and names what is missing, never a 500; /health says which dependency fails;
and everything answers again once the dependency is back, without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from faststream.kafka import KafkaBroker

from shared import db
from shared.clock import SystemClock
from shared.service import ServiceSpec, build_app, install_error_handlers, runtime_of, start_runtime
from shared.settings import Settings
from shared.stack import Infrastructure
from tests.integration.conftest import ParcelUnitOfWork
from tests.proxy import Proxy

NO_MIGRATIONS = Path(__file__).parent / "no-migrations"


def through(url: str, proxy: Proxy) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def proxy_to(url: str) -> Proxy:
    parts = urlsplit(url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    return proxy


def spec() -> ServiceSpec:
    return ServiceSpec(
        name="itest",
        title="outage test",
        description="a service that reads the database and Redis",
        migrations=NO_MIGRATIONS,
        unit_of_work=lambda rt, **args: ParcelUnitOfWork(rt.pool, clock=rt.clock, acquire_timeout_s=0.3, **args),
    )


def routes(app: FastAPI) -> None:
    @app.get("/count")
    async def count(request: Request) -> dict[str, int]:
        async with runtime_of(request).unit_of_work(readonly=True) as uow:
            await uow.effects.pause(0)
        return {"ok": 1}

    @app.get("/position")
    async def position(request: Request) -> dict[str, int]:
        await runtime_of(request).redis.ping()
        return {"ok": 1}


@pytest.fixture
async def service(infra: Infrastructure, database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, Proxy, Proxy]]:
    pg, rd = await proxy_to(database_url), await proxy_to(infra.redis_url)
    settings = Settings(
        service="itest",
        database_url=through(database_url, pg),
        redis_url=through(infra.redis_url, rd),
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        db_pool_min=1,
        db_pool_max=2,
    )
    app = build_app(spec(), settings)
    routes(app)
    async with AsyncExitStack() as stack:
        app.state.runtime = await start_runtime(
            spec(), settings, stack, KafkaBroker(settings.kafka_bootstrap_servers), []
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://itest") as client:
            yield client, pg, rd
        await pg.restore()  # up again, so the runtime closes cleanly
        await rd.restore()


async def test_a_database_outage_is_a_503_that_names_it_and_passes_by_itself(service) -> None:
    client, pg, _ = service
    assert (await client.get("/count")).status_code == 200
    await pg.cut()
    answer = await client.get("/count")
    assert answer.status_code == 503, answer.text
    assert answer.headers["Retry-After"].isdigit()
    assert answer.json()["unavailable"] == "database"
    health = await client.get("/health")
    assert health.status_code == 503
    assert health.json()["checks"]["database"].startswith("failing")
    assert health.json()["checks"]["redis"] == "ok"
    await pg.restore()
    for _ in range(20):  # the pool replaces its dropped connections on the next checkout
        if (await client.get("/count")).status_code == 200:
            break
        await asyncio.sleep(0.2)
    assert (await client.get("/count")).status_code == 200


async def test_a_redis_outage_is_a_503_for_what_needs_redis_only(service) -> None:
    client, _, rd = service
    await rd.cut()
    answer = await client.get("/position")
    assert answer.status_code == 503, answer.text
    assert answer.json()["unavailable"] == "redis"
    assert "Retry-After" in answer.headers
    assert (await client.get("/count")).status_code == 200, "the database side keeps working"
    health = await client.get("/health")
    assert health.json()["checks"]["redis"].startswith("failing")
    assert health.status_code == 200, "still ready: only what needs Redis is refused"
    assert health.json()["status"] == "degraded"
    await rd.restore()
    assert (await client.get("/position")).status_code == 200


async def test_a_busy_pool_is_refused_with_a_503_not_left_to_hang(infra: Infrastructure, database_url: str) -> None:
    pool = await db.create_pool(database_url, 1, 1)
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/count")
    async def count() -> dict[str, int]:
        async with ParcelUnitOfWork(pool, clock=SystemClock(), acquire_timeout_s=0.2) as uow:
            await uow.effects.pause(0)
        return {"ok": 1}

    try:
        async with pool.acquire(), httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            answer = await c.get("/count")  # the only connection is taken
        assert answer.status_code == 503
        assert "no database connection came free" in answer.json()["detail"]
    finally:
        await pool.close()


async def test_an_unexpected_error_is_still_a_500_not_a_503() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    async def bug() -> None:
        raise ValueError("a bug, not the user's mistake")

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t")
    async with client:
        assert (await client.get("/bug")).status_code == 500
