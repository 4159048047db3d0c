"""The dispatch service: `uvicorn services.dispatch.entrypoints.app:app`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.dispatch.adapters.repository import DispatchRepository, RiderPositions
from services.dispatch.domain.delivery import Rider, RiderState, Vehicle
from services.dispatch.entrypoints.consumers import SUBSCRIPTIONS
from services.dispatch.entrypoints.http import router
from shared.service import Runtime, ServiceSpec, asyncapi_app, build_app
from shared.settings import Settings

DEMO_RIDERS = [
    (Rider("rider-zhang", "张师傅 Master Zhang", Vehicle.E_BIKE, 4, RiderState.AVAILABLE), 32.0440, 118.7900),
    (Rider("rider-liu", "刘姐 Sister Liu", Vehicle.BICYCLE, 3, RiderState.AVAILABLE), 32.0425, 118.7880),
    (Rider("rider-chen", "小陈 Xiao Chen", Vehicle.E_BIKE, 5, RiderState.AVAILABLE), 32.0450, 118.7930),
    (Rider("rider-wang", "王大爷 Grandpa Wang", Vehicle.FOOT, 2, RiderState.AVAILABLE), 32.0418, 118.7865),
    (Rider("rider-zhao", "赵师傅 Master Zhao", Vehicle.E_BIKE, 4, RiderState.ON_BREAK), 32.0460, 118.7870),
]


async def seed_demo(runtime: Runtime) -> None:
    if not runtime.settings.demo_seed:
        return
    async with runtime.pool.acquire() as conn, conn.transaction():
        repo = DispatchRepository(conn)
        for rider, _, _ in DEMO_RIDERS:
            await repo.upsert_rider(rider)
    positions = RiderPositions(runtime.redis)
    for rider, lat, lon in DEMO_RIDERS:
        await positions.update(rider.id, lat, lon)


SPEC = ServiceSpec(
    name="dispatch",
    title="dispatch",
    description="Riders and deliveries: follows orders from the events and plans who carries them.",
    migrations=Path(__file__).parents[1] / "migrations",
    routers=[router],
    subscriptions=SUBSCRIPTIONS,
    on_start=seed_demo,
)


def create_app(settings: Settings | None = None) -> Any:
    return build_app(SPEC, settings or Settings(service="dispatch"))


app = create_app()
asyncapi = asyncapi_app(SPEC)
