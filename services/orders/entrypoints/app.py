"""The orders service: `uvicorn services.orders.entrypoints.app:app`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from services.orders.adapters.messages import MessageSender
from services.orders.adapters.repository import ORDER_CHANNEL
from services.orders.entrypoints import (
    addresses_http,
    admin_http,
    cash_desk_http,
    codes_http,
    discovery_http,
    following_http,
    group_buys_http,
    group_trips_http,
    reports_http,
    residents_http,
    settlement_http,
    stream,
)
from services.orders.entrypoints.consumers import SUBSCRIPTIONS
from services.orders.entrypoints.http import router
from services.orders.entrypoints.news_http import router as news_router
from services.orders.service_layer import addresses, group_buys, payments
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork, PostgresOrdersUnitOfWork
from shared.auth import Principal
from shared.events.contracts import (
    ApprovalGiven,
    GroupBuyAccepted,
    GroupBuyBagsReturned,
    GroupBuyCancelled,
    GroupBuyClosed,
    GroupBuyFailed,
    OrderAccepted,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRated,
    OrderRejected,
    PickupChoiceMade,
)
from shared.events.envelope import RawEnvelope
from shared.service import Runtime, ServiceSpec, asyncapi_app, build_app
from shared.settings import Settings
from shared.sse import LiveListener
from shared.vocabulary.roles import Role

log = logging.getLogger(__name__)

# The demo's residents start with money on their prepaid balance, as if topped up at the
# service centre's cash desk, so the shopper app can check out at once.
DEMO_BALANCES = {"resident-li": 200_00, "resident-wang": 200_00}
# The demo estates' buildings, for the shopper app's address picker; loaded once, if the book is empty.
DEMO_ADDRESS_BOOK = Path(__file__).parents[1] / "adapters" / "demo_address_book.csv"


def make_uow(
    runtime: Runtime, *, cause: RawEnvelope | None, correlation_id: str | None, readonly: bool
) -> PostgresOrdersUnitOfWork:
    return PostgresOrdersUnitOfWork(
        runtime.pool, clock=runtime.clock, cause=cause, correlation_id=correlation_id, readonly=readonly
    )


def _unit_of_work(runtime: Runtime, *, readonly: bool = False) -> OrdersUnitOfWork:
    uow = runtime.unit_of_work(readonly=readonly)
    assert isinstance(uow, OrdersUnitOfWork)
    return uow


async def _health(runtime: Runtime) -> dict[str, Any]:
    async with _unit_of_work(runtime, readonly=True) as uow:
        return {"catalog": await uow.catalog.counts()}


async def seed_demo(runtime: Runtime) -> None:
    desk = Principal("demo-cash-desk", Role.ADMIN)
    async with _unit_of_work(runtime) as uow:
        for holder, amount in DEMO_BALANCES.items():
            if not await uow.ledger.entries(holder=holder, limit=1):
                await payments.top_up(uow, desk, holder, amount, "demo: opening balance")
        if not await uow.addresses.count():
            loaded = await addresses.load(uow, DEMO_ADDRESS_BOOK.read_text(encoding="utf-8"))
            log.info("demo address book loaded: %d buildings of %d estates", loaded.buildings, loaded.estates)


async def on_start(runtime: Runtime) -> None:
    """Give products stored before search had pinyin their pinyin; seed the demo residents' balances."""
    async with _unit_of_work(runtime) as uow:
        filled = await uow.catalog.fill_missing_pinyin()
    if filled:
        log.info("pinyin filled in for %d products", filled)
    if runtime.settings.demo_seed:
        await seed_demo(runtime)


SPEC = ServiceSpec(
    name="orders",
    title="orders",
    description="Shoppers and helpers place orders; the order's life is tracked from placed to handed over.",
    migrations=Path(__file__).parents[1] / "migrations",
    unit_of_work=make_uow,
    web=Path(__file__).parents[1] / "web",
    routers=[
        router,
        residents_http.router,
        following_http.router,
        news_router,
        stream.router,
        discovery_http.router,
        codes_http.router,
        addresses_http.router,
        group_buys_http.router,
        group_trips_http.router,
        reports_http.router,
        settlement_http.router,
        admin_http.router,
        cash_desk_http.router,
    ],
    subscriptions=SUBSCRIPTIONS,
    publishes=[
        OrderPlaced,
        OrderConfirmed,
        OrderRejected,
        OrderAccepted,
        OrderCancelled,
        ApprovalGiven,
        PickupChoiceMade,
        OrderRated,
        GroupBuyAccepted,
        GroupBuyCancelled,
        GroupBuyClosed,
        GroupBuyFailed,
        GroupBuyBagsReturned,
    ],
    deadlines={
        group_buys.CUTOFF: group_buys.on_cutoff,  # type: ignore[dict-item]
        group_buys.PICKUP_END: group_buys.on_pickup_end,  # type: ignore[dict-item]
    },
    background=[LiveListener.on(ORDER_CHANNEL), MessageSender.on()],
    health_details=_health,
    on_start=on_start,
)


def create_app(settings: Settings | None = None) -> Any:
    return build_app(SPEC, settings or Settings(service="orders"))


app = create_app()
asyncapi = asyncapi_app(SPEC)
