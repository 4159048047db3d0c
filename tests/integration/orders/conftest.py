"""What the orders integration tests share: a migrated orders database and the ways into it.

Each test runs its use cases as the service does, each in its own unit of work on real
PostgreSQL (committed when the use case returns, rolled back when it refuses). A test module
seeds its own catalog with `seed(...)` in a fixture of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from services.orders.domain.basket import Wanted
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.order import Order
from services.orders.entrypoints.answers import order_json
from services.orders.entrypoints.app import SPEC
from services.orders.service_layer import ordering
from services.orders.service_layer.reading import get_order
from services.orders.service_layer.unit_of_work import PostgresOrdersUnitOfWork
from shared import db
from shared.auth import Principal
from shared.clock import SystemClock
from shared.events.contracts import LocationUpserted, LockerSiteUpdated, ProductUpserted
from shared.events.envelope import Event
from shared.idempotency import change_once
from shared.service import Runtime
from shared.settings import Settings
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.runtime import runtime_for

MIGRATIONS = Path(__file__).parents[3] / "services" / "orders" / "migrations"
SETTINGS = Settings(service="orders")
TZ = SETTINGS.timezone
GRANDMA = Principal("grandma", Role.SHOPPER)
HOME = {"text": "3-201 Wenchang Lane", "lat": 32.0425, "lon": 118.787}  # a few hundred metres from the corner shop


@pytest.fixture
async def orders_pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    """A fresh database with the orders migrations applied."""
    async with pool.acquire() as conn:
        await db.migrate(conn, [MIGRATIONS])
    return pool


@pytest.fixture
def orders_runtime(orders_pool: asyncpg.Pool) -> Runtime:
    """The orders service's runtime on the test database: its consumers, an unstarted broker."""
    return runtime_for(SPEC, SETTINGS, orders_pool)


@dataclass
class Conversation:
    """Every statement the one connection of `one_connection` sent, in order."""

    sent: list[str] = field(default_factory=list)

    def log(self, query: LoggedQuery) -> None:
        self.sent.append(" ".join(query.query.split()))

    def transactions(self) -> list[list[str]]:
        """The statements of each transaction since the last `clear()`, from BEGIN to COMMIT or ROLLBACK."""
        found: list[list[str]] = []
        inside = False
        for statement in self.sent:
            if statement.startswith("BEGIN"):
                found.append([])
                inside = True
            if inside:
                found[-1].append(statement)
                inside = statement not in ("COMMIT;", "ROLLBACK;")
        return found

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
async def one_connection(
    database_url: str, orders_pool: asyncpg.Pool
) -> AsyncIterator[tuple[asyncpg.Pool, Conversation]]:
    """A pool of one connection to the orders database whose every statement is logged (asyncpg's query logger)."""
    pool = await db.create_pool(database_url, 1, 1)
    conversation = Conversation()
    try:
        async with pool.acquire() as conn:
            conn.add_query_logger(conversation.log)
        yield pool, conversation
    finally:
        await pool.close()


def unit_of_work(pool: asyncpg.Pool, **kwargs: Any) -> PostgresOrdersUnitOfWork:
    return PostgresOrdersUnitOfWork(pool, clock=SystemClock(), **kwargs)


async def run(pool: asyncpg.Pool, use_case: Any, *args: Any, **kwargs: Any) -> Any:
    """A use case in a unit of work of its own, as a route or a consumer runs it."""
    async with unit_of_work(pool) as uow:
        return await use_case(uow, *args, **kwargs)


async def handle(pool: asyncpg.Pool, handler: Any, event: Event) -> None:
    """An event from another service applied by its use case (without the inbox)."""
    await run(pool, handler, event)


async def changed_once(
    pool: asyncpg.Pool, principal: Principal, key: str | None, fingerprint: str, use_case: Any, *args: Any
) -> tuple[int, Any]:
    """A change behind an Idempotency-Key, answering the order as the routes do."""

    async def change(uow: PostgresOrdersUnitOfWork) -> dict[str, Any]:
        return order_json(await use_case(uow, principal, *args), principal)

    return await change_once(lambda: unit_of_work(pool), principal.key, key, fingerprint, change)


async def seed(pool: asyncpg.Pool, *facts: LocationUpserted | ProductUpserted | LockerSiteUpdated) -> None:
    """The catalog and circle read models as inventory's and dispatch's events would fill them."""
    async with unit_of_work(pool) as uow:
        for fact in facts:
            if isinstance(fact, LocationUpserted):
                await uow.catalog.upsert_location(fact)
            elif isinstance(fact, ProductUpserted):
                await uow.catalog.upsert_product(fact)
            else:
                await uow.circle.upsert_locker_site(fact, uow.now())


def corner_shop(lon: float = 118.78, **extra: Any) -> LocationUpserted:
    """The convenience store ("shop") most tests order from, near HOME."""
    return LocationUpserted(
        location_id="shop",
        kind=LocationKind.SHOP,
        category="convenience",
        name_zh="小店",
        name_en="Corner shop",
        lat=32.04,
        lon=lon,
        **extra,
    )


def shop_product(
    product_id: str,
    name_zh: str,
    name_en: str,
    category: str,
    price_fen: int,
    unit: StockUnit = StockUnit.PIECE,
    **extra: Any,
) -> ProductUpserted:
    """A product the corner shop sells."""
    return ProductUpserted(
        product_id=product_id,
        location_id="shop",
        store_id="shop",
        name_zh=name_zh,
        name_en=name_en,
        category=category,
        unit=unit,
        price_fen=price_fen,
        **extra,
    )


async def place(
    pool: asyncpg.Pool,
    fulfilment: dict[str, Any],
    *,
    store_id: str,
    wanted: list[Wanted],
    by: Principal = GRANDMA,
    note: str | None = None,
    contact_phone: str | None = None,
    on_behalf_of: str | None = None,
    **extra: Any,
) -> Order:
    """Place an order as POST /orders does (the fulfilment as the request body gives it)."""
    order: Order = await run(
        pool,
        ordering.place_order,
        by,
        store_id=store_id,
        wanted=wanted,
        fulfilment=Fulfilment.from_dict(fulfilment),
        note=note,
        contact_phone=contact_phone,
        on_behalf_of=on_behalf_of,
        timezone=TZ,
        **extra,
    )
    return order


async def view(pool: asyncpg.Pool, order_id: str, viewer: Principal = GRANDMA) -> dict[str, Any]:
    """The order as GET /orders/{id} answers `viewer`."""
    async with unit_of_work(pool, readonly=True) as uow:
        return order_json(await get_order(uow, viewer, order_id), viewer)


async def outbox(pool: asyncpg.Pool, event_type: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT envelope FROM outbox WHERE event_type = $1 ORDER BY id", event_type)
    return [r["envelope"]["payload"] for r in rows]
