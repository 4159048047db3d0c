"""What staff look at: the queue of parts, a pick list, a product's history. Reads only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.inventory.domain.catalog import Location, Product
from services.inventory.domain.fulfilment import Part, PartStatus
from services.inventory.domain.picking import Line
from services.inventory.domain.reservation import Reservation
from services.inventory.domain.slots import is_scheduled
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import NotFound
from shared.vocabulary.locations import LocationKind


@dataclass(frozen=True)
class LineToPick:
    """A line with what staff need to find it on the shelf (None for a product no longer listed)."""

    line: Line
    product: Product | None


@dataclass(frozen=True)
class QueuedPart:
    part: Part
    order: Reservation
    lines: list[LineToPick]
    seconds_left: int | None = None  # until the accept deadline, while the part waits
    seconds_to_release: int | None = None  # a slot order not released yet


@dataclass(frozen=True)
class PickList:
    order: Reservation
    stalls: dict[str, dict[str, list[LineToPick]]]  # location -> category -> lines
    history: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str
    kind: str  # "catalog" or "stock"
    change: str
    details: Mapping[str, Any]


async def _lines_to_pick(uow: InventoryUnitOfWork, lines: list[Line]) -> list[LineToPick]:
    names = await uow.products.get_many(sorted({ln.product_id for ln in lines}))
    return [LineToPick(ln, names.get(ln.product_id)) for ln in lines]


async def _parts_at(uow: InventoryUnitOfWork, location: Location) -> list[QueuedPart]:
    """The live parts of a shop or stall (a market: of all its stalls), each with its order and lines."""
    ids = [location.id]
    if location.kind is LocationKind.MARKET:
        ids = [s.id for s in await uow.locations.stalls_of(location.id)]
    parts = await uow.parts.queue(ids)
    order_ids = [p.order_id for p in parts]
    orders = await uow.reservations.get_many(order_ids)
    lines = await _lines_to_pick(uow, await uow.lines.get_many(order_ids))
    return [
        QueuedPart(
            p,
            orders[p.order_id],
            [ln for ln in lines if (ln.line.order_id, ln.line.location_id) == (p.order_id, p.location_id)],
        )
        for p in parts
    ]


async def queue(uow: InventoryUnitOfWork, location: Location) -> list[QueuedPart]:
    """Parts waiting, accepted, being picked or packed at a shop or stall (a market: all its stalls).

    Slot orders not released yet are left out (see `scheduled`): nobody should start on a bag
    due tomorrow morning, and their accept countdown has not started.
    """
    at = uow.now()
    return [
        QueuedPart(
            q.part,
            q.order,
            q.lines,
            seconds_left=max(0, int((q.part.accept_deadline - at).total_seconds()))
            if q.part.status is PartStatus.WAITING
            else None,
        )
        for q in await _parts_at(uow, location)
        if not is_scheduled(q.order.release_at, at)
    ]


async def scheduled(uow: InventoryUnitOfWork, location: Location) -> list[QueuedPart]:
    """Slot orders held here that enter the live queue later, soonest release first."""
    at = uow.now()
    waiting = [
        QueuedPart(q.part, q.order, q.lines, seconds_to_release=int((q.order.release_at - at).total_seconds()))
        for q in await _parts_at(uow, location)
        if q.order.release_at is not None and is_scheduled(q.order.release_at, at)
    ]
    return sorted(waiting, key=lambda q: (q.order.release_at or at, q.part.order_id, q.part.location_id))


async def pick_list(uow: InventoryUnitOfWork, location_id: str, order_id: str) -> PickList:
    """The order's lines at this shop or stall (at the market: every stall), by stall, then by category."""
    order = await uow.reservations.get(order_id)
    if order is None:
        raise NotFound(f"no order {order_id} at {location_id}")
    lines = [ln for ln in await uow.lines.of_order(order_id) if location_id in (order.store_id, ln.location_id)]
    if not lines:
        raise NotFound(f"no order {order_id} at {location_id}")
    stalls: dict[str, dict[str, list[LineToPick]]] = {}
    for item in await _lines_to_pick(uow, lines):
        category = item.product.category if item.product else ""
        stalls.setdefault(item.line.location_id, {}).setdefault(category, []).append(item)
    return PickList(order, stalls, await uow.lines.history(order_id))


async def product_history(uow: InventoryUnitOfWork, product_id: str) -> list[HistoryEntry]:
    """Every catalog change and every stock movement of a product, oldest first, with who and when."""
    entries = [
        HistoryEntry(c["at"], c["actor"], "catalog", c["change"], c["details"])
        for c in await uow.products.changes(product_id)
    ]
    entries += [
        HistoryEntry(
            m["at"],
            m["actor"],
            "stock",
            m["reason"],
            {"on_hand_delta": m["on_hand_delta"], "reserved_delta": m["reserved_delta"], "order_id": m["order_id"]},
        )
        for m in await uow.stock.movements(product_id)
    ]
    return sorted(entries, key=lambda e: e.at)
