"""Locker sites: compartments reserved at assignment (with a row lock), deposited, collected, expired."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.dispatch.domain.delivery import DeliveryStatus, Forbidden, NotFound, Refused, WrongCode
from services.dispatch.domain.lockers import SIZES, check_open, collect_by, new_code, size_for, sizes_from
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import LockerCollected, LockerDeposited, LockerExpired, LockerReserved

COLLECT = "locker_collect"


async def put_site(uow: UnitOfWork, site_id: str, name: str, lat: float, lon: float,
                   compartments: list[tuple[str, str]]) -> dict[str, Any]:
    """Create or update a site; compartments not listed are removed unless in use."""
    for _, size in compartments:
        if size not in SIZES:
            raise ValueError(f"compartment sizes are {', '.join(SIZES)}")
    await uow.repo.upsert_site(site_id, name, lat, lon)
    wanted = dict(compartments)
    for c in await uow.repo.compartments(site_id, lock=True):
        if c["id"] not in wanted:
            if c["state"] != "free":
                raise Refused(f"compartment {c['id']} is in use (order {c['order_id']}): it cannot be removed now")
            await uow.repo.remove_compartment(site_id, c["id"])
    for compartment_id, size in compartments:
        await uow.repo.upsert_compartment(site_id, compartment_id, size)
    return await site_view(uow, site_id)


async def site_view(uow: UnitOfWork, site_id: str) -> dict[str, Any]:
    site = await uow.repo.site(site_id)
    if site is None:
        raise NotFound(f"no locker site {site_id}")
    comps = await uow.repo.compartments(site_id)
    return {"id": site["id"], "name": site["name"], "lat": site["lat"], "lon": site["lon"],
            "compartments": [{"id": c["id"], "size": c["size"], "free": c["state"] == "free"} for c in comps]}


async def sites(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [{"id": s["id"], "name": s["name"], "lat": s["lat"], "lon": s["lon"],
             "free": {size: int(s["free"].get(size, 0)) for size in SIZES}} for s in await uow.repo.sites()]


async def reserve(uow: UnitOfWork, d: asyncpg.Record) -> str:
    """Book a free compartment for the order; SKIP LOCKED means two bookings never take the same one."""
    site_id = d["locker_site_id"]
    if not site_id:
        raise Refused("this locker order names no locker site")
    size = size_for(d["bags"], d["weight_g"])
    row = await uow.repo.reserve_compartment(site_id, sizes_from(size), d["order_id"])
    if row is None:
        raise Refused(f"locker site {site_id} has no free compartment of size {size} or larger")
    await uow.repo.update(d["order_id"], compartment_id=row["id"])
    await uow.publish(LockerReserved(order_id=d["order_id"], store_id=d["store_id"], site_id=site_id,
                                     compartment_id=row["id"], size=row["size"]))
    return str(row["id"])


async def release(uow: UnitOfWork, d: asyncpg.Record) -> None:
    """A reservation not yet used goes back (unassigned, cancelled)."""
    comp = await uow.repo.compartment_of(d["order_id"], lock=True)
    if comp is not None and comp["state"] == "reserved":
        await uow.repo.free_compartment(d["order_id"])
    await uow.repo.update(d["order_id"], compartment_id=None)


async def deposit(uow: UnitOfWork, d: asyncpg.Record) -> dict[str, Any]:
    comp = await uow.repo.compartment_of(d["order_id"], lock=True)
    if comp is None:
        await reserve(uow, d)
        comp = await uow.repo.compartment_of(d["order_id"], lock=True)
    assert comp is not None
    code, until = new_code(), collect_by(uow.now(), uow.settings.locker_collect_limit_s)
    await uow.repo.occupy(comp["site_id"], comp["id"], code, until)
    await uow.repo.update(d["order_id"], status=DeliveryStatus.IN_LOCKER.value, finished_at=uow.now())
    await uow.schedule(COLLECT, d["order_id"], until, {"site_id": comp["site_id"], "compartment_id": comp["id"]})
    await uow.publish(LockerDeposited(order_id=d["order_id"], store_id=d["store_id"], site_id=comp["site_id"],
                                      compartment_id=comp["id"], code=code, collect_by=until))
    return {"order_id": d["order_id"], "status": DeliveryStatus.IN_LOCKER.value, "site_id": comp["site_id"],
            "compartment_id": comp["id"]}


async def open_compartment(uow: UnitOfWork, site_id: str, code: str, subject: str, is_admin: bool) -> dict[str, Any]:
    if await uow.repo.site(site_id) is None:
        raise NotFound(f"no locker site {site_id}")
    comp = await uow.repo.compartment_by_code(site_id, code.strip())
    if comp is None:
        raise WrongCode("that code does not open any compartment here")
    check_open(comp["state"] if comp else None, comp["code"] if comp else None, code)
    assert comp is not None
    d = await uow.repo.get(comp["order_id"], lock=True)
    assert d is not None
    if not is_admin and subject not in (d["placed_by"], d["placed_for"]):
        raise Forbidden("this compartment holds someone else's order")
    await uow.repo.free_compartment(d["order_id"])
    await uow.repo.update(d["order_id"], status=DeliveryStatus.COLLECTED.value)
    await uow.cancel_deadline(COLLECT, d["order_id"])
    await uow.publish(LockerCollected(order_id=d["order_id"], store_id=d["store_id"], site_id=site_id,
                                      compartment_id=comp["id"]))
    return {"order_id": d["order_id"], "compartment_id": comp["id"], "opened": True}


async def on_collect_deadline(uow: UnitOfWork, order_id: str) -> None:
    d = await uow.repo.get(order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) is not DeliveryStatus.IN_LOCKER:
        return
    comp = await uow.repo.free_compartment(order_id)
    await uow.repo.update(order_id, status=DeliveryStatus.EXPIRED.value)
    await uow.publish(LockerExpired(order_id=order_id, store_id=d["store_id"],
                                    site_id=comp["site_id"] if comp else d["locker_site_id"],
                                    compartment_id=comp["id"] if comp else (d["compartment_id"] or "")))
