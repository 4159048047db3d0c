"""Locker sites: compartments reserved at assignment (with a row lock), deposited, collected, expired."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.dispatch.domain.delivery import DeliveryStatus, Forbidden, NotFound, Refused, WrongCode
from services.dispatch.domain.lockers import SIZES, check_open, collect_by, new_code, size_for, sizes_from
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import (
    LockerCollected,
    LockerDeposited,
    LockerExpired,
    LockerReserved,
    LockerSiteUpdated,
)

COLLECT = "locker_collect"


async def put_site(
    uow: UnitOfWork, site_id: str, name: str, lat: float, lon: float, compartments: list[tuple[str, str]]
) -> dict[str, Any]:
    """Create or update a site; compartments not listed are removed unless in use."""
    for _, size in compartments:
        if size not in SIZES:
            raise ValueError(f"compartment sizes are {', '.join(SIZES)}")
    await uow.repo.upsert_site(site_id, name, lat, lon)
    await uow.repo.lock_site(site_id)
    wanted = dict(compartments)
    for c in await uow.repo.compartments(site_id, lock=True):
        if c["id"] not in wanted:
            if c["state"] != "free":
                raise Refused(f"compartment {c['id']} is in use (order {c['order_id']}): it cannot be removed now")
            await uow.repo.remove_compartment(site_id, c["id"])
    for compartment_id, size in compartments:
        await uow.repo.upsert_compartment(site_id, compartment_id, size)
    await announce(uow, site_id)
    return await site_view(uow, site_id)


async def announce(uow: UnitOfWork, site_id: str) -> None:
    """LockerSiteUpdated with the free compartments by size, in the transaction that changed them.

    Callers hold the site's lock (`lock_site`), so two changes at one site count in commit order
    and the compacted topic's last word on a site is the true one.
    """
    await _announce(uow, await uow.repo.sites(site_id))


async def announce_all(uow: UnitOfWork) -> int:
    """Every site once (at start-up): a new reader of the compacted topic learns them all."""
    return await _announce(uow, await uow.repo.sites())


async def _announce(uow: UnitOfWork, found: list[asyncpg.Record]) -> int:
    for s in found:
        await uow.publish(LockerSiteUpdated(site_id=s["id"], name=s["name"], lat=s["lat"], lon=s["lon"], free=_free(s)))
    return len(found)


def _free(s: asyncpg.Record) -> dict[str, int]:
    return {size: int(s["free"].get(size, 0)) for size in SIZES}


async def site_view(uow: UnitOfWork, site_id: str) -> dict[str, Any]:
    site = await uow.repo.site(site_id)
    if site is None:
        raise NotFound(f"no locker site {site_id}")
    comps = await uow.repo.compartments(site_id)
    return {
        "id": site["id"],
        "name": site["name"],
        "lat": site["lat"],
        "lon": site["lon"],
        "compartments": [{"id": c["id"], "size": c["size"], "free": c["state"] == "free"} for c in comps],
    }


async def sites(uow: UnitOfWork) -> list[dict[str, Any]]:
    return [
        {"id": s["id"], "name": s["name"], "lat": s["lat"], "lon": s["lon"], "free": _free(s)}
        for s in await uow.repo.sites()
    ]


async def reserve(uow: UnitOfWork, d: asyncpg.Record, *, announced: bool = True) -> str:
    """Book a free compartment for the order, under the site's lock: never double-booked."""
    site_id = d["locker_site_id"]
    if not site_id:
        raise Refused("this locker order names no locker site")
    if not await uow.repo.lock_site(site_id):
        raise Refused(f"there is no locker site {site_id} any more")
    size = size_for(d["bags"], d["weight_g"])
    row = await uow.repo.reserve_compartment(site_id, sizes_from(size), d["order_id"])
    if row is None:
        raise Refused(f"locker site {site_id} has no free compartment of size {size} or larger")
    await uow.repo.update(d["order_id"], compartment_id=row["id"])
    await uow.publish(
        LockerReserved(
            order_id=d["order_id"], store_id=d["store_id"], site_id=site_id, compartment_id=row["id"], size=row["size"]
        )
    )
    if announced:
        await announce(uow, site_id)
    return str(row["id"])


