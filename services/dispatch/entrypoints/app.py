"""The dispatch service: `uvicorn services.dispatch.entrypoints.app:app`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from services.dispatch.adapters.leader import Leadership
from services.dispatch.adapters.redis_watch import RedisWatch
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.domain.riders import Rider, RiderState, Vehicle
from services.dispatch.entrypoints.consumers import DEADLINES, SUBSCRIPTIONS
from services.dispatch.entrypoints.dispatcher_http import router as dispatcher_router
from services.dispatch.entrypoints.http import router
from services.dispatch.entrypoints.live import LiveFeeds
from services.dispatch.entrypoints.live import router as live_router
from services.dispatch.entrypoints.lockers_http import router as lockers_router
from services.dispatch.entrypoints.rider_http import router as rider_router
from services.dispatch.service_layer import lockers
from services.dispatch.service_layer.rounds import AssignmentRounds
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork, PostgresDispatchUnitOfWork
from services.dispatch.simulator import RiderSimulator
from shared.dependencies import Unavailable
from shared.events.contracts import (
    DeliveryAbandoned,
    DeliveryCompleted,
    DeliveryFailed,
    DeliveryPickedUp,
    DeliveryPromised,
    EtaUpdated,
    LockerCollected,
    LockerDeposited,
    LockerExpired,
    LockerReserved,
    LockerSiteUpdated,
    PickupOffered,
    PromiseQuoted,
    RiderAssigned,
    RiderAtDoor,
    RiderAtShop,
    RiderUnassigned,
)
from shared.events.envelope import RawEnvelope
from shared.events.topics import CIRCLE
from shared.service import Runtime, ServiceSpec, asyncapi_app, build_app
from shared.settings import Settings
from shared.vocabulary.geo import Point

DEMO_RIDERS = [
    (Rider("rider-zhang", "张师傅 Master Zhang", Vehicle.E_BIKE, 4, RiderState.AVAILABLE), 32.0440, 118.7900),
    (Rider("rider-liu", "刘姐 Sister Liu", Vehicle.BICYCLE, 3, RiderState.AVAILABLE), 32.0425, 118.7880),
    (Rider("rider-chen", "小陈 Xiao Chen", Vehicle.E_BIKE, 5, RiderState.AVAILABLE), 32.0450, 118.7930),
    (Rider("rider-wang", "王大爷 Grandpa Wang", Vehicle.FOOT, 2, RiderState.AVAILABLE), 32.0418, 118.7865),
    (Rider("rider-zhao", "赵师傅 Master Zhao", Vehicle.E_BIKE, 4, RiderState.ON_BREAK), 32.0460, 118.7870),
]
DEMO_LOCKER = (
    "locker-gulou",
    "鼓楼社区柜 Gulou community lockers",
    32.0436,
    118.7893,
    [("A1", "S"), ("A2", "S"), ("B1", "M"), ("B2", "M"), ("C1", "L")],
)

log = logging.getLogger(__name__)
SIMULATOR_LEADER = "dispatch-rider-simulator"  # one simulator across every dispatch instance on a database


def make_uow(
    runtime: Runtime, *, cause: RawEnvelope | None, correlation_id: str | None, readonly: bool
) -> PostgresDispatchUnitOfWork:
    return PostgresDispatchUnitOfWork(
        runtime.pool,
        runtime.redis,
        runtime.settings,
        clock=runtime.clock,
        cause=cause,
        correlation_id=correlation_id,
        readonly=readonly,
    )


def _uow(runtime: Runtime) -> DispatchUnitOfWork:
    return make_uow(runtime, cause=None, correlation_id=None, readonly=False)


async def seed_demo(runtime: Runtime) -> None:
    if not runtime.settings.demo_seed:
        return
    async with _uow(runtime) as uow:
        for rider, _, _ in DEMO_RIDERS:
            await uow.riders.put(rider)
        if await uow.lockers.site(DEMO_LOCKER[0]) is None:
            site_id, name, lat, lon, comps = DEMO_LOCKER
            await lockers.put_site(uow, site_id, name, lat, lon, comps)
    positions = RiderPositions(runtime.redis)
    try:
        for rider, lat, lon in DEMO_RIDERS:
            await positions.update(rider.id, lat, lon)
    except Unavailable:
        log.warning("demo riders not placed: Redis is away (they are placed when they next report)")


async def announce_lockers(runtime: Runtime) -> None:
    """Every locker site once at start: a reader new to the compacted circle topic learns them all."""
    async with _uow(runtime) as uow:
        n = await lockers.announce_all(uow)
    log.info("announced %d locker sites on %s", n, CIRCLE.name)


async def on_start(runtime: Runtime) -> None:
    await seed_demo(runtime)
    await announce_lockers(runtime)


def rounds(runtime: Runtime) -> AssignmentRounds:
    return AssignmentRounds(lambda: _uow(runtime), runtime.settings.round_interval_s)


def simulator(runtime: Runtime) -> RiderSimulator | None:
    if not runtime.settings.rider_simulator:
        return None
    log.info("rider simulator on: the demo riders take offers and deliver by themselves (in the leading instance)")
    return RiderSimulator(
        lambda: _uow(runtime),
        [(rider.id, Point(lat, lon)) for rider, lat, lon in DEMO_RIDERS],
        leadership=Leadership(runtime.settings.database_url, SIMULATOR_LEADER),
    )


async def _health(runtime: Runtime) -> dict[str, Any]:
    """How many Redis streams this process is reading for its open live clients, and where the rounds'
    rider positions come from (Redis, or while it is away the last ones kept in PostgreSQL)."""
    feeds: LiveFeeds = runtime.loop(LiveFeeds)
    return {"live_readers": feeds.hub.readers(), "riders": RedisWatch.of(runtime.redis).as_dict()}


SPEC = ServiceSpec(
    name="dispatch",
    title="dispatch",
    description="Riders and deliveries: plans who carries each order, follows each step to the door or locker.",
    migrations=Path(__file__).parents[1] / "migrations",
    web=Path(__file__).parents[1] / "web",
    routers=[router, dispatcher_router, rider_router, lockers_router, live_router],
    subscriptions=SUBSCRIPTIONS,
    publishes=[
        DeliveryPromised,
        RiderAssigned,
        RiderUnassigned,
        RiderAtShop,
        DeliveryPickedUp,
        RiderAtDoor,
        DeliveryCompleted,
        DeliveryFailed,
        EtaUpdated,
        PickupOffered,
        DeliveryAbandoned,
        LockerReserved,
        LockerDeposited,
        LockerCollected,
        LockerExpired,
        LockerSiteUpdated,
        PromiseQuoted,
    ],
    deadlines=DEADLINES,
    unit_of_work=make_uow,
    on_start=on_start,
    background=[LiveFeeds, rounds, simulator],
    health_details=_health,
)


def create_app(settings: Settings | None = None) -> Any:
    return build_app(SPEC, settings or Settings(service="dispatch"))


app = create_app()
asyncapi = asyncapi_app(SPEC)
