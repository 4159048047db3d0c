"""Riders: profiles, shifts, states and positions, as the rider and the roster see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.dispatch.domain.assignment import RiderView
from services.dispatch.domain.delivery import CARRYING, Delivery
from services.dispatch.domain.offers import is_silent
from services.dispatch.domain.riders import (
    Position,
    Rider,
    RiderState,
    Shift,
    Vehicle,
    check_position,
    check_shifts,
    current_shift,
)
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.errors import NotFound
from shared.vocabulary.geo import Point

OFFERABLE = frozenset({RiderState.AVAILABLE, RiderState.BUSY})


@dataclass(frozen=True)
class RiderPage:
    """A rider's own page: profile, today's shifts, where they are, and the deliveries in hand."""

    rider: Rider
    shifts_today: list[Shift]
    shift: Shift | None
    position: Position | None
    silent: bool
    deliveries: list[Delivery]

    @property
    def here(self) -> Point | None:
        return Point(self.position.lat, self.position.lon) if self.position else None


@dataclass(frozen=True)
class RosterEntry:
    rider: Rider
    position: Position | None
    shifts_today: list[Shift]
    carrying: int
    silent: bool


async def rider_views(
    uow: DispatchUnitOfWork, riders: list[Rider] | None = None, found: dict[str, Position | None] | None = None
) -> list[RiderView]:
    """Riders who may be offered work: available (or busy below capacity), heard from lately, placed."""
    riders = await uow.riders.all() if riders is None else riders
    found = await uow.positions.positions([r.id for r in riders]) if found is None else found
    carrying = await uow.deliveries.carrying()
    views = []
    for r in riders:
        pos = found.get(r.id)
        n = carrying.get(r.id, 0)
        if pos is None or is_silent(pos.seen_at, uow.now(), uow.settings.rider_silent_s):
            continue
        if r.state not in OFFERABLE or n >= r.capacity:
            continue
        views.append(RiderView(r.id, r.vehicle, Point(pos.lat, pos.lon), r.capacity, n))
    return views


def _day(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Today in the neighbourhood's local time (a shift at 07:00 local is today's, not yesterday's in UTC)."""
    local = now.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _local_day(day: date, timezone: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
    return start, start + timedelta(days=1)


async def _rider(uow: DispatchUnitOfWork, rider_id: str, *, lock: bool = False) -> Rider:
    rider = await uow.riders.get(rider_id, lock=lock)
    if rider is None:
        raise NotFound(f"no rider profile for {rider_id}")
    return rider


async def me(uow: DispatchUnitOfWork, rider_id: str) -> RiderPage:
    rider = await uow.riders.get(rider_id)
    if rider is None:
        raise NotFound(f"no rider profile for {rider_id}: ask a dispatcher to create one")
    start, end = _day(uow.now(), uow.settings.timezone)
    shifts = (await uow.shifts.between([rider_id], start, end)).get(rider_id, [])
    pos = (await uow.positions.positions([rider_id])).get(rider_id)
    return RiderPage(
        rider,
        shifts,
        current_shift(shifts, uow.now()),
        pos,
        is_silent(pos.seen_at if pos else None, uow.now(), uow.settings.rider_silent_s),
        await uow.deliveries.of_rider(rider_id),
    )


async def set_state(uow: DispatchUnitOfWork, rider_id: str, state: RiderState) -> Rider:
    """offline, available or on_break; available at capacity is busy."""
    rider = await _rider(uow, rider_id, lock=True)
    in_hand = [d.order_id for d in await uow.deliveries.of_rider(rider_id, CARRYING)]
    carrying = (await uow.deliveries.carrying()).get(rider_id, 0)
    effective = rider.choose(state, carrying, in_hand)
    if effective is not RiderState.AVAILABLE and effective is not RiderState.BUSY:
        await withdraw_offers(uow, f"rider went {effective.value}", rider_id=rider_id)
    await uow.riders.save(rider)
    uow.note("rider_state", {"rider_id": rider_id, "state": effective.value})
    return rider


async def withdraw_offers(
    uow: DispatchUnitOfWork, reason: str, *, rider_id: str | None = None, order_id: str | None = None
) -> int:
    """Every pending offer of the rider or the order is withdrawn, saved in one statement."""
    pending = await uow.offers.pending(rider_id=rider_id, order_id=order_id)
    for offer in pending:
        offer.withdraw(uow.now(), reason)
    await uow.offers.save_many(pending)
    return len(pending)


async def report_location(uow: DispatchUnitOfWork, rider_id: str, lat: float, lon: float) -> None:
    """Where the rider is now; a point more than 50 km from every shop of the circle is refused (422)."""
    await _rider(uow, rider_id)
    near = await uow.shops.nearest(lat, lon)
    check_position(lat, lon, (near[0].name_en or near[0].location_id, near[1]) if near else None)
    await uow.positions.update(rider_id, lat, lon, at=uow.now().timestamp())
    uow.note("rider_position", {"rider_id": rider_id, "lat": lat, "lon": lon})
    for d in await uow.deliveries.of_rider(rider_id, CARRYING):
        # The orderer sees the rider only between pickup and delivery.
        uow.note("rider_position", {"lat": lat, "lon": lon}, d.order_id, to_order=True)


async def roster(uow: DispatchUnitOfWork) -> list[RosterEntry]:
    """Every rider with where they are now: live positions only (503 while Redis is away)."""
    riders = await uow.riders.all()
    ids = [r.id for r in riders]
    found = await uow.positions.live(ids)
    start, end = _day(uow.now(), uow.settings.timezone)
    shifts = await uow.shifts.between(ids, start, end)
    carrying = await uow.deliveries.carrying()
    entries = []
    for r in riders:
        pos = found.get(r.id)
        silent = is_silent(pos.seen_at if pos else None, uow.now(), uow.settings.rider_silent_s)
        entries.append(RosterEntry(r, pos, shifts.get(r.id, []), carrying.get(r.id, 0), silent))
    return entries


async def put_profile(  # a profile is these five things
    uow: DispatchUnitOfWork, rider_id: str, name: str, vehicle: Vehicle, capacity: int, state: RiderState | None
) -> Rider:
    """A dispatcher creates or edits a rider; with `state`, sets it too (busy included)."""
    existing = await uow.riders.get(rider_id, lock=True)
    await uow.riders.put(Rider(rider_id, name, vehicle, capacity, existing.state if existing else RiderState.OFFLINE))
    rider = await _rider(uow, rider_id)
    if state is not None:
        rider.state = state
        await uow.riders.save(rider)
    return rider


async def put_shifts(
    uow: DispatchUnitOfWork, rider_id: str, shifts: list[Shift], day: date | None = None
) -> list[Shift]:
    """Replace the rider's shifts; with `day`, only those touching that local day, so editing today
    from the board never wipes tomorrow's rota."""
    if await uow.riders.get(rider_id) is None:
        raise NotFound(f"no rider {rider_id}")
    window = _local_day(day, uow.settings.timezone) if day else None
    check_shifts(shifts, window, day)
    await uow.shifts.replace(rider_id, shifts, window)
    return sorted(shifts, key=lambda s: (s.starts_at, s.ends_at))
