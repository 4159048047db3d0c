"""Stock outside of orders: restocking, adjusting with a reason, the low-stock warning and the
availability level search shows.

Every change goes through `StockRepository`, which records a movement with who and why; the
LowStock event fires once when available stock crosses under a product's threshold and is
re-armed when it climbs back to the threshold or above. StockLevelChanged (in stock / low /
out) is published whenever the level differs from the one last published, in the transaction
of the stock change; the last one is kept with the stock row.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.inventory.domain.availability import announcements, notice
from services.inventory.domain.stock import StockLevel
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import Invalid, NotFound


async def check_low_stock(uow: InventoryUnitOfWork, product_ids: Iterable[str]) -> None:
    """After any change of these products' stock or threshold: LowStock on a crossing, and the level if it moved.

    Every use case that changes stock calls this in its own transaction, so an event is never
    published for a change that rolled back, nor missed for one that committed.
    """
    ids = list(product_ids)
    if not ids:
        return
    levels: dict[str, str] = {}
    flags: dict[str, bool] = {}
    for watched in await uow.stock.watched(ids):
        noticed = notice(watched)
        if noticed.level is not None:
            levels[watched.product_id] = noticed.level.value
        if noticed.after.low_flagged != watched.low_flagged:
            flags[watched.product_id] = noticed.after.low_flagged
        for event in announcements(watched, noticed):
            await uow.publish(event)
    if levels or flags:
        await uow.stock.remember_notices(levels, flags)  # one statement however many products (a price list's)


async def publish_missing_levels(uow: InventoryUnitOfWork) -> int:
    """Publish the level of every product that never had one published (products from before levels existed),
    so search knows them all without waiting for their next sale; returns how many."""
    ids = await uow.stock.never_published()
    await check_low_stock(uow, ids)
    return len(ids)


async def _product(uow: InventoryUnitOfWork, product_id: str) -> None:
    if not await uow.products.exists(product_id):
        raise NotFound(f"no product {product_id!r}")


async def restock(uow: InventoryUnitOfWork, product_id: str, quantity: int, reason: str, actor: str) -> StockLevel:
    """Goods arrived: on-hand goes up by `quantity` (in the product's unit)."""
    if quantity <= 0:
        raise Invalid("a restock quantity must be at least 1")
    await _product(uow, product_id)
    await uow.stock.lock([product_id])
    await uow.stock.change_on_hand(product_id, quantity, f"restocked: {reason}" if reason else "restocked", actor)
    await check_low_stock(uow, [product_id])
    return await level(uow, product_id)


async def adjust(uow: InventoryUnitOfWork, product_id: str, delta: int, reason: str, actor: str) -> StockLevel:
    """A correction (spoiled, miscounted, broken): never below what is reserved for orders."""
    if delta == 0:
        raise Invalid("an adjustment must change the stock: send a non-zero delta")
    if not reason.strip():
        raise Invalid("say why the stock is adjusted: reason is required")
    await _product(uow, product_id)
    current = (await uow.stock.lock([product_id]))[product_id]
    if current.on_hand + delta < current.reserved:
        raise Invalid(
            f"{product_id}: on hand would be {current.on_hand + delta}, below the "
            f"{current.reserved} reserved for orders"
        )
    await uow.stock.change_on_hand(product_id, delta, f"adjusted: {reason}", actor)
    await check_low_stock(uow, [product_id])
    return await level(uow, product_id)


async def level(uow: InventoryUnitOfWork, product_id: str) -> StockLevel:
    found = await uow.stock.level(product_id)
    assert found is not None
    return found
