"""From an accepted order to a packed bag, its handover and its return.

Every use case locks the order first (one thing at a time happens to an order), then the stock
rows it touches in id order. Each line ends picked, out of stock or substituted; questions for
the shopper (a heavy weighed line, a substitute outside their preference) wait for their answer
or a deadline, whichever comes first. The bag is packed part by part; the order is packed when
every remaining part is, and leaves the shop only against its handover code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.inventory.domain.fulfilment import (
    Amounts,
    Part,
    PartStatus,
    all_packed,
    amounts,
    approval_key,
    new_handover_code,
)
from services.inventory.domain.picking import (
    Line,
    LineState,
    check_weight,
    first_unresolved,
    packed_outcome,
    picked_quantity,
)
from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.service_layer.reservations import APPROVAL_DEADLINE
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.attempts import Lockout, code_guard
from shared.deadlines import Deadline
from shared.errors import Conflict, Invalid, NotFound, WrongCode
from shared.events.contracts import (
    ApprovalGiven,
    ApprovalKind,
    BagReturned,
    DeliveryPickedUp,
    HandoverCodeLockedOut,
    HandoverTo,
    LineOutOfStock,
    LinePicked,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PartPacked,
    PickingStarted,
    PickupChoiceMade,
    PickupPoint,
    ReturnedLine,
    SubstituteItem,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.inbox import PermanentError
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit, line_price

log = logging.getLogger(__name__)


# What each use case answers (the routes shape these into their JSON)


@dataclass(frozen=True)
class Started:
    order_id: str
    picking: list[str]  # the locations whose parts are being picked


@dataclass(frozen=True)
class Picked:
    line_no: int
    quantity: int
    price_fen: int


@dataclass(frozen=True)
class WeightPending:
    line_no: int
    over_pct: float
    price_fen: int
    approval_deadline: datetime


@dataclass(frozen=True)
class OutOfStock:
    line_no: int
    refund_fen: int


@dataclass(frozen=True)
class SubstituteOffered:
    line_no: int
    state: LineState
    needs_approval: bool
    price_fen: int


@dataclass(frozen=True)
class PackedPart:
    order_id: str
    part: str
    order: Amounts | None  # the order's amounts once every remaining part is packed


@dataclass(frozen=True)
class HandedOver:
    order_id: str
    to: HandoverTo


@dataclass(frozen=True)
class Returned:
    order_id: str
    refund_fen: int


# Finding what the caller may act on


async def _order(uow: InventoryUnitOfWork, location_id: str, order_id: str) -> Reservation:
    order = await uow.reservations.get(order_id, for_update=True)
    if order is None:
        raise NotFound(f"no order {order_id} at {location_id}")
    return order


async def _start_parts(uow: InventoryUnitOfWork, order: Reservation, parts: list[Part], by: str) -> None:
    """Picking starts for these accepted parts; the order's first start tells orders (cancel is refused after)."""
    await uow.parts.save_many([p for p in parts if p.start_picking()])
    if order.start_picking():
        await uow.reservations.save(order)
        await uow.publish(
            PickingStarted(order_id=order.order_id, store_id=order.store_id, location_id=parts[0].location_id, by=by)
        )


async def start_picking(uow: InventoryUnitOfWork, location_id: str, order_id: str, by: str) -> Started:
    order = await _order(uow, location_id, order_id)
    mine = [p for p in await uow.parts.of_order(order_id) if location_id in (order.store_id, p.location_id)]
    if not mine:
        raise NotFound(f"no order {order_id} at {location_id}")
    parts = [p for p in mine if p.status in (PartStatus.ACCEPTED, PartStatus.PICKING)]
    order.require_working()
    if not parts:
        raise Conflict(f"nothing of order {order_id} at {location_id} is accepted and waiting to be picked")
    await _start_parts(uow, order, parts, by)
    return Started(order_id, [p.location_id for p in parts])


async def _line(
    uow: InventoryUnitOfWork, location_id: str, order_id: str, line_no: int, by: str
) -> tuple[Reservation, Line]:
    """The order and the line, once the line is the caller's and its part is being picked."""
    order = await _order(uow, location_id, order_id)
    line = await uow.lines.get(order_id, line_no)
    if line is None or location_id not in (line.location_id, order.store_id):
        raise NotFound(f"order {order_id} has no line {line_no} at {location_id}")
    part = next(p for p in await uow.parts.of_order(order_id) if p.location_id == line.location_id)
    part.check_workable(line_no)
    order.require_working()
    if part.status is PartStatus.ACCEPTED:
        await _start_parts(uow, order, [part], by)
    return order, line


