"""From an accepted order to a packed bag, its handover and its return.

Every use case locks the order first (one thing at a time happens to an order), then the stock
rows it touches in id order. Each line ends picked, out of stock or substituted; questions for
the shopper (a heavy weighed line, a substitute outside their preference) wait for their answer
or a deadline, whichever comes first. The bag is packed part by part; the order is packed when
every remaining part is, and leaves the shop only against its handover code.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from services.inventory.domain.fulfilment import (
    LIVE_PARTS,
    BadRequest,
    FulfilmentRefused,
    NotFound,
    PartStatus,
    all_packed,
    amounts,
    approval_key,
    code_matches,
    new_handover_code,
)
from services.inventory.domain.picking import (
    LineState,
    check_weight,
    first_unresolved,
    packed_outcome,
    picked_quantity,
    substitute_needs_approval,
)
from services.inventory.domain.stock import ReservationStatus
from services.inventory.service_layer.policy import Policy, now
from services.inventory.service_layer.reservations import APPROVAL_DEADLINE
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.deadlines import Deadline
from shared.events.contracts import (
    ApprovalGiven,
    ApprovalKind,
    BagReturned,
    DeliveryPickedUp,
    HandlingFlags,
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
    SubstitutionMode,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.inbox import PermanentError
from shared.vocabulary.money import divide_half_up
from shared.vocabulary.units import StockUnit, line_price

log = logging.getLogger(__name__)

WORKING = (ReservationStatus.ACCEPTED.value, ReservationStatus.PICKING.value)


# Finding what the caller may act on


async def _order(uow: UnitOfWork, location_id: str, order_id: str) -> Any:
    order = await uow.fulfilment.order(order_id, for_update=True)
    if order is None:
        raise NotFound(f"no order {order_id} at {location_id}")
    return order


async def _parts_at(uow: UnitOfWork, order: Any, location_id: str) -> list[Any]:
    parts = [
        p for p in await uow.fulfilment.parts(order["order_id"]) if location_id in (order["store_id"], p["location_id"])
    ]
    if not parts:
        raise NotFound(f"no order {order['order_id']} at {location_id}")
    return parts


def _require_working(order: Any) -> None:
    if order["status"] == ReservationStatus.HELD.value:
        raise FulfilmentRefused(
            "the order is not accepted yet: every shop or stall in it must accept before picking starts"
        )
    if order["status"] not in WORKING:
        raise FulfilmentRefused(
            f"the order is {order['status']}; lines can be picked only while it is accepted or being picked"
        )


async def _start_parts(uow: UnitOfWork, order: Any, parts: list[Any], by: str) -> None:
    """Picking starts for these accepted parts; the order's first start tells orders (cancel is refused after)."""
    for part in parts:
        if part["status"] == PartStatus.ACCEPTED.value:
            await uow.fulfilment.set_part(order["order_id"], part["location_id"], PartStatus.PICKING)
    if order["status"] == ReservationStatus.ACCEPTED.value:
        await uow.fulfilment.set_status(order["order_id"], ReservationStatus.PICKING.value)
        await uow.publish(
            PickingStarted(
                order_id=order["order_id"], store_id=order["store_id"], location_id=parts[0]["location_id"], by=by
            )
        )


async def start_picking(uow: UnitOfWork, location_id: str, order_id: str, by: str) -> dict[str, Any]:
    order = await _order(uow, location_id, order_id)
    parts = [
        p
        for p in await _parts_at(uow, order, location_id)
        if p["status"] in (PartStatus.ACCEPTED.value, PartStatus.PICKING.value)
    ]
    _require_working(order)
    if not parts:
        raise FulfilmentRefused(f"nothing of order {order_id} at {location_id} is accepted and waiting to be picked")
    await _start_parts(uow, order, parts, by)
    return {"order_id": order_id, "picking": [p["location_id"] for p in parts]}


