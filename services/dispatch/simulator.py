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
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from services.dispatch.adapters.leader import Leadership
from services.dispatch.domain.delivery import BEFORE_PICKUP, CARRYING, Delivery, DeliveryStatus
from services.dispatch.domain.offers import Offer
from services.dispatch.domain.riders import Rider, RiderState
from services.dispatch.service_layer import assigning, delivering, riders
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.background import BackgroundLoop
from shared.dependencies import Unavailable
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.geo import DETOUR, Point, metres, speed_mps

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_TICK_S = 5.0  # after a stall, do not jump across the map in one tick
HEARTBEAT_S = 10.0  # an idle rider's position report, well inside rider_silent_s


def towards(here: Point, there: Point, step_m: float) -> tuple[Point, bool]:
    """`step_m` metres from `here` along the straight line to `there`; True when `there` is reached."""
    gap = metres(here, there)
    if gap <= step_m or gap == 0:
        return there, True
    f = step_m / gap
    return Point(here.lat + (there.lat - here.lat) * f, here.lon + (there.lon - here.lon) * f), False


@dataclass(frozen=True)
class _Look:
    """What one tick needs to know, read together: the riders, their pending offers and deliveries."""

    now: datetime
    profiles: dict[str, Rider]
    offers: dict[str, list[Offer]]
    deliveries: dict[str, list[Delivery]]
    positions: dict[str, Point]


