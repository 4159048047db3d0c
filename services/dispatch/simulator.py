"""The rider simulator for demos (`linli up`, off with --no-riders): the demo riders play themselves.

Every tick each simulated rider stays available (unless on a break), reports where they are, takes any
offer put to them, rides toward their next stop in a straight line at their vehicle's speed, and on
arrival does the step a real rider would: at the shop, picked up (once the bag is packed, with the
handover code), at the door, delivered with the shopper's code (collecting the cash when paid on
delivery), or into the locker. Everything goes through the same use cases as the rider endpoints, so
events, live views and positions look exactly as if a person were riding.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.dispatch.adapters.live import append
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.domain.delivery import BEFORE_PICKUP, CARRYING, DeliveryStatus, RiderState
from services.dispatch.service_layer import assigning, delivering, riders
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.background import BackgroundLoop
from shared.deadlines import Clock, SystemClock
from shared.settings import Settings
from shared.vocabulary.geo import DETOUR, Point, metres, speed_mps
from shared.vocabulary.roles import Role

log = logging.getLogger(__name__)

MAX_TICK_S = 5.0  # after a stall, do not jump across the map in one tick


def towards(here: Point, there: Point, step_m: float) -> tuple[Point, bool]:
    """`step_m` metres from `here` along the straight line to `there`; True when `there` is reached."""
    gap = metres(here, there)
    if gap <= step_m or gap == 0:
        return there, True
    f = step_m / gap
    return Point(here.lat + (there.lat - here.lat) * f, here.lon + (there.lon - here.lon) * f), False


def _shop(d: asyncpg.Record) -> Point | None:
    return Point(d["shop_lat"], d["shop_lon"]) if d.get("shop_lat") is not None else None


def _door(d: asyncpg.Record) -> Point | None:
    address = d["address"]
    return Point(address["lat"], address["lon"]) if address else None


class RiderSimulator(BackgroundLoop):
    name = "rider simulator"

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: aioredis.Redis,
        settings: Settings,
        riders: Sequence[tuple[str, Point]],
        *,
        clock: Clock | None = None,
        pause_s: float = 1.0,
    ) -> None:
        super().__init__(pause_s)
        self.pool, self.redis, self.settings = pool, redis, settings
        self.clock = clock or SystemClock()
        self.home = {rider_id: point for rider_id, point in riders}
        self.where: dict[str, Point] = {}
        self._last: float | None = None

    async def round(self) -> None:
        now = time.monotonic()
        dt = self.pause_s if self._last is None else min(now - self._last, MAX_TICK_S)
        self._last = now
        await self.tick(dt)

    async def tick(self, dt_s: float) -> None:
        """Move every simulated rider on by `dt_s` seconds; one rider's trouble does not stop the others."""
        for rider_id in self.home:
            try:
                await self._rider_tick(rider_id, dt_s)
            except Exception:
                log.exception("rider simulator: %s stumbled; carrying on", rider_id)

    async def _run(self, use_case: Callable[[UnitOfWork], Awaitable[Any]]) -> Any:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                uow = UnitOfWork(conn, self.settings, positions=RiderPositions(self.redis), clock=self.clock)
                result = await use_case(uow)
            await append(self.redis, uow.live)
        return result

    async def _position(self, rider_id: str) -> Point:
        if rider_id not in self.where:
            found = (await RiderPositions(self.redis).positions([rider_id])).get(rider_id)
            self.where[rider_id] = Point(found["lat"], found["lon"]) if found else self.home[rider_id]
        return self.where[rider_id]

    async def _rider_tick(self, rider_id: str, dt_s: float) -> None:
        me = Principal(subject=rider_id, role=Role.RIDER)  # the rider acts as themselves
        profile = await self._run(lambda uow: uow.repo.rider(me.subject))
        if profile is None:
            return
        if profile["state"] == RiderState.OFFLINE:
            await self._run(lambda uow: riders.set_state(uow, me.subject, RiderState.AVAILABLE))
        elif profile["state"] == RiderState.ON_BREAK:
            return  # a rider on a break stays put and takes no work

        for offer in await self._run(lambda uow: assigning.offers_for(uow, me.subject)):
            offer_id: str = offer["offer_id"]
            try:
                await self._run(lambda uow: assigning.accept_offer(uow, me.subject, offer_id))  # noqa: B023
                log.info("rider simulator: %s took order %s", rider_id, offer["order_id"])
            except Exception as e:  # taken back, withdrawn, lapsed, at capacity: the next round re-offers
                log.info("rider simulator: %s could not take order %s: %s", rider_id, offer["order_id"], e)

        here = await self._position(rider_id)
        deliveries = await self._run(lambda uow: uow.repo.of_rider(me.subject))
        # Collect every bag first, then take them to their doors, in the order they were given.
        current = next(
            (d for d in deliveries if DeliveryStatus(d["status"]) in BEFORE_PICKUP),
            next((d for d in deliveries if DeliveryStatus(d["status"]) in CARRYING), None),
        )
        if current is not None:
            try:
                here = await self._work_on(me, current, here, dt_s * speed_mps(profile["vehicle"]) / DETOUR)
            except Exception:
                log.exception("rider simulator: %s could not go on with order %s", rider_id, current["order_id"])
        self.where[rider_id] = here
        await self._run(lambda uow: riders.report_location(uow, me.subject, here.lat, here.lon))

    async def _work_on(self, me: Principal, d: asyncpg.Record, here: Point, step_m: float) -> Point:
        """Ride toward this delivery's next stop; on arrival do the step due there. Returns where the rider is."""
        rider_id, order_id, status = me.subject, d["order_id"], DeliveryStatus(d["status"])
        target = _shop(d) if status in BEFORE_PICKUP else _door(d)
        if status in CARRYING and d["mode"] == "locker" and d["locker_site_id"]:
            site = await self._run(lambda uow: uow.repo.site(d["locker_site_id"]))
            target = Point(site["lat"], site["lon"]) if site else target
        if target is None:
            target = here  # nowhere to ride to: do the step where we are
        here, arrived = towards(here, target, step_m)
        if not arrived:
            return here
        if status is DeliveryStatus.ASSIGNED:
            await self._run(lambda uow: delivering.at_shop(uow, order_id, rider_id))
        elif status is DeliveryStatus.AT_SHOP:
            if d["packed_at"] is None or d["handover_code"] is None:
                return here  # wait at the counter until the bag is packed
            await self._run(lambda uow: delivering.picked_up(uow, order_id, rider_id, d["handover_code"]))
        elif status is DeliveryStatus.PICKED_UP and d["mode"] == "locker":
            await self._run(lambda uow: delivering.locker_deposit(uow, order_id, rider_id))
        elif status is DeliveryStatus.PICKED_UP:
            await self._run(lambda uow: delivering.at_door(uow, order_id, rider_id))
        elif status is DeliveryStatus.AT_DOOR:
            cash = (d["due_at_door_fen"] or d["total_fen"] or 1) if d["pay_on_delivery"] else None
            await self._run(lambda uow: delivering.delivered(uow, order_id, rider_id, d["delivery_code"] or "-", cash))
        else:
            return here
        log.info("rider simulator: %s did the next step on order %s (was %s)", rider_id, order_id, status.value)
        return here