async def _line(uow: UnitOfWork, location_id: str, order_id: str, line_no: int, by: str) -> tuple[Any, Any]:
    """The order and the line, once the line is the caller's and its part is being picked."""
    order = await _order(uow, location_id, order_id)
    line = await uow.fulfilment.line(order_id, line_no)
    if line is None or location_id not in (line["location_id"], order["store_id"]):
        raise NotFound(f"order {order_id} has no line {line_no} at {location_id}")
    part = next(p for p in await uow.fulfilment.parts(order_id) if p["location_id"] == line["location_id"])
    if part["status"] not in (PartStatus.ACCEPTED.value, PartStatus.PICKING.value):
        raise FulfilmentRefused(f"line {line_no} belongs to {line['location_id']}'s part, which is {part['status']}")
    _require_working(order)
    if part["status"] == PartStatus.ACCEPTED.value:
        await _start_parts(uow, order, [part], by)
    return order, line


def _in_state(line: Any, *states: LineState) -> None:
    if LineState(line["state"]) not in states:
        raise FulfilmentRefused(
            f"line {line['line_no']} is {line['state']}; this is possible only while it is "
            f"{' or '.join(s.value for s in states)}"
        )


def _price(line: Any, quantity: int) -> int:
    """The line's price for `quantity` at the price the shopper was shown when ordering."""
    unit = StockUnit(line["unit"])
    if line["unit_price_fen"]:
        return line_price(unit, line["unit_price_fen"], quantity)
    return divide_half_up(line["estimated_fen"] * quantity, line["quantity"])  # older orders without a unit price


async def _tolerance(uow: UnitOfWork, location_id: str, policy: Policy) -> float:
    location = await uow.inventory.location(location_id)
    pct = location["weight_tolerance_pct"] if location is not None else None
    return float(pct) if pct is not None else policy.weight_tolerance_pct


# Picking a line


async def pick_line(
    uow: UnitOfWork, location_id: str, order_id: str, line_no: int, weight_g: int | None, by: str, policy: Policy
) -> dict[str, Any]:
    order, line = await _line(uow, location_id, order_id, line_no, by)
    _in_state(line, LineState.RESERVED)
    unit = StockUnit(line["unit"])
    quantity = picked_quantity(unit, line["quantity"], weight_g, line_no)
    await uow.stock.lock([line["product_id"]])
    await uow.stock.set_hold(
        order_id, line_no, line["product_id"], quantity, "weighed" if unit is StockUnit.GRAM else "picked", by
    )
    price = _price(line, quantity)
    common = {"order_id": order_id, "store_id": order["store_id"], "line_no": line_no}
    if unit is StockUnit.GRAM:
        check = check_weight(line["quantity"], quantity, await _tolerance(uow, line["location_id"], policy))
        await uow.fulfilment.record(
            order_id,
            line_no,
            by,
            "weighed",
            {"estimated_g": line["quantity"], "actual_g": quantity, "over_pct": check.over_pct, "price_fen": price},
        )
        if check.needs_approval:
            deadline = now() + timedelta(seconds=policy.approval_limit_s)
            await uow.fulfilment.set_line(order_id, line_no, LineState.WEIGHT_PENDING, pending_quantity=quantity)
            await uow.schedule(
                Deadline(
                    APPROVAL_DEADLINE,
                    approval_key(order_id, line_no),
                    deadline,
                    {"order_id": order_id, "line_no": line_no, "kind": "weight"},
                )
            )
            await uow.publish(
                WeightApprovalRequested(
                    **common,
                    estimated_quantity=line["quantity"],
                    actual_quantity=quantity,
                    over_pct=check.over_pct,
                    estimated_fen=line["estimated_fen"],
                    actual_fen=price,
                    deadline=deadline,
                )
            )
            await check_low_stock(uow, [line["product_id"]])
            return {
                "line_no": line_no,
                "state": LineState.WEIGHT_PENDING.value,
                "over_pct": check.over_pct,
                "price_fen": price,
                "approval_deadline": deadline.isoformat(),
            }
    else:
        await uow.fulfilment.record(order_id, line_no, by, "picked", {"quantity": quantity, "price_fen": price})
    await uow.fulfilment.set_line(order_id, line_no, LineState.PICKED, picked_quantity=quantity, charged_fen=price)
    await uow.publish(
        LinePicked(**common, quantity=quantity, price_fen=price, estimated_fen=line["estimated_fen"], by=by)
    )
    await check_low_stock(uow, [line["product_id"]])
    return {"line_no": line_no, "state": LineState.PICKED.value, "quantity": quantity, "price_fen": price}