class RiderSimulator(BackgroundLoop):
    """One tick reads every simulated rider's state in one read-only unit of work; only what a rider
    does (take an offer, a step, a position report) writes. A rider standing idle reports where they
    are every `HEARTBEAT_S`, often enough never to fall silent. With `leadership`, only the instance
    that holds it simulates: however many dispatch instances run, the demo riders ride once."""

    name = "rider simulator"

    def __init__(
        self,
        unit_of_work: Callable[[], DispatchUnitOfWork],
        riders: Sequence[tuple[str, Point]],
        *,
        pause_s: float = 1.0,
        leadership: Leadership | None = None,
    ) -> None:
        super().__init__(pause_s)
        self.unit_of_work = unit_of_work
        self.home = {rider_id: point for rider_id, point in riders}
        self.where: dict[str, Point] = {}
        self.leadership = leadership
        self.ticks = 0
        self._reported: dict[str, datetime] = {}
        self._last: float | None = None

    async def round(self) -> None:
        if self.leadership is not None and not await self.leadership.leads():
            self._last = None
            return
        now = time.monotonic()
        dt = self.pause_s if self._last is None else min(now - self._last, MAX_TICK_S)
        self._last = now
        await self.tick(dt)

    async def stop(self) -> None:
        await super().stop()
        if self.leadership is not None:
            await self.leadership.release()

    async def tick(self, dt_s: float) -> None:
        """Move every simulated rider on by `dt_s` seconds; one rider's trouble does not stop the others."""
        look = await self._look()
        self.ticks += 1
        for rider_id in self.home:
            try:
                await self._rider_tick(rider_id, look, dt_s)
            except Unavailable as e:  # Redis away: the position is not taken; the watch has said so once
                log.debug("rider simulator: %s could not report: %s", rider_id, e)
            except Exception:
                log.exception("rider simulator: %s stumbled; carrying on", rider_id)

    async def _run(self, use_case: Callable[[DispatchUnitOfWork], Awaitable[T]]) -> T:
        async with self.unit_of_work() as uow:
            return await use_case(uow)

    async def _look(self) -> _Look:
        ids = list(self.home)

        async def read(uow: DispatchUnitOfWork) -> _Look:
            profiles = {r.id: r for r in await uow.riders.all() if r.id in self.home}
            offers: dict[str, list[Offer]] = {}
            for o in await uow.offers.pending():
                if o.rider_id in self.home and o.expires_at > uow.now():
                    offers.setdefault(o.rider_id, []).append(o)
            deliveries: dict[str, list[Delivery]] = {}
            for d in await uow.deliveries.of_riders(ids):
                deliveries.setdefault(d.rider_id or "", []).append(d)
            unknown = [i for i in ids if i not in self.where]
            found = await uow.positions.positions(unknown) if unknown else {}
            positions = {i: Point(p.lat, p.lon) for i, p in found.items() if p is not None}
            return _Look(uow.now(), profiles, offers, deliveries, positions)

        return await self._run(read)

    async def _rider_tick(self, rider_id: str, look: _Look, dt_s: float) -> None:
        profile = look.profiles.get(rider_id)
        if profile is None:
            return
        acted = False
        if profile.state is RiderState.OFFLINE:
            await self._run(lambda uow: riders.set_state(uow, rider_id, RiderState.AVAILABLE))
            acted = True
        elif profile.state is RiderState.ON_BREAK:
            return  # a rider on a break stays put and takes no work

        for offer in look.offers.get(rider_id, []):
            offer_id, order_id = offer.id, offer.order_id
            acted = True
            try:
                await self._run(lambda uow: assigning.accept_offer(uow, rider_id, offer_id))  # noqa: B023
                log.info("rider simulator: %s took order %s", rider_id, order_id)
            except Exception as e:  # taken back, withdrawn, lapsed, at capacity: the next round re-offers
                log.info("rider simulator: %s could not take order %s: %s", rider_id, order_id, e)

        here = self.where.get(rider_id) or look.positions.get(rider_id) or self.home[rider_id]
        deliveries = look.deliveries.get(rider_id, [])
        if acted:  # what the rider just took is theirs now
            deliveries = await self._run(lambda uow: uow.deliveries.of_rider(rider_id))
        # Collect every bag first, then take them to their doors, in the order they were given.
        current = next(
            (d for d in deliveries if d.status in BEFORE_PICKUP),
            next((d for d in deliveries if d.status in CARRYING), None),
        )
        if current is not None:
            acted = True  # a rider at work reports every tick, as a phone on the move does
            try:
                here = await self._work_on(rider_id, current, here, dt_s * speed_mps(profile.vehicle) / DETOUR)
            except Exception:
                log.exception("rider simulator: %s could not go on with order %s", rider_id, current.order_id)
        self.where[rider_id] = here
        last = self._reported.get(rider_id)
        if acted or last is None or (look.now - last).total_seconds() >= HEARTBEAT_S:
            await self._run(lambda uow: riders.report_location(uow, rider_id, here.lat, here.lon))
            self._reported[rider_id] = look.now

    async def _target(self, d: Delivery) -> Point | None:
        if d.status in BEFORE_PICKUP:
            return d.shop
        if d.mode is FulfilmentMode.LOCKER and d.locker_site_id:
            site_id = d.locker_site_id
            site = await self._run(lambda uow: uow.lockers.site(site_id))
            return site.point if site else d.door
        return d.door

    async def _work_on(self, rider_id: str, d: Delivery, here: Point, step_m: float) -> Point:
        """Ride toward this delivery's next stop; on arrival do the step due there. Returns where the rider is."""
        order_id, status = d.order_id, d.status
        here, arrived = towards(here, await self._target(d) or here, step_m)  # nowhere to ride: step here
        if not arrived:
            return here
        step = self._step(rider_id, d)
        if step is None:
            return here
        await self._run(step)
        log.info("rider simulator: %s did the next step on order %s (was %s)", rider_id, order_id, status.value)
        return here

    @staticmethod
    def _step(rider_id: str, d: Delivery) -> Callable[[DispatchUnitOfWork], Awaitable[Any]] | None:
        """The step a real rider would do on arrival, or None to wait (the bag is not packed yet)."""
        order_id = d.order_id
        if d.status is DeliveryStatus.ASSIGNED:
            return lambda uow: delivering.at_shop(uow, order_id, rider_id)
        if d.status is DeliveryStatus.AT_SHOP:
            handover = d.handover_code
            if d.packed_at is None or handover is None:
                return None  # wait at the counter until the bag is packed
            return lambda uow: delivering.picked_up(uow, order_id, rider_id, handover)
        if d.status is DeliveryStatus.PICKED_UP and d.mode is FulfilmentMode.LOCKER:
            return lambda uow: delivering.locker_deposit(uow, order_id, rider_id)
        if d.status is DeliveryStatus.PICKED_UP:
            return lambda uow: delivering.at_door(uow, order_id, rider_id)
        if d.status is DeliveryStatus.AT_DOOR:
            cash = (d.due_at_door_fen or d.total_fen or 1) if d.pay_on_delivery else None
            code = d.delivery_code or "-"
            return lambda uow: delivering.delivered(uow, order_id, rider_id, code, cash)
        return None
