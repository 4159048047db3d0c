"""What the counter prints on each bag, and the handover code it may show as a QR code. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from services.inventory.domain.catalog import Location
from services.inventory.domain.fulfilment import Part, PartStatus
from services.inventory.domain.reservation import Reservation
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import Conflict, NotFound


@dataclass(frozen=True)
class BagLabel:
    part: Part
    place: Location | None
    bag: int  # 1-based
    bags: int


@dataclass(frozen=True)
class Labels:
    order: Reservation
    labels: list[BagLabel]
    code: str | None  # the handover code, where staff may read it (Reservation.code_for_staff)


async def _order_here(uow: InventoryUnitOfWork, location: Location, order_id: str) -> tuple[Reservation, list[Part]]:
    """The order and its parts this location works on (the shop or market: all of them; a stall: its own)."""
    order = await uow.reservations.get(order_id)
    parts = [] if order is None else await uow.parts.of_order(order_id)
    here = [p for p in parts if location.id in (p.location_id, order.store_id if order else None)]
    if order is None or not here:
        raise NotFound(f"no order {order_id} at {location.id}")
    return order, here


async def bag_labels(uow: InventoryUnitOfWork, location: Location, order_id: str) -> Labels:
    """One label per bag of every packed part here: bag k of n, per shop or stall."""
    order, parts = await _order_here(uow, location, order_id)
    packed = [p for p in parts if p.status is PartStatus.PACKED]
    if not packed:
        raise Conflict(f"order {order_id} is not packed here yet: labels name the bags, so pack first")
    places = {p.location_id: await uow.locations.get(p.location_id) for p in packed}
    labels = [
        BagLabel(p, places[p.location_id], k, p.bags or 0)
        for p in sorted(packed, key=lambda p: p.location_id)
        for k in range(1, (p.bags or 0) + 1)
    ]
    return Labels(order, labels, order.code_for_staff())


async def handover_code(uow: InventoryUnitOfWork, location: Location, order_id: str) -> str:
    """The code the counter tells a rider, where staff may read it; for pickup the shopper holds it."""
    order, _ = await _order_here(uow, location, order_id)
    code = order.code_for_staff()
    if code is None:
        raise NotFound(f"order {order_id} has no handover code that the counter may show")
    return code