async def out_of_stock(uow: UnitOfWork, location_id: str, order_id: str, line_no: int, by: str) -> dict[str, Any]:
    order, line = await _line(uow, location_id, order_id, line_no, by)
    _in_state(line, LineState.RESERVED)
    await uow.stock.lock([line["product_id"]])
    await uow.stock.release_line(order_id, line_no, "released: out of stock", by)
    await uow.fulfilment.set_line(order_id, line_no, LineState.OUT_OF_STOCK, charged_fen=0)
    await uow.fulfilment.record(order_id, line_no, by, "out of stock", {"refund_fen": line["estimated_fen"]})
    await uow.publish(
        LineOutOfStock(
            order_id=order_id, store_id=order["store_id"], line_no=line_no, refund_fen=line["estimated_fen"], by=by
        )
    )
    await check_low_stock(uow, [line["product_id"]])
    return {"line_no": line_no, "state": LineState.OUT_OF_STOCK.value, "refund_fen": line["estimated_fen"]}


async def substitute(
    uow: UnitOfWork,
    location_id: str,
    order_id: str,
    line_no: int,
    product_id: str,
    quantity: int,
    by: str,
    policy: Policy,
) -> dict[str, Any]:
    """Offer another product for a line: reserved at once, the original released; the preference decides."""
    if quantity <= 0:
        raise BadRequest("the substitute's quantity must be at least 1 (pieces, or grams for weighed goods)")
    order, line = await _line(uow, location_id, order_id, line_no, by)
    _in_state(line, LineState.RESERVED)
    product = await uow.inventory.product(product_id)
    if product is None:
        raise BadRequest(f"unknown product {product_id!r}")
    if product_id == line["product_id"]:
        raise BadRequest(f"{product_id} is the product ordered: record it as picked instead")
    if product["location_id"] != line["location_id"]:
        raise BadRequest(
            f"a substitute must come from the shop or stall that fulfils the line "
            f"({line['location_id']}); {product_id} is sold by {product['location_id']}"
        )
    if not product["active"]:
        raise BadRequest(f"{product_id} is not on sale (inactive)")
    await uow.stock.lock([line["product_id"], product_id])
    await uow.stock.release_line(order_id, line_no, "released: substituted", by)
    await uow.stock.set_hold(order_id, line_no, product_id, quantity, f"substitute for line {line_no}", by)
    item = SubstituteItem(
        product_id=product_id,
        location_id=product["location_id"],
        name_zh=product["name_zh"],
        name_en=product["name_en"],
        unit=StockUnit(product["unit"]),
        quantity=quantity,
        price_fen=line_price(StockUnit(product["unit"]), product["price_fen"], quantity),
    )
    preference = line["substitution"] or {}
    needs = substitute_needs_approval(
        SubstitutionMode(preference.get("mode", "none")), preference.get("product_id"), product_id
    )
    await uow.fulfilment.record(
        order_id,
        line_no,
        by,
        "substitute proposed",
        {
            "original": line["product_id"],
            "substitute": item.model_dump(mode="json"),
            "needs_approval": needs,
            "preference": preference,
        },
    )
    common = {"order_id": order_id, "store_id": order["store_id"], "line_no": line_no}
    sub = item.model_dump(mode="json")
    if needs:
        deadline = now() + timedelta(seconds=policy.approval_limit_s)
        await uow.fulfilment.set_line(order_id, line_no, LineState.SUBSTITUTE_PENDING, substitute=sub)
        await uow.schedule(
            Deadline(
                APPROVAL_DEADLINE,
                approval_key(order_id, line_no),
                deadline,
                {"order_id": order_id, "line_no": line_no, "kind": "substitution"},
            )
        )
        await uow.publish(
            SubstitutionProposed(**common, substitute=item, needs_approval=True, deadline=deadline, by=by)
        )
        state = LineState.SUBSTITUTE_PENDING
    else:
        await uow.fulfilment.set_line(
            order_id,
            line_no,
            LineState.SUBSTITUTED,
            substitute=sub,
            picked_quantity=quantity,
            charged_fen=item.price_fen,
        )
        await uow.publish(SubstitutionProposed(**common, substitute=item, needs_approval=False, by=by))
        await uow.publish(SubstitutionSettled(**common, accepted=True, price_fen=item.price_fen, decided_by="rule"))
        state = LineState.SUBSTITUTED
    await check_low_stock(uow, [line["product_id"], product_id])
    return {"line_no": line_no, "state": state.value, "needs_approval": needs, "price_fen": item.price_fen}