async def _tolerance(uow: InventoryUnitOfWork, location_id: str) -> float:
    location = await uow.locations.get(location_id)
    pct = location.weight_tolerance_pct if location is not None else None
    return float(pct) if pct is not None else uow.policy.weight_tolerance_pct


async def _ask_approval(uow: InventoryUnitOfWork, order_id: str, line_no: int, kind: str) -> datetime:
    """The shopper's answer is awaited until the approval deadline; returns it."""
    deadline = uow.now() + timedelta(seconds=uow.policy.approval_limit_s)
    await uow.schedule(
        APPROVAL_DEADLINE,
        approval_key(order_id, line_no),
        deadline,
        {"order_id": order_id, "line_no": line_no, "kind": kind},
    )
    return deadline


# Picking a line


async def pick_line(
    uow: InventoryUnitOfWork, location_id: str, order_id: str, line_no: int, weight_g: int | None, by: str
) -> Picked | WeightPending:
    order, line = await _line(uow, location_id, order_id, line_no, by)
    line.require(LineState.RESERVED)
    quantity = picked_quantity(line.unit, line.quantity, weight_g, line_no)
    weighed = line.unit is StockUnit.GRAM
    await uow.stock.lock([line.product_id])
    await uow.stock.set_hold(order_id, line_no, line.product_id, quantity, "weighed" if weighed else "picked", by)
    price = line.price(quantity)
    if weighed:
        check = check_weight(line.quantity, quantity, await _tolerance(uow, line.location_id))
        await uow.lines.record(
            order_id,
            line_no,
            by,
            "weighed",
            {"estimated_g": line.quantity, "actual_g": quantity, "over_pct": check.over_pct, "price_fen": price},
        )
        if check.needs_approval:
            line.await_weight_approval(quantity)
            await uow.lines.save(line)
            deadline = await _ask_approval(uow, order_id, line_no, "weight")
            await uow.publish(
                WeightApprovalRequested(
                    order_id=order_id,
                    store_id=order.store_id,
                    line_no=line_no,
                    estimated_quantity=line.quantity,
                    actual_quantity=quantity,
                    over_pct=check.over_pct,
                    estimated_fen=line.estimated_fen,
                    actual_fen=price,
                    deadline=deadline,
                )
            )
            await check_low_stock(uow, [line.product_id])
            return WeightPending(line_no, check.over_pct, price, deadline)
    else:
        await uow.lines.record(order_id, line_no, by, "picked", {"quantity": quantity, "price_fen": price})
    line.pick(quantity, price)
    await uow.lines.save(line)
    await uow.publish(
        LinePicked(
            order_id=order_id,
            store_id=order.store_id,
            line_no=line_no,
            quantity=quantity,
            price_fen=price,
            estimated_fen=line.estimated_fen,
            by=by,
        )
    )
    await check_low_stock(uow, [line.product_id])
    return Picked(line_no, quantity, price)


async def out_of_stock(uow: InventoryUnitOfWork, location_id: str, order_id: str, line_no: int, by: str) -> OutOfStock:
    order, line = await _line(uow, location_id, order_id, line_no, by)
    line.require(LineState.RESERVED)
    await uow.stock.lock([line.product_id])
    await uow.stock.release_line(order_id, line_no, "released: out of stock", by)
    line.out_of_stock()
    await uow.lines.save(line)
    await uow.lines.record(order_id, line_no, by, "out of stock", {"refund_fen": line.estimated_fen})
    await uow.publish(
        LineOutOfStock(
            order_id=order_id, store_id=order.store_id, line_no=line_no, refund_fen=line.estimated_fen, by=by
        )
    )
    await check_low_stock(uow, [line.product_id])
    return OutOfStock(line_no, line.estimated_fen)


