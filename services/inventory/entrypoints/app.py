"""The inventory service: `uvicorn services.inventory.entrypoints.app:app`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from services.inventory.adapters import demo_neighbourhood
from services.inventory.entrypoints.catalog_http import router as catalog_router
from services.inventory.entrypoints.consumers import DEADLINES, SUBSCRIPTIONS
from services.inventory.entrypoints.http import router
from services.inventory.entrypoints.staff_http import router as staff_router
from services.inventory.service_layer import catalog
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import (
    BagReturned,
    LineOutOfStock,
    LinePicked,
    LocationUpserted,
    LowStock,
    OrderHandedOver,
    OrderPacked,
    PartAccepted,
    PartPacked,
    PartRejected,
    PickingStarted,
    ProductUpserted,
    ShopAccepted,
    ShopRejected,
    StockRejected,
    StockReleased,
    StockReserved,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.service import Runtime, ServiceSpec, asyncapi_app, build_app
from shared.settings import Settings

log = logging.getLogger(__name__)


async def seed_demo(runtime: Runtime) -> None:
    """Put the demo neighbourhood in place; products already there keep their stock, locations their hours."""
    if not runtime.settings.demo_seed:
        return
    always_open = runtime.settings.demo_always_open
    async with runtime.pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn)
        for location in demo_neighbourhood.LOCATIONS:
            values = dict(location)
            if not always_open and await uow.inventory.location(location["id"]) is None:
                values["windows"] = demo_neighbourhood.HOURS.get(location["id"])
            await catalog.upsert_location(uow, values)
        for product in demo_neighbourhood.PRODUCTS:
            exists = await conn.fetchval("SELECT 1 FROM products WHERE id = $1", product["id"])
            values = dict(product) if not exists else {**product, "on_hand": None}
            await catalog.upsert_product(uow, values, "demo-seed")
    log.info("demo neighbourhood seeded: %d locations, %d products", len(demo_neighbourhood.LOCATIONS),
             len(demo_neighbourhood.PRODUCTS))


SPEC = ServiceSpec(
    name="inventory",
    title="inventory",
    description="Shops, markets and stalls, their products and stock; reserves stock for orders so none is oversold.",
    migrations=Path(__file__).parents[1] / "migrations",
    routers=[router, catalog_router, staff_router],
    subscriptions=SUBSCRIPTIONS,
    publishes=[StockReserved, StockRejected, StockReleased, PartAccepted, PartRejected, ShopAccepted, ShopRejected,
               PickingStarted, LinePicked, LineOutOfStock, WeightApprovalRequested, WeightSettled,
               SubstitutionProposed, SubstitutionSettled, PartPacked, OrderPacked, OrderHandedOver, BagReturned,
               LowStock, LocationUpserted, ProductUpserted],
    deadlines=DEADLINES,
    on_start=seed_demo,
)


def create_app(settings: Settings | None = None) -> Any:
    return build_app(SPEC, settings or Settings(service="inventory"))


app = create_app()
asyncapi = asyncapi_app(SPEC)
