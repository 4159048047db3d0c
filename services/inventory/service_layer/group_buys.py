"""Inventory's side of group buying: hold a deal's whole cap, release it, or turn it into one order.

The shop accepted the deal in orders; here its caps are held all-or-nothing under the stock rows'
locks, taken in product id order as every writer takes them, so a deal can never be promised
stock that orders or other deals hold. At the cutoff the consolidated order (already accepted)
keeps what the bags took, and the rest of the cap goes back to the shelf.
"""

from __future__ import annotations

from typing import Any

from services.inventory.domain import group_buys as deals
from services.inventory.domain.group_buys import DealStockStatus
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import NotFound
from shared.events.contracts import (
    BagItem,
    DealBag,
    DealStockRefused,
    DealStockReleased,
    DealStockReserved,
    GroupBuyAccepted,
    GroupBuyBagsReturned,
    GroupBuyCancelled,
    GroupBuyClosed,
    GroupBuyFailed,
    GroupBuyTripRefused,
    ReservedLine,
    ShortLine,
)
from shared.vocabulary.units import StockUnit

ACTOR = "group buy"


async def on_group_buy_accepted(uow: InventoryUnitOfWork, event: GroupBuyAccepted) -> None:
    """Hold every line's cap, or refuse naming what is available."""
    if await uow.deal_stock.get(event.deal_id) is not None:
        return  # decided before
    levels, watched = await uow.stock.lock_for_orders(ln.product_id for ln in event.lines)
    held = deals.hold(event, levels, uow.now())
    await uow.deal_stock.add(held.stock)
    if held.short:
        await uow.publish(
            DealStockRefused(
                deal_id=event.deal_id,
                store_id=event.store_id,
                reason="out_of_stock",
                short_lines=[
                    ShortLine(
                        product_id=s.product_id,
                        location_id=s.location_id,
                        requested=s.requested,
                        available=s.available,
                        unit=StockUnit(s.unit) if s.unit else None,
                    )
                    for s in held.short
                ],
            )
        )
        return
    changed = sorted({m.product_id for m in held.movements})
    await uow.stock.save_reserved([levels[pid] for pid in changed], watched, held.movements, held.holds, ACTOR)
    await uow.publish(
        DealStockReserved(
            deal_id=event.deal_id,
            store_id=event.store_id,
            lines=[
                ReservedLine(
                    line_no=h.line_no, product_id=h.product_id, location_id=ln.location_id, quantity=h.quantity
                )
                for h, ln in zip(held.holds, held.stock.lines, strict=True)
            ],
        )
    )
    await check_low_stock(uow, changed)


async def _release(uow: InventoryUnitOfWork, deal_id: str, reason: str, actor: str) -> None:
    stock = await uow.deal_stock.get(deal_id, for_update=True)
    if stock is None or stock.status is not DealStockStatus.HELD:
        return
    await uow.stock.lock(ln.product_id for ln in stock.lines)
    for line in stock.lines:
        await uow.stock.release_line(deal_id, line.line_no, f"released: group buy {reason}", actor)
    stock.release(reason)
    await uow.deal_stock.save(stock)
    await uow.publish(
        DealStockReleased(
            deal_id=deal_id,
            store_id=stock.store_id,
            reason=reason,
            released=[
                ReservedLine(
                    line_no=ln.line_no, product_id=ln.product_id, location_id=ln.location_id, quantity=ln.quantity
                )
                for ln in stock.lines
            ],
        )
    )
    await check_low_stock(uow, [ln.product_id for ln in stock.lines])


async def on_group_buy_cancelled(uow: InventoryUnitOfWork, event: GroupBuyCancelled) -> None:
    await _release(uow, event.deal_id, "cancelled", event.cancelled_by)


async def on_group_buy_failed(uow: InventoryUnitOfWork, event: GroupBuyFailed) -> None:
    await _release(uow, event.deal_id, event.reason, ACTOR)