async def _substitute_item(uow: InventoryUnitOfWork, line: Line, product_id: str, quantity: int) -> SubstituteItem:
    """The product offered instead, once it may stand in for the line."""
    product = await uow.products.get(product_id)
    if product is None:
        raise Invalid(f"unknown product {product_id!r}")
    if product_id == line.product_id:
        raise Invalid(f"{product_id} is the product ordered: record it as picked instead")
    if product.location_id != line.location_id:
        raise Invalid(
            f"a substitute must come from the shop or stall that fulfils the line "
            f"({line.location_id}); {product_id} is sold by {product.location_id}"
        )
    if not product.active:
        raise Invalid(f"{product_id} is not on sale (inactive)")
    return SubstituteItem(
        product_id=product_id,
        location_id=product.location_id,
        name_zh=product.name_zh,
        name_en=product.name_en,
        unit=product.unit,
        quantity=quantity,
        price_fen=line_price(product.unit, product.price_fen, quantity),
    )


async def substitute(
    uow: InventoryUnitOfWork, location_id: str, order_id: str, line_no: int, product_id: str, quantity: int, *, by: str
) -> SubstituteOffered:
    """Offer another product for a line: reserved at once, the original released; the preference decides."""
    if quantity <= 0:
        raise Invalid("the substitute's quantity must be at least 1 (pieces, or grams for weighed goods)")
    order, line = await _line(uow, location_id, order_id, line_no, by)
    line.require(LineState.RESERVED)
    item = await _substitute_item(uow, line, product_id, quantity)
    await uow.stock.lock([line.product_id, product_id])
    await uow.stock.release_line(order_id, line_no, "released: substituted", by)
    await uow.stock.set_hold(order_id, line_no, product_id, quantity, f"substitute for line {line_no}", by)
    needs = line.substitute_needs_approval(product_id)
    await uow.lines.record(
        order_id,
        line_no,
        by,
        "substitute proposed",
        {
            "original": line.product_id,
            "substitute": item.model_dump(mode="json"),
            "needs_approval": needs,
            "preference": line.substitution or {},
        },
    )
    line.propose_substitute(item.model_dump(mode="json"), quantity, item.price_fen, needs_approval=needs)
    await uow.lines.save(line)
    if needs:
        deadline = await _ask_approval(uow, order_id, line_no, "substitution")
        await uow.publish(
            SubstitutionProposed(
                order_id=order_id,
                store_id=order.store_id,
                line_no=line_no,
                substitute=item,
                needs_approval=True,
                deadline=deadline,
                by=by,
            )
        )
    else:
        common: dict[str, Any] = {"order_id": order_id, "store_id": order.store_id, "line_no": line_no}
        await uow.publish(SubstitutionProposed(**common, substitute=item, needs_approval=False, by=by))
        await uow.publish(SubstitutionSettled(**common, accepted=True, price_fen=item.price_fen, decided_by="rule"))
    await check_low_stock(uow, [line.product_id, product_id])
    return SubstituteOffered(line_no, line.state, needs, item.price_fen)


# The shopper's answers


async def _settle_weight(
    uow: InventoryUnitOfWork, order: Reservation, line: Line, accepted: bool, decided_by: str, actor: str
) -> None:
    order_id, line_no = order.order_id, line.line_no
    actual = line.pending_quantity
    charged = line.settle_weight(accepted, timed_out=decided_by == "timeout")
    if line.state is LineState.RESERVED:  # declined: back to the estimate, to be picked again
        await uow.stock.lock([line.product_id])
        await uow.stock.set_hold(
            order_id, line_no, line.product_id, line.quantity, "weight declined: back to the estimate", actor
        )
    await uow.lines.save(line)
    await uow.lines.record(
        order_id,
        line_no,
        actor,
        "weight settled",
        {"accepted": accepted, "decided_by": decided_by, "actual_g": actual, "charged_fen": charged},
    )
    await uow.publish(
        WeightSettled(
            order_id=order_id,
            store_id=order.store_id,
            line_no=line_no,
            approved=accepted,
            charged_fen=charged,
            decided_by=decided_by,
        )
    )
    await check_low_stock(uow, [line.product_id])