# The shopper's answers


async def _settle_weight(uow: UnitOfWork, order: Any, line: Any, accepted: bool, decided_by: str, actor: str) -> None:
    order_id, line_no = order["order_id"], line["line_no"]
    actual = line["pending_quantity"]
    common = {"order_id": order_id, "store_id": order["store_id"], "line_no": line_no}
    if accepted:
        charged = _price(line, actual)
        await uow.fulfilment.set_line(
            order_id, line_no, LineState.PICKED, picked_quantity=actual, pending_quantity=None, charged_fen=charged
        )
    elif decided_by == "timeout":  # the heavy piece goes, at the price of the estimate
        charged = line["estimated_fen"]
        await uow.fulfilment.set_line(
            order_id, line_no, LineState.PICKED, picked_quantity=actual, pending_quantity=None, charged_fen=charged
        )
    else:  # back to the shelf: pick a lighter piece, or mark it out of stock
        charged = 0
        await uow.stock.lock([line["product_id"]])
        await uow.stock.set_hold(
            order_id, line_no, line["product_id"], line["quantity"], "weight declined: back to the estimate", actor
        )
        await uow.fulfilment.set_line(order_id, line_no, LineState.RESERVED, pending_quantity=None)
    await uow.fulfilment.record(
        order_id,
        line_no,
        actor,
        "weight settled",
        {"accepted": accepted, "decided_by": decided_by, "actual_g": actual, "charged_fen": charged},
    )
    await uow.publish(WeightSettled(**common, approved=accepted, charged_fen=charged, decided_by=decided_by))
    await check_low_stock(uow, [line["product_id"]])


async def _settle_substitute(
    uow: UnitOfWork, order: Any, line: Any, accepted: bool, decided_by: str, actor: str
) -> None:
    order_id, line_no = order["order_id"], line["line_no"]
    item = SubstituteItem.model_validate(line["substitute"])
    common = {"order_id": order_id, "store_id": order["store_id"], "line_no": line_no}
    if accepted:
        await uow.fulfilment.set_line(
            order_id, line_no, LineState.SUBSTITUTED, picked_quantity=item.quantity, charged_fen=item.price_fen
        )
        settled = SubstitutionSettled(**common, accepted=True, price_fen=item.price_fen, decided_by=decided_by)
    else:
        await uow.stock.lock([item.product_id])
        await uow.stock.release_line(order_id, line_no, "released: substitute declined", actor)
        await uow.fulfilment.set_line(order_id, line_no, LineState.REFUNDED, charged_fen=0)
        settled = SubstitutionSettled(**common, accepted=False, refund_fen=line["estimated_fen"], decided_by=decided_by)
    await uow.fulfilment.record(
        order_id,
        line_no,
        actor,
        "substitute settled",
        {"accepted": accepted, "decided_by": decided_by, "substitute": item.product_id},
    )
    await uow.publish(settled)
    await check_low_stock(uow, [item.product_id])


async def on_approval_given(uow: UnitOfWork, event: ApprovalGiven) -> None:
    """The shopper answered; the first answer wins, anything after it (or after the deadline) is ignored."""
    order = await uow.fulfilment.order(event.order_id, for_update=True)
    line = await uow.fulfilment.line(event.order_id, event.line_no) if order is not None else None
    if order is None or line is None or order["status"] not in WORKING:
        log.info("approval for %s line %s ignored: no such line being picked", event.order_id, event.line_no)
        return
    state = LineState(line["state"])
    if event.kind is ApprovalKind.WEIGHT and state is LineState.WEIGHT_PENDING:
        await _settle_weight(uow, order, line, event.accepted, "shopper", event.by)
    elif event.kind is ApprovalKind.SUBSTITUTION and state is LineState.SUBSTITUTE_PENDING:
        await _settle_substitute(uow, order, line, event.accepted, "shopper", event.by)
    else:
        log.info("approval for %s line %s ignored: the line is %s", event.order_id, event.line_no, state.value)
        return
    await uow.cancel_deadline(APPROVAL_DEADLINE, approval_key(event.order_id, event.line_no))


