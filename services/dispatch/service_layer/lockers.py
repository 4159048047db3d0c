"""Locker sites: compartments reserved at assignment (with a row lock), deposited, collected, expired."""

from __future__ import annotations

from dataclasses import dataclass

from services.dispatch.domain.delivery import Delivery, Happening
from services.dispatch.domain.group_trips import is_bag
from services.dispatch.domain.lockers import (
    Compartment,
    CompartmentState,
    LockerSite,
    check_open,
    check_sizes,
    collect_by,
    new_code,
    size_for,
    sizes_from,
)
from services.dispatch.service_layer import codes
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.deadlines import Deadline
from shared.errors import Conflict, Forbidden, NotFound, WrongCode
from shared.events.contracts import (
    GroupBuyLockerOpened,
    LockerCollected,
    LockerDeposited,
    LockerExpired,
    LockerReserved,
    LockerSiteUpdated,
)

COLLECT = "locker_collect"


@dataclass(frozen=True)
class SiteDetail:
    site: LockerSite
    compartments: list[Compartment]


@dataclass(frozen=True)
class Opened:
    order_id: str
    compartment_id: str


async def put_site(  # a site is these five things
    uow: DispatchUnitOfWork, site_id: str, name: str, lat: float, lon: float, compartments: list[tuple[str, str]]
) -> SiteDetail:
    """Create or update a site; compartments not listed are removed unless in use."""
    check_sizes([size for _, size in compartments])
    await uow.lockers.put_site(site_id, name, lat, lon)
    await uow.lockers.lock_site(site_id)
    wanted = dict(compartments)
    for c in await uow.lockers.compartments(site_id, lock=True):
        if c.id not in wanted:
            if c.state is not CompartmentState.FREE:
                raise Conflict(f"compartment {c.id} is in use (order {c.order_id}): it cannot be removed now")
            await uow.lockers.remove_compartment(site_id, c.id)
    for compartment_id, size in compartments:
        await uow.lockers.put_compartment(site_id, compartment_id, size)
    await announce(uow, site_id)
    return await site_detail(uow, site_id)


async def announce(uow: DispatchUnitOfWork, site_id: str) -> None:
    """LockerSiteUpdated with the free compartments by size, in the transaction that changed them.

    Callers hold the site's lock (`lock_site`), so two changes at one site count in commit order
    and the compacted topic's last word on a site is the true one.
    """
    await _announce(uow, await uow.lockers.sites(site_id))


async def announce_all(uow: DispatchUnitOfWork) -> int:
    """Every site once (at start-up): a new reader of the compacted topic learns them all."""
    return await _announce(uow, await uow.lockers.sites())


async def _announce(uow: DispatchUnitOfWork, found: list[LockerSite]) -> int:
    for s in found:
        await uow.publish(LockerSiteUpdated(site_id=s.id, name=s.name, lat=s.lat, lon=s.lon, free=s.free))
    return len(found)


async def site_detail(uow: DispatchUnitOfWork, site_id: str) -> SiteDetail:
    site = await uow.lockers.site(site_id)
    if site is None:
        raise NotFound(f"no locker site {site_id}")
    return SiteDetail(site, await uow.lockers.compartments(site_id))


async def sites(uow: DispatchUnitOfWork) -> list[LockerSite]:
    return await uow.lockers.sites()


async def reserve(uow: DispatchUnitOfWork, d: Delivery, *, announced: bool = True) -> Compartment:
    """Book a free compartment for the order, under the site's lock: never double-booked.

    Sets the delivery's compartment; the caller saves the delivery.
    """
    site_id = d.locker_site_id
    if not site_id:
        raise Conflict("this locker order names no locker site")
    if not await uow.lockers.lock_site(site_id):
        raise Conflict(f"there is no locker site {site_id} any more")
    size = size_for(d.bags, d.weight_g)
    comp = await uow.lockers.reserve(site_id, sizes_from(size), d.order_id)
    if comp is None:
        raise Conflict(f"locker site {site_id} has no free compartment of size {size} or larger")
    d.compartment_id = comp.id
    await uow.publish(
        LockerReserved(
            order_id=d.order_id, store_id=d.store_id, site_id=site_id, compartment_id=comp.id, size=comp.size
        )
    )
    if announced:
        await announce(uow, site_id)
    return comp


async def release(uow: DispatchUnitOfWork, d: Delivery) -> None:
    """A reservation not yet used goes back (unassigned, cancelled); the caller saves the delivery."""
    found = await uow.lockers.of_order(d.order_id)
    if found is not None:
        await uow.lockers.lock_site(found.site_id)
        comp = await uow.lockers.of_order(d.order_id, lock=True)
        if comp is not None and comp.state is CompartmentState.RESERVED:
            await uow.lockers.free(d.order_id)
            await announce(uow, comp.site_id)
    d.compartment_id = None