async def _settle_substitute(
    uow: InventoryUnitOfWork, order: Reservation, line: Line, accepted: bool, decided_by: str, actor: str
) -> None:
    order_id, line_no = order.order_id, line.line_no
    item = SubstituteItem.model_validate(line.substitute)
    common: dict[str, Any] = {"order_id": order_id, "store_id": order.store_id, "line_no": line_no}
    if accepted:
        settled = SubstitutionSettled(**common, accepted=True, price_fen=item.price_fen, decided_by=decided_by)
    else:
        await uow.stock.lock([item.product_id])
        await uow.stock.release_line(order_id, line_no, "released: substitute declined", actor)
        settled = SubstitutionSettled(**common, accepted=False, refund_fen=line.estimated_fen, decided_by=decided_by)
    line.settle_substitute(accepted, item.quantity, item.price_fen)
    await uow.lines.save(line)
    await uow.lines.record(
        order_id,
        line_no,
        actor,
        "substitute settled",
        {"accepted": accepted, "decided_by": decided_by, "substitute": item.product_id},
    )
    await uow.publish(settled)
    await check_low_stock(uow, [item.product_id])


async def _pending_line(uow: InventoryUnitOfWork, order_id: str, line_no: int) -> tuple[Reservation, Line] | None:
    """The order and its line, while the order is still being picked."""
    order = await uow.reservations.get(order_id, for_update=True)
    line = await uow.lines.get(order_id, line_no) if order is not None else None
    if order is None or line is None or order.status not in (ReservationStatus.ACCEPTED, ReservationStatus.PICKING):
        return None
    return order, line


async def on_approval_given(uow: InventoryUnitOfWork, event: ApprovalGiven) -> None:
    """The shopper answered; the first answer wins, anything after it (or after the deadline) is ignored."""
    found = await _pending_line(uow, event.order_id, event.line_no)
    if found is None:
        log.info("approval for %s line %s ignored: no such line being picked", event.order_id, event.line_no)
        return
    order, line = found
    if event.kind is ApprovalKind.WEIGHT and line.state is LineState.WEIGHT_PENDING:
        await _settle_weight(uow, order, line, event.accepted, "shopper", event.by)
    elif event.kind is ApprovalKind.SUBSTITUTION and line.state is LineState.SUBSTITUTE_PENDING:
        await _settle_substitute(uow, order, line, event.accepted, "shopper", event.by)
    else:
        log.info("approval for %s line %s ignored: the line is %s", event.order_id, event.line_no, line.state.value)
        return
    await uow.cancel_deadline(APPROVAL_DEADLINE, approval_key(event.order_id, event.line_no))


async def on_approval_deadline(uow: InventoryUnitOfWork, deadline: Deadline) -> None:
    """No answer in time: a heavy line is charged at its estimate, a substitute is declined."""
    order_id, _, line_no = deadline.key.rpartition(":")
    found = await _pending_line(uow, order_id, int(line_no))
    if found is None:
        return
    order, line = found
    if line.state is LineState.WEIGHT_PENDING:
        await _settle_weight(uow, order, line, False, "timeout", "approval deadline")
    elif line.state is LineState.SUBSTITUTE_PENDING:
        await _settle_substitute(uow, order, line, False, "timeout", "approval deadline")


# Packing


async def _pickup_point(uow: InventoryUnitOfWork, store_id: str) -> PickupPoint:
    store = await uow.locations.get(store_id)
    assert store is not None
    return PickupPoint(location_id=store_id, name_zh=store.name_zh, name_en=store.name_en)


async def pack_part(
    uow: InventoryUnitOfWork, location_id: str, order_id: str, bags: int, weight_g: int, by: str
) -> PackedPart:
    if bags < 0 or weight_g < 0:
        raise Invalid("bags and weight_g cannot be negative")
    order = await _order(uow, location_id, order_id)
    location = await uow.locations.get(location_id)
    if location is not None and location.kind is LocationKind.MARKET:
        raise Invalid(
            "a market order is packed stall by stall: POST /stores/{stall}/orders/{order}/packed for each stall's part"
        )
    parts = await uow.parts.of_order(order_id)
    part = next((p for p in parts if p.location_id == location_id), None)
    if part is None:
        raise NotFound(f"no order {order_id} at {location_id}")
    part.check_packable()
    order.require_working()
    waits = first_unresolved([(ln.line_no, ln.state) for ln in await uow.lines.of_order(order_id, location_id)])
    if waits is not None:
        raise Conflict(f"cannot pack yet: {waits}")
    part.pack(bags, weight_g, by, uow.now())
    await uow.parts.save(part)
    await uow.publish(
        PartPacked(
            order_id=order_id, store_id=order.store_id, location_id=location_id, bags=bags, weight_g=weight_g, by=by
        )
    )
    if not all_packed(parts):
        return PackedPart(order_id, location_id, None)
    return PackedPart(order_id, location_id, await _pack_order(uow, order, parts))


