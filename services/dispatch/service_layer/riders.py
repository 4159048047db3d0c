"""Riders: profiles, shifts, states and positions; what a rider and the roster look like."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.dispatch.domain.assignment import RiderView
from services.dispatch.domain.delivery import (
    CARRYING,
    DeliveryStatus,
    NotFound,
    Refused,
    Rider,
    RiderState,
    Vehicle,
    maps_url,
    may_see_customer,
    next_step,
    pickup_kind,
)
from services.dispatch.domain.offers import is_silent
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.vocabulary.geo import Point, street_metres

SETTABLE = frozenset({RiderState.OFFLINE, RiderState.AVAILABLE, RiderState.ON_BREAK})


async def positions_of(uow: UnitOfWork, rider_ids: list[str]) -> dict[str, dict[str, float] | None]:
    if uow.positions is None:
        return {}
    return await uow.positions.positions(rider_ids)


async def rider_views(uow: UnitOfWork, *, free_only: bool = True) -> list[RiderView]:
    """Riders who may be offered work: available (or busy below capacity), heard from lately, placed."""
    rows = await uow.log.riders()
    found = await positions_of(uow, [r["id"] for r in rows])
    carrying = await uow.repo.carrying()
    now = uow.now()
    views = []
    for r in rows:
        pos = found.get(r["id"])
        n = carrying.get(r["id"], 0)
        if pos is None or is_silent(pos["seen_at"], now, uow.settings.rider_silent_s):
            continue
        if free_only and (r["state"] not in (RiderState.AVAILABLE, RiderState.BUSY) or n >= r["capacity"]):
            continue
        views.append(RiderView(r["id"], r["vehicle"], Point(pos["lat"], pos["lon"]), r["capacity"], n))
    return views


def _day(now: datetime, timezone: str) -> tuple[datetime, datetime]:
    """Today in the neighbourhood's local time (a shift at 07:00 Shanghai is today's, not yesterday's in UTC)."""
    local = now.astimezone(ZoneInfo(timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _local_day(day: date, timezone: str) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
    return start, start + timedelta(days=1)


def _point(lat: float | None, lon: float | None) -> Point | None:
    return Point(lat, lon) if lat is not None and lon is not None else None


def job_view(d: Mapping[str, Any], position: Point | None) -> dict[str, Any]:
    """What a rider is told about an order, as an offer or in hand: where to take the bag from, how far,
    what it is like, and the cash due. Never the customer (see `delivery_for_rider`)."""
    pickup_at = _point(d.get("shop_lat"), d.get("shop_lon"))
    address = d.get("address")
    door = _point(address["lat"], address["lon"]) if address else None
    packed = d.get("packed_at") is not None
    kind = pickup_kind(d.get("pickup_location"), d["store_id"])
    return {
        "shop": {
            "id": d["store_id"],
            "name_zh": d.get("store_name_zh") or d.get("shop_name_zh"),
            "name_en": d.get("store_name_en") or d.get("shop_name_en"),
            "lat": d.get("shop_lat"),
            "lon": d.get("shop_lon"),
        },
        "pickup": {
            "location_id": d.get("pickup_location") or d["store_id"],
            "kind": kind,
            "name_zh": d.get("pickup_name_zh") or d.get("shop_name_zh"),
            "name_en": d.get("pickup_name_en") or d.get("shop_name_en"),
        },
        "distance_to_shop_m": round(street_metres(position, pickup_at)) if position and pickup_at else None,
        "shop_to_door_m": round(street_metres(pickup_at, door)) if pickup_at and door else None,
        "packed": packed,
        "bags": d.get("bags") if packed else None,
        "weight_g": d.get("weight_g") if packed else None,
        "call_first": d["call_first"],
        "pay_on_delivery": d["pay_on_delivery"],
        "due_at_door_fen": d.get("due_at_door_fen") if d["pay_on_delivery"] else None,
    }


def delivery_for_rider(d: Mapping[str, Any], position: Point | None = None) -> dict[str, Any]:
    """What the assigned rider sees: the customer's address, phone and note only while carrying the bag."""
    status = DeliveryStatus(d["status"])
    step = next_step(status, d["mode"])
    view: dict[str, Any] = {
        "order_id": d["order_id"],
        "status": status.value,
        "mode": d["mode"],
        "next_step": step.value if step else None,
        **job_view(d, position),
        "eta_shop_at": _iso(d["eta_shop_at"]),
        "eta_door_at": _iso(d["eta_door_at"]),
        "promised_at": _iso(d.get("promised_at")),
        "slot": ({"start": _iso(d.get("slot_start")), "end": _iso(d.get("slot_end"))} if d.get("slot_start") else None),
        "locker_site_id": d["locker_site_id"],
        "compartment_id": d["compartment_id"],
    }
    # No handover code here: the counter tells it to the rider with the bag, so entering it
    # proves the bag left the shop with this rider.
    if may_see_customer(status):
        address = d["address"]
        view["customer"] = {
            "address": address,
            "contact_phone": d["contact_phone"],
            "note": d["note"],
            "maps_url": maps_url(address["lat"], address["lon"], address.get("text") or d["order_id"])
            if address
            else None,
        }
    return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def rating_of(r: Mapping[str, Any]) -> dict[str, Any]:
    """The rider's average stars from shoppers' ratings (None until someone rated them)."""
    count = int(r.get("rating_count") or 0)
    stars = round(r["rating_sum"] / count, 2) if count else None
    return {"stars": stars, "count": count}


def _current_shift(shifts: list[dict[str, str]], now: datetime) -> dict[str, str] | None:
    """The shift going on now, else today's next one."""
    for shift in shifts:
        if datetime.fromisoformat(shift["ends_at"]) > now:
            return shift
    return None


async def me(uow: UnitOfWork, rider_id: str) -> dict[str, Any]:
    rider = await uow.repo.rider(rider_id)
    if rider is None:
        raise NotFound(f"no rider profile for {rider_id}: ask a dispatcher to create one")
    start, end = _day(uow.now(), uow.settings.timezone)
    shifts = (await uow.repo.shifts([rider_id], start, end)).get(rider_id, [])
    pos = (await positions_of(uow, [rider_id])).get(rider_id)
    here = Point(pos["lat"], pos["lon"]) if pos else None
    deliveries = await uow.repo.of_rider(rider_id)
    return {
        **_profile(rider),
        "shifts_today": shifts,
        "shift": _current_shift(shifts, uow.now()),
        "position": pos,
        "silent": is_silent(pos["seen_at"] if pos else None, uow.now(), uow.settings.rider_silent_s),
        "deliveries": [delivery_for_rider(d, here) for d in deliveries],
    }


def _profile(r: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": r["id"],
        "name": r["name"],
        "vehicle": r["vehicle"],
        "capacity": r["capacity"],
        "state": r["state"],
        "rating": rating_of(r),
    }


async def set_state(uow: UnitOfWork, rider_id: str, state: RiderState) -> dict[str, Any]:
    if state not in SETTABLE:
        raise Refused(f"a rider sets their state to one of {', '.join(sorted(SETTABLE))}; busy follows the load")
    rider = await uow.repo.rider(rider_id, lock=True)
    if rider is None:
        raise NotFound(f"no rider profile for {rider_id}")
    if state is not RiderState.AVAILABLE:
        carrying = [d for d in await uow.repo.of_rider(rider_id) if DeliveryStatus(d["status"]) in CARRYING]
        if carrying:
            raise Refused(f"deliver the bags you carry first ({', '.join(d['order_id'] for d in carrying)})")
        await uow.repo.withdraw_offers(uow.now(), f"rider went {state.value}", rider_id=rider_id)
    n = (await uow.repo.carrying()).get(rider_id, 0)
    effective = RiderState.BUSY if state is RiderState.AVAILABLE and n >= rider["capacity"] else state
    await uow.repo.set_rider_state(rider_id, effective.value)
    uow.note("rider_state", {"rider_id": rider_id, "state": effective.value})
    return {**_profile(rider), "state": effective.value}


async def report_location(uow: UnitOfWork, rider_id: str, lat: float, lon: float) -> dict[str, Any]:
    if await uow.repo.rider(rider_id) is None:
        raise NotFound(f"no rider profile for {rider_id}")
    assert uow.positions is not None
    await uow.positions.update(rider_id, lat, lon, at=uow.now().timestamp())
    uow.note("rider_position", {"rider_id": rider_id, "lat": lat, "lon": lon})
    for d in await uow.repo.of_rider(rider_id, [s.value for s in CARRYING]):
        # The orderer sees the rider only between pickup and delivery.
        uow.note("rider_position", {"lat": lat, "lon": lon}, d["order_id"], to_order=True)
    return {"ok": True}


async def roster(uow: UnitOfWork) -> list[dict[str, Any]]:
    rows = await uow.log.riders()
    ids = [r["id"] for r in rows]
    found = await positions_of(uow, ids)
    start, end = _day(uow.now(), uow.settings.timezone)
    shifts = await uow.repo.shifts(ids, start, end)
    carrying = await uow.repo.carrying()
    return [
        {
            **_profile(r),
            "position": found.get(r["id"]),
            "shifts_today": shifts.get(r["id"], []),
            "carrying": carrying.get(r["id"], 0),
            "silent": is_silent((found.get(r["id"]) or {}).get("seen_at"), uow.now(), uow.settings.rider_silent_s),
        }
        for r in rows
    ]


async def put_profile(
    uow: UnitOfWork, rider_id: str, name: str, vehicle: Vehicle, capacity: int, state: RiderState | None
) -> dict[str, Any]:
    existing = await uow.repo.rider(rider_id, lock=True)
    rider = Rider(
        rider_id, name, vehicle, capacity, state or RiderState(existing["state"] if existing else RiderState.OFFLINE)
    )
    await uow.log.upsert_rider(rider)
    if state is not None:
        await uow.repo.set_rider_state(rider_id, state.value)
    saved = await uow.repo.rider(rider_id)
    assert saved is not None
    return _profile(saved)


async def put_shifts(
    uow: UnitOfWork, rider_id: str, shifts: list[tuple[datetime, datetime]], day: date | None = None
) -> dict[str, Any]:
    """Replace the rider's shifts; with `day`, only those touching that local day, so editing today
    from the board never wipes tomorrow's rota."""
    if await uow.repo.rider(rider_id) is None:
        raise NotFound(f"no rider {rider_id}")
    window = _local_day(day, uow.settings.timezone) if day else None
    for starts, ends in shifts:
        if ends <= starts:
            raise ValueError("a shift must end after it starts")
        if window and not (starts < window[1] and ends > window[0]):
            raise ValueError(f"a shift from {starts.isoformat()} is not on {day}: edit that day instead")
    await uow.repo.replace_shifts(rider_id, shifts, window)
    return {
        "rider_id": rider_id,
        "shifts": [{"starts_at": s.isoformat(), "ends_at": e.isoformat()} for s, e in sorted(shifts)],
    }
