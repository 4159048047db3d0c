"""Stock outside of orders: restocking, adjusting with a reason, and the low-stock warning.

Every change goes through `StockRepository`, which records a movement with who and why; the
LowStock event fires once when available stock crosses under a product's threshold and is
re-armed when it climbs back to the threshold or above.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.inventory.domain.fulfilment import BadRequest, NotFound
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import LowStock


async def check_low_stock(uow: UnitOfWork, product_ids: Iterable[str]) -> None:
    ids = list(product_ids)
    if not ids:
        return
    for row in await uow.stock.low_stock_candidates(ids):
        threshold = row["low_stock_threshold"]
        under = threshold is not None and row["available"] < threshold
        if under and not row["low_flagged"]:
            await uow.stock.set_low_flag(row["id"], True)
            await uow.publish(LowStock(product_id=row["id"], location_id=row["location_id"], store_id=row["store_id"],
                                       available=row["available"], threshold=threshold))
        elif not under and row["low_flagged"]:
            await uow.stock.set_low_flag(row["id"], False)


async def _product(uow: UnitOfWork, product_id: str) -> None:
    if await uow.inventory.product(product_id) is None:
        raise NotFound(f"no product {product_id!r}")


async def restock(uow: UnitOfWork, product_id: str, quantity: int, reason: str, actor: str) -> dict[str, int]:
    """Goods arrived: on-hand goes up by `quantity` (in the product's unit)."""
    if quantity <= 0:
        raise BadRequest("a restock quantity must be at least 1")
    await _product(uow, product_id)
    await uow.stock.lock([product_id])
    await uow.stock.change_on_hand(product_id, quantity, f"restocked: {reason}" if reason else "restocked", actor)
    await check_low_stock(uow, [product_id])
    return await level(uow, product_id)


async def adjust(uow: UnitOfWork, product_id: str, delta: int, reason: str, actor: str) -> dict[str, int]:
    """A correction (spoiled, miscounted, broken): never below what is reserved for orders."""
    if delta == 0:
        raise BadRequest("an adjustment must change the stock: send a non-zero delta")
    if not reason.strip():
        raise BadRequest("say why the stock is adjusted: reason is required")
    await _product(uow, product_id)
    current = (await uow.stock.lock([product_id]))[product_id]
    if current["on_hand"] + delta < current["reserved"]:
        raise BadRequest(f"{product_id}: on hand would be {current['on_hand'] + delta}, below the "
                         f"{current['reserved']} reserved for orders")
    await uow.stock.change_on_hand(product_id, delta, f"adjusted: {reason}", actor)
    await check_low_stock(uow, [product_id])
    return await level(uow, product_id)


async def level(uow: UnitOfWork, product_id: str) -> dict[str, int]:
    row = await uow.stock.level(product_id)
    assert row is not None
    return {"on_hand": row["on_hand"], "reserved": row["reserved"], "available": row["available"]}