async def _pack_order(uow: InventoryUnitOfWork, order: Reservation, parts: list[Part]) -> Amounts:
    remaining = [p for p in parts if p.live]
    lines = await uow.lines.of_order(order.order_id)
    total = amounts([ln.estimated_fen for ln in lines], [ln.charged_fen for ln in lines])
    packed_lines = []
    for ln in lines:
        product_id, quantity = ln.in_bag()
        packed_lines.append(
            PackedLine(
                line_no=ln.line_no,
                product_id=product_id,
                outcome=packed_outcome(ln.state),
                quantity=quantity,
                price_fen=ln.charged_fen or 0,
            )
        )
    bags = sum(p.bags or 0 for p in remaining)
    weight = sum(p.weight_g or 0 for p in remaining)
    code = new_handover_code()
    order.pack(final_fen=total.final_fen, handover_code=code, bags=bags, weight_g=weight, at=uow.now())
    await uow.reservations.save(order)
    await uow.publish(
        OrderPacked(
            order_id=order.order_id,
            store_id=order.store_id,
            shown_fen=total.shown_fen,
            final_fen=total.final_fen,
            difference_fen=total.difference_fen,
            lines=packed_lines,
            bags=bags,
            weight_g=weight,
            pickup_point=await _pickup_point(uow, order.store_id),
            flags=order.handling,
            handover_code=code,
        )
    )
    return total


# Handing the bag over, and bags that come back


async def _store_order(uow: InventoryUnitOfWork, store_id: str, order_id: str) -> Reservation:
    order = await uow.reservations.get(order_id, for_update=True)
    if order is None or order.store_id != store_id:
        raise NotFound(f"no order {order_id} at store {store_id}")
    return order


async def hand_over(
    uow: InventoryUnitOfWork,
    store_id: str,
    order_id: str,
    code: str,
    to: HandoverTo,
    by: str,
    *,
    cash_collected_fen: int | None = None,
) -> HandedOver:
    """The bag leaves the shop. A pay-on-delivery order the shopper collects (no rider came) is
    paid here, so the counter records the cash it took."""
    order = await _store_order(uow, store_id, order_id)
    cash_due_here = order.check_handover(code, to, cash_collected_fen)
    holds = await uow.stock.holds(order_id)
    await uow.stock.lock(h.product_id for h in holds)
    for line_no in sorted({h.line_no for h in holds}):
        await uow.stock.commit_line(order_id, line_no, f"handed over to the {to.value}", by)
    order.hand_over(to, by, uow.now())
    await uow.reservations.save(order)
    await uow.publish(
        OrderHandedOver(
            order_id=order_id,
            store_id=store_id,
            to=to,
            by=by,
            cash_collected_fen=cash_collected_fen if cash_due_here else None,
        )
    )
    return HandedOver(order_id, to)


async def hand_over_at_counter(
    uow: InventoryUnitOfWork,
    store_id: str,
    order_id: str,
    code: str,
    to: HandoverTo,
    by: str,
    *,
    cash_collected_fen: int | None = None,
) -> HandedOver:
    """The counter enters the code the shopper or rider shows, under the guessing limits
    (shared/attempts.py): a lockout goes to orders' timeline and dispatch's board."""

    async def locked_out(lock: Lockout) -> None:
        await uow.publish(
            HandoverCodeLockedOut(
                order_id=order_id, store_id=store_id, by=by, wrong_tries=lock.wrong_tries, until=lock.until
            )
        )

    guard = code_guard(
        uow, uow.policy.code_limits, "handover", order_id, subject=by, what=f"order {order_id}", on_lockout=locked_out
    )
    async with guard:
        return await hand_over(uow, store_id, order_id, code, to, by, cash_collected_fen=cash_collected_fen)