async def on_approval_deadline(uow: UnitOfWork, deadline: Deadline) -> None:
    """No answer in time: a heavy line is charged at its estimate, a substitute is declined."""
    order_id, _, line_no = deadline.key.rpartition(":")
    order = await uow.fulfilment.order(order_id, for_update=True)
    line = await uow.fulfilment.line(order_id, int(line_no)) if order is not None else None
    if order is None or line is None or order["status"] not in WORKING:
        return
    state = LineState(line["state"])
    if state is LineState.WEIGHT_PENDING:
        await _settle_weight(uow, order, line, False, "timeout", "approval deadline")
    elif state is LineState.SUBSTITUTE_PENDING:
        await _settle_substitute(uow, order, line, False, "timeout", "approval deadline")


# Packing


async def _pickup_point(uow: UnitOfWork, store_id: str) -> PickupPoint:
    store = await uow.inventory.location(store_id)
    assert store is not None
    return PickupPoint(location_id=store_id, name_zh=store["name_zh"], name_en=store["name_en"])


def _in_bag(line: Any) -> tuple[str, int]:
    """The product that is in the bag for a line, and how much of it (in its unit)."""
    if LineState(line["state"]) is LineState.SUBSTITUTED:
        return str(line["substitute"]["product_id"]), int(line["picked_quantity"])
    if LineState(line["state"]) is LineState.PICKED:
        return str(line["product_id"]), int(line["picked_quantity"])
    return str(line["product_id"]), 0


async def pack_part(
    uow: UnitOfWork, location_id: str, order_id: str, bags: int, weight_g: int, by: str
) -> dict[str, Any]:
    if bags < 0 or weight_g < 0:
        raise BadRequest("bags and weight_g cannot be negative")
    order = await _order(uow, location_id, order_id)
    location = await uow.inventory.location(location_id)
    if location is not None and location["kind"] == "market":
        raise BadRequest(
            "a market order is packed stall by stall: POST /stores/{stall}/orders/{order}/packed for each stall's part"
        )
    parts = await uow.fulfilment.parts(order_id)
    part = next((p for p in parts if p["location_id"] == location_id), None)
    if part is None:
        raise NotFound(f"no order {order_id} at {location_id}")
    if part["status"] == PartStatus.PACKED.value:
        raise FulfilmentRefused(f"{location_id}'s part of order {order_id} is already packed")
    if part["status"] not in (PartStatus.ACCEPTED.value, PartStatus.PICKING.value):
        raise FulfilmentRefused(f"{location_id}'s part of order {order_id} is {part['status']}; it cannot be packed")
    _require_working(order)
    lines = await uow.fulfilment.lines(order_id, location_id)
    waits = first_unresolved([(ln["line_no"], LineState(ln["state"])) for ln in lines])
    if waits is not None:
        raise FulfilmentRefused(f"cannot pack yet: {waits}")
    at = now()
    await uow.fulfilment.set_part(
        order_id, location_id, PartStatus.PACKED, bags=bags, weight_g=weight_g, packed_by=by, packed_at=at
    )
    await uow.publish(
        PartPacked(
            order_id=order_id, store_id=order["store_id"], location_id=location_id, bags=bags, weight_g=weight_g, by=by
        )
    )
    parts = await uow.fulfilment.parts(order_id)
    if not all_packed(await uow.fulfilment.part_states(order_id)):
        return {"order_id": order_id, "part": location_id, "packed": True, "order_packed": False}
    return {
        "order_id": order_id,
        "part": location_id,
        "packed": True,
        "order_packed": True,
        **await _pack_order(uow, order, parts),
    }