async def release(uow: UnitOfWork, d: asyncpg.Record) -> None:
    """A reservation not yet used goes back (unassigned, cancelled)."""
    found = await uow.repo.compartment_of(d["order_id"])
    if found is not None:
        await uow.repo.lock_site(found["site_id"])
        comp = await uow.repo.compartment_of(d["order_id"], lock=True)
        if comp is not None and comp["state"] == "reserved":
            await uow.repo.free_compartment(d["order_id"])
            await announce(uow, comp["site_id"])
    await uow.repo.update(d["order_id"], compartment_id=None)


async def deposit(uow: UnitOfWork, d: asyncpg.Record) -> dict[str, Any]:
    if d["locker_site_id"]:
        await uow.repo.lock_site(d["locker_site_id"])
    comp = await uow.repo.compartment_of(d["order_id"], lock=True)
    if comp is None:
        await reserve(uow, d, announced=False)
        comp = await uow.repo.compartment_of(d["order_id"], lock=True)
    assert comp is not None
    code, until = new_code(), collect_by(uow.now(), uow.settings.locker_collect_limit_s)
    await uow.repo.occupy(comp["site_id"], comp["id"], code, until)
    await uow.repo.update(d["order_id"], status=DeliveryStatus.IN_LOCKER.value, finished_at=uow.now())
    await uow.schedule(COLLECT, d["order_id"], until, {"site_id": comp["site_id"], "compartment_id": comp["id"]})
    await uow.publish(
        LockerDeposited(
            order_id=d["order_id"],
            store_id=d["store_id"],
            site_id=comp["site_id"],
            compartment_id=comp["id"],
            code=code,
            collect_by=until,
        )
    )
    await announce(uow, comp["site_id"])
    return {
        "order_id": d["order_id"],
        "status": DeliveryStatus.IN_LOCKER.value,
        "site_id": comp["site_id"],
        "compartment_id": comp["id"],
    }


async def open_compartment(uow: UnitOfWork, site_id: str, code: str, subject: str, is_admin: bool) -> dict[str, Any]:
    if await uow.repo.site(site_id) is None:
        raise NotFound(f"no locker site {site_id}")
    found = await uow.repo.compartment_by_code(site_id, code.strip())
    if found is None:
        raise WrongCode("that code does not open any compartment here")
    d = await uow.repo.get(found["order_id"], lock=True)
    await uow.repo.lock_site(site_id)
    comp = await uow.repo.compartment_by_code(site_id, code.strip(), lock=True)  # again, now that it is ours
    check_open(comp["state"] if comp else None, comp["code"] if comp else None, code)
    assert comp is not None and d is not None
    if not is_admin and subject not in (d["placed_by"], d["placed_for"]):
        raise Forbidden("this compartment holds someone else's order")
    await uow.repo.free_compartment(d["order_id"])
    await uow.repo.update(d["order_id"], status=DeliveryStatus.COLLECTED.value)
    await uow.cancel_deadline(COLLECT, d["order_id"])
    await uow.publish(
        LockerCollected(order_id=d["order_id"], store_id=d["store_id"], site_id=site_id, compartment_id=comp["id"])
    )
    await announce(uow, site_id)
    return {"order_id": d["order_id"], "compartment_id": comp["id"], "opened": True}


async def on_collect_deadline(uow: UnitOfWork, order_id: str) -> None:
    d = await uow.repo.get(order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) is not DeliveryStatus.IN_LOCKER:
        return
    if d["locker_site_id"]:
        await uow.repo.lock_site(d["locker_site_id"])
    comp = await uow.repo.free_compartment(order_id)
    await uow.repo.update(order_id, status=DeliveryStatus.EXPIRED.value)
    site_id = comp["site_id"] if comp else d["locker_site_id"]
    await uow.publish(
        LockerExpired(
            order_id=order_id,
            store_id=d["store_id"],
            site_id=site_id,
            compartment_id=comp["id"] if comp else (d["compartment_id"] or ""),
        )
    )
    if comp is not None:
        await announce(uow, comp["site_id"])