def _check_returned_lines(bag: dict[int, tuple[str, int]], returned: list[ReturnedLine]) -> None:
    given = [r.line_no for r in returned]
    if len(set(given)) != len(given):
        raise Invalid("each line may be listed once")
    unknown = sorted(set(given) - set(bag))
    if unknown:
        raise Invalid(f"line(s) {unknown} did not leave the shop in this bag; the bag holds lines {sorted(bag)}")
    missing = sorted(set(bag) - set(given))
    if missing:
        raise Invalid(f"say what happened to every line in the bag: missing line(s) {missing}")
    for r in returned:
        _, quantity = bag[r.line_no]
        if r.restocked + r.written_off != quantity:
            raise Invalid(
                f"line {r.line_no}: restocked {r.restocked} + written off {r.written_off} must equal "
                f"the {quantity} that left the shop"
            )
        if r.written_off and not r.reason.strip():
            raise Invalid(f"line {r.line_no}: say why goods are written off (reason)")


async def return_bag(
    uow: InventoryUnitOfWork, store_id: str, order_id: str, returned: list[ReturnedLine], by: str
) -> Returned:
    """The bag is back: each line restocked or written off (with why), and the whole final amount refunded."""
    order = await _store_order(uow, store_id, order_id)
    order.check_return()
    bag = {ln.line_no: ln.in_bag() for ln in await uow.lines.of_order(order_id) if ln.in_bag()[1] > 0}
    _check_returned_lines(bag, returned)
    uncollected = order.uncollected
    await uow.stock.lock(pid for pid, _ in bag.values())
    for r in returned:
        product_id, _ = bag[r.line_no]
        why = f"returned: {r.reason}" if r.reason else "returned"
        if uncollected:  # never left: the holds are still live
            if r.written_off:
                await uow.stock.commit_line(order_id, r.line_no, f"written off: {r.reason}", by, r.written_off)
            await uow.stock.release_line(order_id, r.line_no, why, by)
        else:
            if r.restocked:
                await uow.stock.change_on_hand(product_id, r.restocked, why, by, order_id)
            if r.written_off:
                await uow.stock.note(product_id, f"written off {r.written_off}: {r.reason}", by, order_id)
        await uow.lines.record(order_id, r.line_no, by, "returned", r.model_dump(mode="json"))
    # Lines that had nothing in the bag still hold nothing; anything left is released.
    order.return_bag(uow.now())
    await uow.reservations.save(order)
    refund = int(order.final_fen or 0)
    await uow.publish(BagReturned(order_id=order_id, store_id=store_id, lines=returned, refund_fen=refund, by=by))
    await check_low_stock(uow, [pid for pid, _ in bag.values()])
    return Returned(order_id, refund)


# The rider's pickup, reported by dispatch


async def on_delivery_picked_up(uow: InventoryUnitOfWork, event: DeliveryPickedUp) -> None:
    """The rider took the bag with the shop's code: the same as the counter's handover to a rider.

    Already handed to a rider (counter staff entered the code first, or a redelivery): nothing to
    do. Anything that can never be applied (a wrong code, an order released or never packed) is a
    PermanentError, so the event is dead-lettered with the reason rather than retried.
    """
    order = await uow.reservations.get(event.order_id, for_update=True)
    if order is None:
        raise PermanentError(f"rider {event.rider_id} picked up order {event.order_id}, which inventory does not know")
    if order.handed_over_to is HandoverTo.RIDER:
        log.info("pickup of %s by rider %s: already handed over to a rider", event.order_id, event.rider_id)
        return
    try:
        await hand_over(uow, order.store_id, event.order_id, event.handover_code, HandoverTo.RIDER, event.rider_id)
    except WrongCode as e:
        raise PermanentError(
            f"rider {event.rider_id} picked up order {event.order_id} with a wrong handover "
            "code; nothing was handed over, the stock is still reserved"
        ) from e
    except Invalid as e:
        raise PermanentError(f"rider {event.rider_id} picked up order {event.order_id}: {e}") from e
    except (Conflict, NotFound) as e:
        raise PermanentError(f"rider {event.rider_id} picked up order {event.order_id}, but {e}") from e


async def on_pickup_choice_made(uow: InventoryUnitOfWork, event: PickupChoiceMade) -> None:
    """The shopper chose to collect instead of waiting for a rider: a pickup order from now on."""
    if not event.accepted:
        return
    order = await uow.reservations.get(event.order_id, for_update=True)
    if order is not None and order.collect_instead():
        await uow.reservations.save(order)
