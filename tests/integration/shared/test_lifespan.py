"""A service's lifespan on real PostgreSQL, Redis and broker: every part it opened is closed,
whether start-up finishes or fails half-way, and the loops a service declares run only while it does."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from shared.background import BackgroundLoop
from shared.service import Runtime, ServiceSpec, start_runtime
from shared.settings import Settings
from shared.stack import Infrastructure
from tests.integration.conftest import ParcelUnitOfWork

NO_MIGRATIONS = Path(__file__).parent / "no-migrations"


class Counting(BackgroundLoop):
    name = "counting"

    def __init__(self) -> None:
        super().__init__(0.01)
        self.rounds = 0

    async def round(self) -> None:
        self.rounds += 1


def spec(**kw: object) -> ServiceSpec:
    return ServiceSpec(
        name="itest",
        title="lifespan test",
        description="a service with no routes",
        migrations=NO_MIGRATIONS,
        unit_of_work=lambda rt, **args: ParcelUnitOfWork(rt.pool, clock=rt.clock, **args),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def settings(infra: Infrastructure, database_url: str) -> Settings:
    return Settings(
        service="itest",
        database_url=database_url,
        redis_url=infra.redis_url,
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
    )


async def test_a_start_up_that_fails_half_way_closes_what_it_had_opened(settings: Settings) -> None:
    seen: list[Runtime] = []

    async def broken_seed(runtime: Runtime) -> None:
        seen.append(runtime)
        raise RuntimeError("the demo neighbourhood could not be seeded")

    with pytest.raises(RuntimeError, match="could not be seeded"):
        async with AsyncExitStack() as stack:
            await start_runtime(spec(on_start=broken_seed), settings, stack, KafkaBroker(), [])
    (runtime,) = seen
    assert runtime.pool.is_closing(), "the database pool was closed"
    assert runtime.dead_letters.producer._closed, "the Kafka producer was stopped"
    with pytest.raises(asyncpg.InterfaceError):
        await runtime.pool.fetchval("SELECT 1")


async def test_declared_loops_run_with_the_service_and_stop_with_it(settings: Settings) -> None:
    loop = Counting()
    async with AsyncExitStack() as stack:
        runtime = await start_runtime(
            spec(background=[lambda _: loop, lambda _: None]),
            settings,
            stack,
            KafkaBroker(settings.kafka_bootstrap_servers),
            [],
        )
        await asyncio.sleep(0.1)
        assert loop.rounds > 0
        assert runtime.loop(Counting) is loop, "a loop turned off by settings (None) is simply absent"
        assert len(runtime.loops) == 5, "relay, scheduler, housekeeper, fetch pacer and the service's own loop"
    stopped_at = loop.rounds
    await asyncio.sleep(0.05)
    assert loop.rounds == stopped_at
    assert runtime.pool.is_closing()