async def _pack_order(uow: UnitOfWork, order: Any, parts: list[Any]) -> dict[str, Any]:
    order_id = order["order_id"]
    remaining = [p for p in parts if PartStatus(p["status"]) in LIVE_PARTS]
    lines = await uow.fulfilment.lines(order_id)
    total = amounts([ln["estimated_fen"] for ln in lines], [ln["charged_fen"] for ln in lines])
    packed_lines = []
    for ln in lines:
        product_id, quantity = _in_bag(ln)
        packed_lines.append(
            PackedLine(
                line_no=ln["line_no"],
                product_id=product_id,
                outcome=packed_outcome(LineState(ln["state"])),
                quantity=quantity,
                price_fen=ln["charged_fen"] or 0,
            )
        )
    bags = sum(p["bags"] or 0 for p in remaining)
    weight = sum(p["weight_g"] or 0 for p in remaining)
    code = new_handover_code()
    await uow.fulfilment.update_order(
        order_id,
        status=ReservationStatus.PACKED.value,
        final_fen=total.final_fen,
        handover_code=code,
        bags=bags,
        weight_g=weight,
        packed_at=now(),
    )
    await uow.publish(
        OrderPacked(
            order_id=order_id,
            store_id=order["store_id"],
            shown_fen=total.shown_fen,
            final_fen=total.final_fen,
            difference_fen=total.difference_fen,
            lines=packed_lines,
            bags=bags,
            weight_g=weight,
            pickup_point=await _pickup_point(uow, order["store_id"]),
            flags=HandlingFlags.model_validate(order["flags"] or {}),
            handover_code=code,
        )
    )
    return {"final_fen": total.final_fen, "shown_fen": total.shown_fen, "difference_fen": total.difference_fen}


# Handover and returns


async def _store_order(uow: UnitOfWork, store_id: str, order_id: str) -> Any:
    order = await uow.fulfilment.order(order_id, for_update=True)
    if order is None or order["store_id"] != store_id:
        raise NotFound(f"no order {order_id} at store {store_id}")
    return order


async def hand_over(
    uow: UnitOfWork,
    store_id: str,
    order_id: str,
    code: str,
    to: HandoverTo,
    by: str,
    cash_collected_fen: int | None = None,
) -> dict[str, Any]:
    """The bag leaves the shop. A pay-on-delivery order the shopper collects (no rider came) is
    paid here, so the counter records the cash it took."""
    order = await _store_order(uow, store_id, order_id)
    if order["status"] != ReservationStatus.PACKED.value:
        raise FulfilmentRefused(f"the order is {order['status']}; only a packed order can be handed over")
    if to is HandoverTo.RIDER and order["fulfilment_mode"] == "pickup":
        raise BadRequest("this order is for pickup: the shopper collects it (to: shopper)")
    if not code_matches(order["handover_code"], code):
        raise BadRequest("wrong handover code; nothing was handed over")
    cash_due_here = to is HandoverTo.SHOPPER and bool((order["flags"] or {}).get("pay_on_delivery"))
    if cash_due_here and cash_collected_fen is None:
        raise BadRequest(
            "this order is paid in cash when it is collected: take the amount due (the shopper's "
            "app shows it) and enter it as cash_collected_fen"
        )
    holds = await uow.stock.holds(order_id)
    await uow.stock.lock([h["product_id"] for h in holds])
    for line_no in sorted({h["line_no"] for h in holds}):
        await uow.stock.commit_line(order_id, line_no, f"handed over to the {to.value}", by)
    await uow.fulfilment.update_order(
        order_id,
        status=ReservationStatus.COMMITTED.value,
        handed_over_to=to.value,
        handed_over_by=by,
        handed_over_at=now(),
    )
    await uow.publish(
        OrderHandedOver(
            order_id=order_id,
            store_id=store_id,
            to=to,
            by=by,
            cash_collected_fen=cash_collected_fen if cash_due_here else None,
        )
    )
    return {"order_id": order_id, "handed_over_to": to.value}


def _may_return(order: Any) -> None:
    if order["status"] == ReservationStatus.COMMITTED.value and order["handed_over_to"] == HandoverTo.RIDER.value:
        return
    if order["status"] == ReservationStatus.PACKED.value and order["fulfilment_mode"] == "pickup":
        return
    raise FulfilmentRefused(
        f"the order is {order['status']}"
        + (f" (handed to the {order['handed_over_to']})" if order["handed_over_to"] else "")
        + "; a bag can be returned after handover to a rider, or when a packed pickup order "
        "was never collected"
    )


