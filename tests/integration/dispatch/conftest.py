"""The dispatch integration tests' fixtures, once: a migrated dispatch database, Redis keys of its own,
a clock moved by hand, and a `Dispatch` harness that runs use cases in dispatch's real unit of work.

Plain helpers (the event builders, `answer`) live in helpers.py beside this file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.dispatch.adapters import repository
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.domain.riders import Rider, RiderState, Vehicle
from services.dispatch.entrypoints.app import SPEC, make_uow
from services.dispatch.service_layer import intake
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared import db
from shared.events.contracts import LocationUpserted
from shared.settings import Settings
from shared.vocabulary.locations import LocationKind
from tests.fakes import FakeClock
from tests.integration.dispatch.helpers import SHOP
from tests.runtime import runtime_for

T = TypeVar("T")

MIGRATIONS = Path(__file__).parents[3] / "services" / "dispatch" / "migrations"
SETTINGS = Settings(
    service="dispatch",
    offer_limit_s=30,
    rider_silent_s=60,
    rider_behind_s=300,
    no_rider_limit_s=600,
    pickup_offer_answer_s=300,
    door_wait_s=120,
    locker_collect_limit_s=3600,
)


@dataclass
class Dispatch:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    clock: FakeClock
    unit_of_work: Callable[[], DispatchUnitOfWork]

    async def run(self, use_case: Callable[[DispatchUnitOfWork], Awaitable[T]]) -> T:
        """The use case in one unit of work of its own, committed (or rolled back if it raises)."""
        async with self.unit_of_work() as uow:
            return await use_case(uow)

    async def events(self, order_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        rows = await self.pool.fetch("SELECT event_type, envelope FROM outbox ORDER BY id")
        return [
            (r["event_type"], r["envelope"]["payload"])
            for r in rows
            if order_id is None or r["envelope"]["payload"].get("order_id") == order_id
        ]

    async def types(self, order_id: str) -> list[str]:
        return [t for t, _ in await self.events(order_id)]

    async def delivery(self, order_id: str) -> asyncpg.Record:
        row = await self.pool.fetchrow("SELECT * FROM deliveries WHERE order_id = $1", order_id)
        assert row is not None
        return row

    async def rider(
        self, rider_id: str, lat: float, lon: float, *, vehicle: Vehicle = Vehicle.E_BIKE, capacity: int = 3
    ) -> None:
        async def add(uow: DispatchUnitOfWork) -> None:
            await uow.riders.put(Rider(rider_id, rider_id, vehicle, capacity, RiderState.AVAILABLE))
            rider = await uow.riders.get(rider_id)
            assert rider is not None
            rider.state = RiderState.AVAILABLE
            await uow.riders.save(rider)

        await self.run(add)
        await self.seen(rider_id, lat, lon)

    async def seen(self, rider_id: str, lat: float, lon: float) -> None:
        await RiderPositions(self.redis).update(rider_id, lat, lon, at=self.clock.now().timestamp())


@pytest.fixture
async def dispatch(pool: asyncpg.Pool, infra: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Dispatch]:
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setattr(repository, "POSITIONS", f"test:geo:{suffix}")
    monkeypatch.setattr(repository, "LAST_SEEN", f"test:seen:{suffix}")
    async with pool.acquire() as conn:
        await db.migrate(conn, [MIGRATIONS])
    client = aioredis.from_url(infra.redis_url, decode_responses=True)
    clock = FakeClock()
    runtime = runtime_for(SPEC, SETTINGS, pool, client, clock)
    d = Dispatch(pool, client, clock, lambda: make_uow(runtime, cause=None, correlation_id=None, readonly=False))
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
    await d.run(lambda uow: intake.on_location(uow, shop))
    try:
        yield d
    finally:
        await client.aclose()
