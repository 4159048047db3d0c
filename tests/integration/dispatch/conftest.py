"""Support for the dispatch integration tests (no tests here): a migrated dispatch database, Redis keys
of its own, a clock moved by hand, and ways to drive dispatch's use cases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from services.dispatch.adapters import repository
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.domain.delivery import Rider, RiderState, Vehicle
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared import db
from shared.deadlines import FakeClock
from shared.events.contracts import (
    DeliveryAddress,
    HandlingFlags,
    LocationUpserted,
    OrderAccepted,
    OrderedLine,
    OrderPacked,
    OrderPlaced,
    PickupPoint,
)
from shared.settings import Settings
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit

MIGRATIONS = Path(__file__).parents[2] / "services" / "dispatch" / "migrations"
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
SHOP = (32.0440, 118.7900)
DOOR = (32.0470, 118.7950)


@dataclass
class Dispatch:
    pool: asyncpg.Pool
    redis: aioredis.Redis
    clock: FakeClock

    async def run(self, use_case: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        async with self.pool.acquire() as conn, conn.transaction():
            return await use_case(UnitOfWork(conn, SETTINGS, positions=RiderPositions(self.redis), clock=self.clock))

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
        async def add(uow: UnitOfWork) -> None:
            await uow.log.upsert_rider(Rider(rider_id, rider_id, vehicle, capacity, RiderState.AVAILABLE))
            await uow.repo.set_rider_state(rider_id, "available")

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
    d = Dispatch(pool, client, FakeClock())
    from services.dispatch.service_layer import intake

    await d.run(
        lambda uow: intake.on_location(
            uow,
            LocationUpserted(
                location_id="shop",
                kind=LocationKind.SHOP,
                category="grocery",
                name_zh="店",
                name_en="Shop",
                lat=SHOP[0],
                lon=SHOP[1],
                picking_minutes=0,
            ),
        )
    )
    try:
        yield d
    finally:
        await client.aclose()


def placed(
    order_id: str,
    *,
    mode: str = "delivery",
    pay_on_delivery: bool = False,
    site: str | None = None,
    by: str = "shopper-1",
) -> OrderPlaced:
    line = OrderedLine(
        line_no=1,
        product_id="water",
        location_id="shop",
        quantity=1,
        unit=StockUnit.PIECE,
        stock_quantity=1,
        unit_price_fen=200,
        estimated_fen=200,
    )
    return OrderPlaced(
        order_id=order_id,
        store_id="shop",
        placed_by=by,
        placed_for=by,
        fulfilment_mode=mode,
        lines=[line],
        total_fen=200,
        flags=HandlingFlags(pay_on_delivery=pay_on_delivery),
        address=DeliveryAddress(text="3-201 Lane 5", lat=DOOR[0], lon=DOOR[1]),
        contact_phone="13800000000",
        delivery_code="123456",
        locker_site_id=site,
        note="ring twice",
    )


def accepted(order_id: str) -> OrderAccepted:
    return OrderAccepted(order_id=order_id, store_id="shop")


def packed(order_id: str, code: str = "4321", bags: int = 1, weight_g: int = 900) -> OrderPacked:
    return OrderPacked(
        order_id=order_id,
        store_id="shop",
        shown_fen=200,
        final_fen=200,
        difference_fen=0,
        lines=[],
        bags=bags,
        weight_g=weight_g,
        pickup_point=PickupPoint(location_id="shop", name_zh="店", name_en="Shop"),
        handover_code=code,
    )
