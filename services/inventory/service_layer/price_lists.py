"""Loading a shop's price list: preview what it would change, then apply it in one transaction.

Applying checks the rows again on locked rows (a reservation made between preview and apply is
counted), writes nothing when any row is invalid, and writes only the rows that change
something: the same list applied twice publishes no event and records no movement the second
time. A counted stock becomes a movement with the reason "counted"; a changed product is
published on the catalog topic as any other product change is.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.inventory.domain import price_list
from services.inventory.domain.catalog import Location
from services.inventory.domain.price_list import Change, Plan
from services.inventory.service_layer.catalog import product_upserted
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import NotFound
from shared.vocabulary.locations import LocationKind

COUNTED = "counted"


async def _plan(uow: InventoryUnitOfWork, location_id: str, table: Sequence[Sequence[str]], *, lock: bool) -> Plan:
    rows, refused = price_list.read_rows(table)
    location = await uow.locations.get(location_id)
    if location is None:
        raise NotFound(f"no shop, market or stall {location_id!r}")
    stalls: dict[str, Location] = {}
    if location.kind is LocationKind.MARKET:
        stalls = {s.id: s for s in await uow.locations.stalls_of(location_id)}
    existing = await uow.products.stocked_many([r.product_id for r in rows], for_update=lock)
    return price_list.plan(location, stalls, rows, refused, existing)


async def preview(uow: InventoryUnitOfWork, location_id: str, table: Sequence[Sequence[str]]) -> Plan:
    """What applying the list would change, row by row, and every row that cannot be applied with why."""
    return await _plan(uow, location_id, table, lock=False)


async def apply(uow: InventoryUnitOfWork, location_id: str, table: Sequence[Sequence[str]], actor: str) -> Plan:
    """Apply the whole list or nothing (`Invalid` listing every refused row)."""
    plan = await _plan(uow, location_id, table, lock=True)
    if not plan.valid:
        raise plan.refusal()
    catalog_changed = [p for p in plan.to_write if set(p.changes) - {Change.STOCK}]
    counted = {p.product.id: p.row.counted for p in plan.to_write if {Change.NEW, Change.STOCK} & set(p.changes)}
    await uow.products.save_many([p.product for p in catalog_changed])
    await uow.products.record_changes(
        actor,
        [
            (
                p.product.id,
                "created" if p.before is None else "updated",
                p.product.differences(p.before.product if p.before else None),
            )
            for p in catalog_changed
        ],
    )
    await uow.stock.count_many(counted, COUNTED, actor)
    for p in catalog_changed:
        await uow.publish(product_upserted(p.product))
    await check_low_stock(uow, sorted({p.product.id for p in plan.to_write}))
    return plan
