"""What the shop did with an order, as the shopper sees it: parts accepted, lines picked, the bag.

Inventory owns fulfilment and reports facts (docs/fulfilment.md); these functions apply one
fact to the order, move it along the shared transition table where the fact means a move, and
put every fact on the timeline with its time and cause. A fact that no longer fits (the
order was cancelled meanwhile, a line it does not have) is kept on the timeline and changes
nothing: a late event must never crash a consumer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from services.orders.domain.lines import (
    REFUNDED,
    LineStatus,
    OrderLine,
    PendingApproval,
    Substitute,
    SubstituteNumbers,
    WeightNumbers,
)
from services.orders.domain.order import Order, Packed
from shared.events.contracts import ApprovalKind, LineOutcome
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.money import format_yuan
from shared.vocabulary.order_status import OrderStatus, can_move

S = OrderStatus
# While the shop still works on the lines: a stall may refuse before the rest accepts.
LINES_OPEN = frozenset({S.CONFIRMED, S.ACCEPTED, S.PICKING})
# Where a rider's bag can be once picked up (dispatch's steps may arrive before the shop's handover).
AFTER_PICKUP = frozenset({S.OUT_FOR_DELIVERY, S.DELIVERED, S.DELIVERY_FAILED, S.IN_LOCKER, S.COLLECTED, S.RETURNED})


def _line(order: Order, line_no: int, what: str, at: datetime) -> OrderLine | None:
    """The line a fact is about, marked changed; None (and a note) when the fact no longer fits."""
    if order.status not in LINES_OPEN:
        order.note_fact(
            at,
            f"{what} for line {line_no} arrived after the order was {order.status.value}; nothing changed",
            {"line_no": line_no},
        )
        return None
    line = order.line(line_no)
    if line is None:
        order.note_fact(
            at, f"{what} for line {line_no}, which this order does not have; nothing changed", {"line_no": line_no}
        )
        return None
    order.changed_lines.add(line_no)
    return line


def _amount(line: OrderLine, quantity: int) -> str:
    return f"{quantity} g" if line.unit == "g" else f"{quantity} × {line.name_en}"


# Accepting, per part and for the whole order


def part_accepted(order: Order, location_id: str, by: str, at: datetime) -> None:
    order.note_fact(at, f"{location_id} accepted its part", {"location_id": location_id, "by": by})


def part_rejected(
    order: Order,
    location_id: str,
    reason: str,
    note: str | None,
    line_nos: list[int],
    refund_fen: int,
    *,
    at: datetime,
) -> None:
    """A stall said no (or let its time pass): its lines are refunded, the rest of the order goes on."""
    if order.status not in LINES_OPEN:
        order.note_fact(
            at,
            f"{location_id} refusing its part arrived after the order was {order.status.value}; nothing changed",
            {"location_id": location_id, "reason": reason},
        )
        return
    refunded = []
    for line_no in line_nos:
        line = order.line(line_no)
        if line is None or line.status in REFUNDED:
            continue
        line.refund(LineStatus.REFUNDED)
        order.changed_lines.add(line_no)
        refunded.append(line_no)
    order.note_fact(
        at,
        f"{location_id} refused its part ({reason}): "
        f"line{'s' if len(line_nos) != 1 else ''} {', '.join(map(str, line_nos))} refunded, "
        f"{format_yuan(refund_fen)}",
        {"location_id": location_id, "reason": reason, "note": note, "line_nos": line_nos, "refund_fen": refund_fen},
    )


def picking_started(order: Order, location_id: str, by: str, at: datetime) -> None:
    """The first part to start moves the order to PICKING; later parts are facts."""
    detail = {"location_id": location_id, "by": by}
    if order.status is S.PICKING:
        order.note_fact(at, f"{location_id} started picking its part", detail)
        return
    order.move_or_note(S.PICKING, at, "the shop started picking", "picking started", detail)


# Picking, line by line


def line_picked(
    order: Order, line_no: int, quantity: int, price_fen: int, estimated_fen: int, *, by: str, at: datetime
) -> None:
    line = _line(order, line_no, "picked", at)
    if line is None:
        return
    line.settle(LineStatus.PICKED, quantity, price_fen)
    detail: dict[str, Any] = {
        "line_no": line_no,
        "product_id": line.product_id,
        "quantity": quantity,
        "unit": line.unit,
        "price_fen": price_fen,
        "estimated_fen": estimated_fen,
        "by": by,
    }
    if line.unit == "g":
        detail["weight_g"] = quantity
    order.note_fact(
        at,
        f"line {line_no} picked: {_amount(line, quantity)}, {format_yuan(price_fen)} "
        f"(shown {format_yuan(estimated_fen)})",
        detail,
    )


def line_out_of_stock(order: Order, line_no: int, refund_fen: int, by: str, at: datetime) -> None:
    line = _line(order, line_no, "out of stock", at)
    if line is None:
        return
    line.refund(LineStatus.OUT_OF_STOCK, refund_fen)
    order.note_fact(
        at,
        f"line {line_no} out of stock: {format_yuan(refund_fen)} refunded",
        {"line_no": line_no, "product_id": line.product_id, "refund_fen": refund_fen, "by": by},
    )


def weight_approval_requested(  # noqa: PLR0913 (the question's figures, each by name)
    order: Order,
    line_no: int,
    *,
    estimated_quantity: int,
    actual_quantity: int,
    over_pct: float,
    estimated_fen: int,
    actual_fen: int,
    deadline: datetime,
    at: datetime,
) -> None:
    line = _line(order, line_no, "a weight question", at)
    if line is None:
        return
    numbers = WeightNumbers(estimated_quantity, actual_quantity, over_pct, estimated_fen, actual_fen)
    line.status = LineStatus.AWAITING_APPROVAL
    line.pending = PendingApproval(ApprovalKind.WEIGHT, deadline, numbers)
    order.note_fact(
        at,
        f"line {line_no} weighs {actual_quantity} g instead of about {estimated_quantity} g "
        f"({format_yuan(actual_fen)} instead of {format_yuan(estimated_fen)}): "
        "waiting for the shopper's approval",
        {"line_no": line_no, **numbers.as_dict(), "deadline": deadline.isoformat()},
    )


def weight_settled(order: Order, line_no: int, approved: bool, charged_fen: int, decided_by: str, at: datetime) -> None:
    """Accepted: charged at the actual weight. No answer: charged at the estimate. Declined: picked again."""
    line = _line(order, line_no, "a weight decision", at)
    if line is None:
        return
    numbers = line.pending.numbers if line.pending else None
    actual = numbers.actual_g if isinstance(numbers, WeightNumbers) else line.final_quantity
    detail: dict[str, Any] = {
        "line_no": line_no,
        "approved": approved,
        "charged_fen": charged_fen,
        "decided_by": decided_by,
    }
    if approved:
        line.settle(LineStatus.PICKED, actual, charged_fen)
        cause = f"line {line_no}: the heavier weight ({actual} g) was accepted, {format_yuan(charged_fen)}"
    elif decided_by == "timeout":
        line.settle(LineStatus.PICKED, actual, charged_fen)
        cause = (
            f"line {line_no}: no answer in time, so {actual} g is charged at the estimate, {format_yuan(charged_fen)}"
        )
    else:
        line.back_to_picking()
        cause = f"line {line_no}: the heavier weight was declined; the shop picks it again"
    order.note_fact(at, cause, detail)


def substitution_proposed(
    order: Order,
    line_no: int,
    substitute: Substitute,
    needs_approval: bool,
    deadline: datetime | None,
    *,
    by: str,
    at: datetime,
) -> None:
    line = _line(order, line_no, "a substitute", at)
    if line is None:
        return
    line.substitute = substitute
    numbers = SubstituteNumbers(substitute, line.estimated_fen, substitute.price_fen)
    detail: dict[str, Any] = {"line_no": line_no, **numbers.as_dict(), "needs_approval": needs_approval, "by": by}
    what = (
        f"line {line_no}: {substitute.name_en} ({substitute.quantity} {substitute.unit}, "
        f"{format_yuan(substitute.price_fen)}) offered instead of {line.name_en}"
    )
    if needs_approval:
        line.status = LineStatus.AWAITING_APPROVAL
        line.pending = PendingApproval(ApprovalKind.SUBSTITUTION, deadline, numbers)
        detail["deadline"] = deadline.isoformat() if deadline else None
        what += ": waiting for the shopper's approval"
    order.note_fact(at, what, detail)


def substitution_settled(
    order: Order, line_no: int, accepted: bool, price_fen: int, refund_fen: int, *, decided_by: str, at: datetime
) -> None:
    line = _line(order, line_no, "a substitution decision", at)
    if line is None:
        return
    detail: dict[str, Any] = {
        "line_no": line_no,
        "accepted": accepted,
        "price_fen": price_fen,
        "refund_fen": refund_fen,
        "decided_by": decided_by,
    }
    sub = line.substitute
    name = sub.name_en if sub else "the substitute"
    if accepted:
        line.settle(LineStatus.SUBSTITUTED, sub.quantity if sub else None, price_fen)
        line.substitute = replace(sub, accepted=True, price_fen=price_fen) if sub else None
        cause = f"line {line_no} is now {name}, {format_yuan(price_fen)} ({_decided(decided_by)})"
    else:
        line.refund(LineStatus.REFUNDED, refund_fen)
        line.substitute = replace(sub, accepted=False) if sub else None
        cause = f"line {line_no}: {name} declined ({_decided(decided_by)}); {format_yuan(refund_fen)} refunded"
    order.note_fact(at, cause, detail)


def _decided(by: str) -> str:
    return {
        "rule": "within the shopper's preference",
        "shopper": "the shopper decided",
        "timeout": "no answer in time",
    }.get(by, f"decided by {by}")


# Packing and handing over


def part_packed(order: Order, location_id: str, bags: int, weight_g: int, by: str, at: datetime) -> None:
    order.note_fact(
        at,
        f"{location_id} packed its part: {bags} bag{'s' if bags != 1 else ''}, {weight_g} g",
        {"location_id": location_id, "bags": bags, "weight_g": weight_g, "by": by},
    )


def order_packed(
    order: Order, packed: Packed, shown_fen: int, outcomes: list[tuple[int, LineOutcome, int, int]], at: datetime
) -> None:
    """PACKED with the final price; for pickup the bag then waits at the counter.

    `outcomes` are (line_no, outcome, quantity, price_fen) as packed: inventory's word is final.
    The handover code stays off the timeline, which the shop's staff can read too.
    """
    detail = {
        "final_fen": packed.final_fen,
        "shown_fen": shown_fen,
        "difference_fen": packed.difference_fen,
        "bags": packed.bags,
        "weight_g": packed.weight_g,
        "pickup_point": packed.pickup_point,
    }
    cause = f"packed: final price {format_yuan(packed.final_fen)} (shown {format_yuan(shown_fen)})"
    if not order.move_or_note(S.PACKED, at, cause, "packing", detail):
        return
    order.packed = packed
    for line_no, outcome, quantity, price_fen in outcomes:
        line = order.line(line_no)
        if line is None:
            continue
        order.changed_lines.add(line_no)
        if outcome is LineOutcome.OUT_OF_STOCK:
            if line.status not in REFUNDED:
                line.refund(LineStatus.OUT_OF_STOCK)
        else:
            status = LineStatus.SUBSTITUTED if outcome is LineOutcome.SUBSTITUTED else LineStatus.PICKED
            line.settle(status, quantity, price_fen)
    if order.fulfilment_mode is FulfilmentMode.PICKUP:
        order.move(S.READY_FOR_PICKUP, at, "ready at the counter", {"pickup_point": packed.pickup_point})


def handed_over(order: Order, to: str, by: str, at: datetime) -> None:
    detail = {"to": to, "by": by}
    if to == "shopper":
        if order.status is S.PACKED:  # a delivery order fetched at the counter after all
            order.move(S.READY_FOR_PICKUP, at, "ready at the counter", detail)
        order.move_or_note(S.COLLECTED, at, "collected at the counter with the handover code", "a handover", detail)
    elif order.status in AFTER_PICKUP and order.dispatched:
        # Dispatch's later step (on another topic) overtook this and already moved the order on.
        order.note_fact(at, "the shop confirmed the handover to the rider", detail)
    else:
        order.move_or_note(S.OUT_FOR_DELIVERY, at, "handed to the rider with the handover code", "a handover", detail)


def bag_returned(order: Order, refund_fen: int, lines: list[dict[str, Any]], by: str, at: datetime) -> None:
    """Back at the shop and refunded; a bag that was out for delivery failed to arrive first.

    The refund happened whatever state the order is in, so it is recorded either way.
    """
    order.return_refund_fen = refund_fen
    detail = {"refund_fen": refund_fen, "lines": lines, "by": by}
    cause = f"returned to the shop: {format_yuan(refund_fen)} refunded"
    if order.status is S.OUT_FOR_DELIVERY:
        order.move(S.DELIVERY_FAILED, at, "bag returned to the shop", {"by": by})
    if can_move(order.status, S.RETURNED):
        order.move(S.RETURNED, at, cause, detail)
    else:
        order.note_fact(at, f"{cause} while the order was {order.status.value}", detail)
