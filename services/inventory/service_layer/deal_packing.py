"""The counter packs a closed deal's consolidated order: one labelled bag per participant.

The consolidated order (id = the deal's) is one order in the counter's queue; its packing list says
what each participant's bag holds. Each bag is packed once: its lines filled (weighed goods with
their grams) or not, its holds brought to what went in, and `GroupBuyBagPacked` tells orders what
the share comes to. When the last bag is packed the order's lines are the sums of the bags and the
order is packed as any order is (`OrderPacked`, the leader collects with its handover code, or
dispatch's trip takes it). Locks: the deal's stock row, its bag, the order, then stock rows in id order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.inventory.domain import bag_packing
from services.inventory.domain.bag_packing import LinePacked, PackedBag
from services.inventory.domain.fulfilment import PartStatus
from services.inventory.domain.group_buys import DealStock
from services.inventory.domain.picking import LineState
from services.inventory.service_layer.fulfilment import _pack_order, _start_parts
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import Conflict, Invalid, NotFound
from shared.events.contracts import GroupBuyBagPacked, LineOutcome, PackedBagItem


@dataclass(frozen=True)
class BagPacked:
    bag: PackedBag
    bags_left: int  # still to pack; 0: the consolidated order is packed
    order_final_fen: int | None  # the consolidated order's final amount, once every bag is packed


async def _deal_here(uow: InventoryUnitOfWork, store_id: str, deal_id: str) -> DealStock:
    stock = await uow.deal_stock.get(deal_id, for_update=True)
    if stock is None or stock.store_id != store_id:
        raise NotFound(f"no group buy {deal_id} at {store_id}")
    return stock


async def _tolerance(uow: InventoryUnitOfWork, location_id: str) -> float:
    location = await uow.locations.get(location_id)
    pct = location.weight_tolerance_pct if location is not None else None
    return float(pct) if pct is not None else uow.policy.weight_tolerance_pct


async def pack_bag(
    uow: InventoryUnitOfWork,
    store_id: str,
    deal_id: str,
    number: int,
    told: list[LinePacked],
    by: str,
    *,
    weight_g: int | None = None,
) -> BagPacked:
    """Pack participant `number`'s bag: its holds follow what went in, orders is told what it comes to."""
    if weight_g is not None and weight_g < 0:
        raise Invalid("weight_g, the bag's weight, cannot be negative")
    stock = await _deal_here(uow, store_id, deal_id)
    row = await uow.deal_stock.bag(deal_id, number, for_update=True)
    if row is None:
        raise NotFound(f"group buy {deal_id} has no bag {number}")
    bag_packing.check_packable(number, row["packed_at"], row["returned_at"], stock.status.value)
    order = await uow.reservations.get(deal_id, for_update=True)
    if order is None:
        raise NotFound(f"no consolidated order {deal_id} at {store_id}")
    order.require_working()
    held = {ln.line_no: ln for ln in stock.lines}
    lines = bag_packing.bag_lines(row["items"], held)
    tolerance = await _tolerance(uow, held[lines[0].line_no].location_id)
    packed = bag_packing.pack(number, lines, told, tolerance)
    if weight_g is not None:
        packed = PackedBag(packed.number, packed.items, max(weight_g, packed.weight_g))
    accepted = [p for p in await uow.parts.of_order(deal_id) if p.status is PartStatus.ACCEPTED]
    if accepted:
        await _start_parts(uow, order, accepted, by)
    await uow.stock.lock(ln.product_id for ln in lines)
    estimates = {ln.line_no: ln.estimate for ln in lines}
    for item in packed.items:
        change = item.quantity - estimates[item.line_no]
        if change:
            current = sum(h.quantity for h in await uow.stock.holds(deal_id, item.line_no))
            why = f"bag {number}: " + ("not filled" if item.quantity == 0 else "weighed")
            await uow.stock.set_hold(deal_id, item.line_no, item.product_id, max(current + change, 0), why, by)
        await uow.lines.record(deal_id, item.line_no, by, f"bag {number} packed", item.as_dict())
    await uow.deal_stock.save_packed(deal_id, number, packed, by, uow.now())
    await uow.publish(
        GroupBuyBagPacked(
            deal_id=deal_id,
            store_id=store_id,
            order_id=deal_id,
            number=number,
            holder=row["holder"],
            items=[
                PackedBagItem(
                    line_no=i.line_no,
                    product_id=i.product_id,
                    outcome=i.outcome,
                    pieces=i.pieces,
                    quantity=i.quantity,
                    estimated_fen=i.estimated_fen,
                    price_fen=i.price_fen,
                )
                for i in packed.items
            ],
            estimated_fen=packed.estimated_fen,
            goods_fen=packed.goods_fen,
            weight_g=packed.weight_g,
            by=by,
        )
    )
    await check_low_stock(uow, [ln.product_id for ln in lines])
    rows = await uow.deal_stock.bags(deal_id)
    left = [r for r in rows if r["packed_at"] is None and r["returned_at"] is None and r["number"] != number]
    if left:
        return BagPacked(packed, len(left), None)
    return BagPacked(packed, 0, await _pack_consolidated(uow, deal_id, rows, packed, by))