async def return_bag(
    uow: UnitOfWork, store_id: str, order_id: str, returned: list[ReturnedLine], by: str
) -> dict[str, Any]:
    """The bag is back: each line restocked or written off (with why), and the whole final amount refunded."""
    order = await _store_order(uow, store_id, order_id)
    _may_return(order)
    bag = {ln["line_no"]: _in_bag(ln) for ln in await uow.fulfilment.lines(order_id) if _in_bag(ln)[1] > 0}
    given = [r.line_no for r in returned]
    if len(set(given)) != len(given):
        raise BadRequest("each line may be listed once")
    unknown = sorted(set(given) - set(bag))
    if unknown:
        raise BadRequest(f"line(s) {unknown} did not leave the shop in this bag; the bag holds lines {sorted(bag)}")
    missing = sorted(set(bag) - set(given))
    if missing:
        raise BadRequest(f"say what happened to every line in the bag: missing line(s) {missing}")
    for r in returned:
        _, quantity = bag[r.line_no]
        if r.restocked + r.written_off != quantity:
            raise BadRequest(
                f"line {r.line_no}: restocked {r.restocked} + written off {r.written_off} must equal "
                f"the {quantity} that left the shop"
            )
        if r.written_off and not r.reason.strip():
            raise BadRequest(f"line {r.line_no}: say why goods are written off (reason)")
    uncollected = order["status"] == ReservationStatus.PACKED.value
    await uow.stock.lock([pid for pid, _ in bag.values()])
    for r in returned:
        product_id, quantity = bag[r.line_no]
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
        await uow.fulfilment.record(order_id, r.line_no, by, "returned", r.model_dump(mode="json"))
    # Lines that had nothing in the bag still hold nothing; anything left is released.
    await uow.fulfilment.update_order(order_id, status=ReservationStatus.RETURNED.value, returned_at=now())
    refund = int(order["final_fen"] or 0)
    await uow.publish(BagReturned(order_id=order_id, store_id=store_id, lines=returned, refund_fen=refund, by=by))
    await check_low_stock(uow, [pid for pid, _ in bag.values()])
    return {"order_id": order_id, "refund_fen": refund}


# The rider's pickup, reported by dispatch


async def on_delivery_picked_up(uow: UnitOfWork, event: DeliveryPickedUp) -> None:
    """The rider took the bag with the shop's code: the same as the counter's handover to a rider.

    Already handed to a rider (counter staff entered the code first, or a redelivery): nothing to
    do. Anything that can never be applied (a wrong code, an order released or never packed) is a
    PermanentError, so the event is dead-lettered with the reason rather than retried.
    """
    order = await uow.fulfilment.order(event.order_id, for_update=True)
    if order is None:
        raise PermanentError(f"rider {event.rider_id} picked up order {event.order_id}, which inventory does not know")
    if order["handed_over_to"] == HandoverTo.RIDER.value:
        log.info("pickup of %s by rider %s: already handed over to a rider", event.order_id, event.rider_id)
        return
    try:
        await hand_over(uow, order["store_id"], event.order_id, event.handover_code, HandoverTo.RIDER, event.rider_id)
    except BadRequest as e:
        if "wrong handover code" in str(e):
            raise PermanentError(
                f"rider {event.rider_id} picked up order {event.order_id} with a wrong handover "
                "code; nothing was handed over, the stock is still reserved"
            ) from e
        raise PermanentError(f"rider {event.rider_id} picked up order {event.order_id}: {e}") from e
    except (FulfilmentRefused, NotFound) as e:
        raise PermanentError(f"rider {event.rider_id} picked up order {event.order_id}, but {e}") from e


async def on_pickup_choice_made(uow: UnitOfWork, event: PickupChoiceMade) -> None:
    """The shopper chose to collect instead of waiting for a rider: a pickup order from now on."""
    if not event.accepted:
        return
    order = await uow.fulfilment.order(event.order_id, for_update=True)
    if order is None or order["status"] in (
        ReservationStatus.RELEASED.value,
        ReservationStatus.COMMITTED.value,
        ReservationStatus.RETURNED.value,
    ):
        return
    await uow.fulfilment.update_order(event.order_id, fulfilment_mode="pickup")
