"""The inventory service: `uvicorn services.inventory.entrypoints.app:app`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from services.inventory.adapters import demo_neighbourhood
from services.inventory.adapters.fulfilment_repository import QUEUE_CHANNEL
from services.inventory.domain.catalog import LocationChanges, ProductChanges
from services.inventory.domain.shop_hours import windows_of
from services.inventory.entrypoints.admin_http import router as admin_router
from services.inventory.entrypoints.catalog_http import router as catalog_router
from services.inventory.entrypoints.codes_http import router as codes_router
from services.inventory.entrypoints.consumers import DEADLINES, SUBSCRIPTIONS
from services.inventory.entrypoints.group_buys_http import router as group_buys_router
from services.inventory.entrypoints.http import router
from services.inventory.entrypoints.live_http import router as live_router
from services.inventory.entrypoints.price_lists_http import router as price_lists_router
from services.inventory.entrypoints.staff_http import router as staff_router
from services.inventory.entrypoints.staff_registry_http import router as staff_registry_router
from services.inventory.service_layer import catalog, stock_keeping
from services.inventory.service_layer.policy import Policy
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork, PostgresInventoryUnitOfWork
from shared.events.contracts import (
    BagReturned,
    DealStockRefused,
    DealStockReleased,
    DealStockReserved,
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
    StaffRegistryChanged,
    StockLevelChanged,
    StockRejected,
    StockReleased,
    StockReserved,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.events.envelope import RawEnvelope
from shared.service import Runtime, ServiceSpec, asyncapi_app, build_app
from shared.settings import Settings
from shared.sse import LiveListener
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit

log = logging.getLogger(__name__)


def make_uow(
    runtime: Runtime, *, cause: RawEnvelope | None, correlation_id: str | None, readonly: bool
) -> PostgresInventoryUnitOfWork:
    return PostgresInventoryUnitOfWork(
        runtime.pool,
        clock=runtime.clock,
        policy=Policy.from_settings(runtime.settings),
        cause=cause,
        correlation_id=correlation_id,
        readonly=readonly,
    )


async def _seed_locations(uow: InventoryUnitOfWork, always_open: bool) -> None:
    for location in demo_neighbourhood.LOCATIONS:
        lid = location["id"]
        operating: dict[str, Any] = {}  # set once: later seeds keep what staff changed
        if await uow.locations.get(lid) is None:
            operating["delivery_fee_fen"] = demo_neighbourhood.DELIVERY_FEES_FEN.get(lid, 0)
            if not always_open:
                operating["windows"] = windows_of(demo_neighbourhood.HOURS.get(lid))
        changes = LocationChanges(
            parent_id=location.get("parent_id"),
            category=location["category"],
            name_zh=location["name_zh"],
            name_en=location["name_en"],
            lat=location["lat"],
            lon=location["lon"],
            active=True,
            accept_limit_s=None,
            **operating,
        )
        await catalog.upsert_location(uow, lid, LocationKind(location["kind"]), changes)


async def _seed_products(uow: InventoryUnitOfWork) -> None:
    for product in demo_neighbourhood.PRODUCTS:
        pid = product["id"]
        on_hand = None if await uow.products.exists(pid) else product["on_hand"]  # stock counted once
        changes = ProductChanges(
            **{k: v for k, v in product.items() if k not in ("id", "on_hand", "unit")},
            unit=StockUnit(product["unit"]),
            active=True,
            barcode=None,
        )
        await catalog.upsert_product(uow, pid, changes, "demo-seed", on_hand=on_hand)


async def seed_demo(runtime: Runtime) -> None:
    """Put the demo neighbourhood in place; products already there keep their stock, locations their hours and fees."""
    if not runtime.settings.demo_seed:
        return
    async with make_uow(runtime, cause=None, correlation_id=None, readonly=False) as uow:
        await _seed_locations(uow, runtime.settings.demo_always_open)
        await _seed_products(uow)
    log.info(
        "demo neighbourhood seeded: %d locations, %d products",
        len(demo_neighbourhood.LOCATIONS),
        len(demo_neighbourhood.PRODUCTS),
    )


async def publish_missing_levels(runtime: Runtime) -> None:
    """Search learns the level of every product, also of those from before levels were published."""
    async with make_uow(runtime, cause=None, correlation_id=None, readonly=False) as uow:
        published = await stock_keeping.publish_missing_levels(uow)
    if published:
        log.info("stock levels published for %d products that had none", published)


async def on_start(runtime: Runtime) -> None:
    await publish_missing_levels(runtime)
    await seed_demo(runtime)


async def _health_details(runtime: Runtime) -> dict[str, Any]:
    """While the demo runs on its real hours: which of its shops are closed now, for `linli up` to say."""
    settings = runtime.settings
    if not settings.demo_seed or settings.demo_always_open:
        return {}
    note = demo_neighbourhood.hours_note(runtime.clock.now(), settings.timezone)
    return {"demo_hours_note": note} if note else {}


SPEC = ServiceSpec(
    name="inventory",
    title="inventory",
    description="Shops, markets and stalls, their products and stock; reserves stock for orders so none is oversold.",
    migrations=Path(__file__).parents[1] / "migrations",
    unit_of_work=make_uow,
    web=Path(__file__).parents[1] / "web",
    routers=[
        router,
        catalog_router,
        staff_router,
        live_router,
        codes_router,
        group_buys_router,
        price_lists_router,
        staff_registry_router,
        admin_router,
    ],
    subscriptions=SUBSCRIPTIONS,
    publishes=[
        StockReserved,
        StockRejected,
        StockReleased,
        PartAccepted,
        PartRejected,
        ShopAccepted,
        ShopRejected,
        PickingStarted,
        LinePicked,
        LineOutOfStock,
        WeightApprovalRequested,
        WeightSettled,
        SubstitutionProposed,
        SubstitutionSettled,
        PartPacked,
        OrderPacked,
        OrderHandedOver,
        BagReturned,
        LowStock,
        LocationUpserted,
        ProductUpserted,
        StockLevelChanged,
        StaffRegistryChanged,
        DealStockReserved,
        DealStockRefused,
        DealStockReleased,
    ],
    deadlines=DEADLINES,
    on_start=on_start,
    background=[LiveListener.on(QUEUE_CHANNEL)],
    health_details=_health_details,
)


def create_app(settings: Settings | None = None) -> Any:
    return build_app(SPEC, settings or Settings(service="inventory"))


app = create_app()
asyncapi = asyncapi_app(SPEC)