def _as_packed(row: dict[str, Any]) -> PackedBag:
    items = [
        bag_packing.PackedItem(
            line_no=int(i["line_no"]),
            product_id=str(i["product_id"]),
            outcome=LineOutcome(i["outcome"]),
            pieces=int(i["pieces"]),
            quantity=int(i["quantity"]),
            estimated_fen=int(i["estimated_fen"]),
            price_fen=int(i["price_fen"]),
            over_tolerance=bool(i.get("over_tolerance")),
        )
        for i in row["packed"]
    ]
    return PackedBag(int(row["number"]), items, int(row["weight_g"] or 0))


async def _pack_consolidated(
    uow: InventoryUnitOfWork, deal_id: str, rows: list[dict[str, Any]], last: PackedBag, by: str
) -> int:
    """Every bag is packed: each line of the order is what the bags took, and the order is packed."""
    order = await uow.reservations.get(deal_id, for_update=True)
    assert order is not None
    bags = [last if r["number"] == last.number else _as_packed(r) for r in rows if r["returned_at"] is None]
    totals = bag_packing.line_totals(bags)
    for line in await uow.lines.of_order(deal_id):
        if line.state is not LineState.RESERVED:
            continue
        quantity, price = totals.get(line.line_no, (0, 0))
        if quantity:
            line.pick(quantity, price)
        else:
            line.out_of_stock()
        await uow.lines.save(line)
    live = [p for p in await uow.parts.of_order(deal_id) if p.live]
    if not live:
        raise Conflict(f"the consolidated order {deal_id} has no part left to pack")
    weight = sum(b.weight_g for b in bags)
    for n, part in enumerate(live):
        # The participants' bags are one each, whichever stalls filled them: counted once, on the first part.
        part.pack(len(bags) if n == 0 else 0, weight if n == 0 else 0, by, uow.now())
    await uow.parts.save_many(live)
    total = await _pack_order(uow, order, live)
    return total.final_fen


async def labels(uow: InventoryUnitOfWork, store_id: str, deal_id: str) -> list[bag_packing.BagLabel]:
    """One label per participant's bag: their name, their number in the deal, and the bag's contents."""
    stock = await uow.deal_stock.get(deal_id)
    if stock is None or stock.store_id != store_id:
        raise NotFound(f"no group buy {deal_id} at {store_id}")
    rows = await uow.deal_stock.bags(deal_id)
    if not rows:
        raise Conflict("the deal has no bags yet: its packing list comes with the cutoff")
    order = await uow.reservations.get(deal_id)
    products = {}
    for line in stock.lines:
        product = await uow.products.get(line.product_id)
        products[line.line_no] = (product.name_zh, product.name_en) if product else (line.product_id, line.product_id)
    return bag_packing.labels_of(rows, {ln.line_no: ln for ln in stock.lines}, products, order.note if order else None)
