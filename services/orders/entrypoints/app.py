"""The orders service: `uvicorn services.orders.entrypoints.app:app`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.orders.adapters.repository import CatalogReadModel
from services.orders.entrypoints.consumers import SUBSCRIPTIONS
from services.orders.entrypoints.http import router
from shared.events.contracts import (
    ApprovalGiven,
    OrderAccepted,
    OrderCancelled,
    OrderConfirmed,
    OrderPlaced,
    OrderRejected,
    PickupChoiceMade,
)
from shared.service import Runtime, ServiceSpec, asyncapi_app, build_app
from shared.settings import Settings


async def _health(runtime: Runtime) -> dict[str, Any]:
    async with runtime.pool.acquire() as conn:
        return {"catalog": await CatalogReadModel(conn).counts()}


SPEC = ServiceSpec(
    name="orders",
    title="orders",
    description="Shoppers and helpers place orders; the order's life is tracked from placed to handed over.",
    migrations=Path(__file__).parents[1] / "migrations",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
    publishes=[OrderPlaced, OrderConfirmed, OrderRejected, OrderAccepted, OrderCancelled, ApprovalGiven,
               PickupChoiceMade],
    health_details=_health,
)


def create_app(settings: Settings | None = None) -> Any:
    return build_app(SPEC, settings or Settings(service="orders"))


app = create_app()
asyncapi = asyncapi_app(SPEC)