async def on_group_buy_closed(uow: InventoryUnitOfWork, event: GroupBuyClosed) -> None:
    """The cutoff with the minimum met: one accepted order with the deal's totals and its packing list;
    each line keeps what the bags took and gives the rest back."""
    stock = await uow.deal_stock.get(event.deal_id, for_update=True)
    if stock is None or stock.status is not DealStockStatus.HELD:
        return
    await uow.stock.lock(ln.product_id for ln in stock.lines)
    order = deals.consolidate(stock, event, uow.now())
    released = []
    for line in stock.lines:
        kept = order.keep[line.line_no]
        await uow.stock.set_hold(
            event.deal_id, line.line_no, line.product_id, kept, "released: not taken by the group buy's bags", ACTOR
        )
        if kept < line.quantity:
            released.append(
                ReservedLine(
                    line_no=line.line_no,
                    product_id=line.product_id,
                    location_id=line.location_id,
                    quantity=line.quantity - kept,
                )
            )
    await uow.reservations.add(order.reservation)
    await uow.lines.add_many(order.lines)
    await uow.parts.add_many(order.parts)
    for part in order.parts:
        part.accept(event.leader, uow.now())
    await uow.parts.save_many(order.parts)
    await uow.deal_stock.save(stock)
    await uow.deal_stock.add_bags(event.deal_id, event.bags)
    if released:
        await uow.publish(
            DealStockReleased(deal_id=event.deal_id, store_id=stock.store_id, reason="cutoff", released=released)
        )
    await check_low_stock(uow, [ln.product_id for ln in stock.lines])


async def on_group_buy_bags_returned(uow: InventoryUnitOfWork, event: GroupBuyBagsReturned) -> None:
    """Bags uncollected at the end of the pickup window came back: their goods are the shop's again. What the
    consolidated order still holds (never handed over) is released; what had left the shop is on hand again."""
    numbers = await uow.deal_stock.mark_returned(event.deal_id, [b.number for b in event.bags], uow.now())
    back = [b for b in event.bags if b.number in numbers]
    if not back:
        return
    products = sorted({i.product_id for b in back for i in b.items})
    await uow.stock.lock(products)
    rows = {r["number"]: r for r in await uow.deal_stock.bags(event.deal_id)}
    for bag in back:
        why = f"group buy bag {bag.number} uncollected, back to the shop"
        for item, quantity in _in_bag(bag, rows.get(bag.number)):
            holds = await uow.stock.holds(event.order_id, item.line_no)
            held = sum(h.quantity for h in holds if h.product_id == item.product_id)
            released = min(held, quantity)
            if released:
                await uow.stock.set_hold(
                    event.order_id, item.line_no, item.product_id, held - released, f"released: {why}", ACTOR
                )
            if quantity > released:
                await uow.stock.change_on_hand(item.product_id, quantity - released, why, ACTOR, event.order_id)
    await check_low_stock(uow, products)


def _in_bag(bag: DealBag, row: dict[str, Any] | None) -> list[tuple[BagItem, int]]:
    """What is in the bag, in each product's unit: as the counter packed it (a line not filled holds nothing,
    a weighed one its grams), or before packing the estimate it holds."""
    packed = {int(i["line_no"]): int(i["quantity"]) for i in (row or {}).get("packed") or []}
    return [(item, packed.get(item.line_no, item.stock_quantity or item.quantity)) for item in bag.items]


async def on_group_buy_trip_refused(uow: InventoryUnitOfWork, event: GroupBuyTripRefused) -> None:
    """No one trip can carry the deal's bags: the leader collects the consolidated order at the counter, so it is
    a pickup order from now on (the counter then asks the leader for its code instead of telling a rider)."""
    order = await uow.reservations.get(event.deal_id, for_update=True)
    if order is not None and order.collect_instead():
        await uow.reservations.save(order)


async def deal_at(
    uow: InventoryUnitOfWork, store_id: str, deal_id: str
) -> tuple[deals.DealStock, list[dict[str, Any]]]:
    """The deal's stock at this shop or market, and its packing list (empty before the cutoff)."""
    stock = await uow.deal_stock.get(deal_id)
    if stock is None or stock.store_id != store_id:
        raise NotFound(f"no group buy {deal_id} at {store_id}")
    return stock, await uow.deal_stock.bags(deal_id)