async def deposit(uow: DispatchUnitOfWork, d: Delivery, rider_id: str) -> Delivery:
    """The rider puts the bag in its compartment (booking one now if none was): the orderer gets the code."""
    d.check_deposit(rider_id)
    if d.locker_site_id:
        await uow.lockers.lock_site(d.locker_site_id)
    comp = await uow.lockers.of_order(d.order_id, lock=True)
    if comp is None:
        await reserve(uow, d, announced=False)
        comp = await uow.lockers.of_order(d.order_id, lock=True)
    assert comp is not None
    code, until = new_code(), collect_by(uow.now(), uow.settings.locker_collect_limit_s)
    await uow.lockers.occupy(comp.site_id, comp.id, code, until)
    d.deposit(rider_id, comp.id, uow.now())
    await uow.deliveries.save(d)
    await uow.schedule(COLLECT, d.order_id, until, {"site_id": comp.site_id, "compartment_id": comp.id})
    await uow.publish(
        LockerDeposited(
            order_id=d.order_id,
            store_id=d.store_id,
            site_id=comp.site_id,
            compartment_id=comp.id,
            code=code,
            collect_by=until,
        )
    )
    await announce(uow, comp.site_id)
    return d


async def open_compartment(uow: DispatchUnitOfWork, site_id: str, code: str, subject: str, is_admin: bool) -> Opened:
    if await uow.lockers.site(site_id) is None:
        raise NotFound(f"no locker site {site_id}")
    # A wrong code names no order: the tries count for the asker at this site, and a lockout
    # goes on the timeline of every bag here that they may collect.
    waiting = await uow.lockers.waiting_for(site_id, subject)
    async with codes.guarded(uow, "locker", f"{site_id}:{subject}", subject, waiting, f"locker site {site_id}"):
        found = await uow.lockers.by_code(site_id, code.strip())
        if found is None or found.order_id is None:
            raise WrongCode("that code does not open any compartment here")
        if is_bag(found.order_id):  # a group buy's bag, booked per bag
            deal_id, compartment_id = await open_bag(uow, site_id, found, code, subject, is_admin)
            return Opened(deal_id, compartment_id)
        d = await uow.deliveries.get(found.order_id, lock=True)
        await uow.lockers.lock_site(site_id)
        comp = await uow.lockers.by_code(site_id, code.strip(), lock=True)  # again, now that it is ours
        check_open(comp.state if comp else None, comp.code if comp else None, code)
    assert comp is not None
    assert d is not None
    if not is_admin and subject not in (d.placed_by, d.placed_for):
        raise Forbidden("this compartment holds someone else's order")
    await uow.lockers.free(d.order_id)
    d.collect()
    await uow.deliveries.save(d)
    await uow.cancel_deadline(COLLECT, d.order_id)
    await uow.publish(
        LockerCollected(order_id=d.order_id, store_id=d.store_id, site_id=site_id, compartment_id=comp.id)
    )
    await announce(uow, site_id)
    return Opened(d.order_id, comp.id)


async def on_collect_deadline(uow: DispatchUnitOfWork, deadline: Deadline) -> None:
    """Not collected in time: the bag goes back to the shop and the compartment is free again."""
    d = await uow.deliveries.get(deadline.key, lock=True)
    if d is None or not d.can(Happening.EXPIRED):
        return
    if d.locker_site_id:
        await uow.lockers.lock_site(d.locker_site_id)
    freed = await uow.lockers.free(d.order_id)
    d.expire()
    await uow.deliveries.save(d)
    site_id, compartment_id = freed or (d.locker_site_id or "", d.compartment_id or "")
    await uow.publish(
        LockerExpired(order_id=d.order_id, store_id=d.store_id, site_id=site_id, compartment_id=compartment_id)
    )
    if freed is not None:
        await announce(uow, freed[0])


async def open_bag(
    uow: DispatchUnitOfWork, site_id: str, comp: Compartment, code: str, subject: str, is_admin: bool
) -> tuple[str, str]:
    """A neighbour opens their bag's compartment with its code: orders marks the bag collected."""
    assert comp.order_id is not None
    deal_id, _, number = comp.order_id.rpartition("#")
    trip = await uow.group_trips.get(deal_id, lock=True)
    bag = next((b for b in trip.bags if b.number == int(number)), None) if trip else None
    if trip is None or bag is None:
        raise Conflict("there is nothing to collect in that compartment")
    if not is_admin and subject not in (bag.holder, bag.joined_by):
        raise Forbidden("this compartment holds someone else's bag")
    await uow.lockers.lock_site(site_id)
    again = await uow.lockers.by_code(site_id, code.strip(), lock=True)
    check_open(again.state if again else None, again.code if again else None, code)
    await uow.lockers.free(comp.order_id)
    await announce(uow, site_id)
    await uow.publish(
        GroupBuyLockerOpened(
            deal_id=deal_id, store_id=trip.store_id, number=bag.number, opened_by=subject, compartment_id=comp.id
        )
    )
    return deal_id, comp.id
