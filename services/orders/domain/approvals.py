"""The shopper's answer to a question the shop asked while picking: a heavy piece, a substitute.

Orders only records the answer and passes it on (`ApprovalGiven`); inventory settles the
question, first answer or the deadline winning. So the question stays on the line, marked
answered, until the settlement arrives, and a second answer is refused rather than sent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.orders.domain.lines import PendingApproval
from services.orders.domain.order import Order
from shared.errors import Conflict, NotFound


class NoSuchLine(NotFound):
    """The order has no line with that number."""


class ApprovalRefused(Conflict):
    """There is nothing (any more) to answer on that line; the message says why."""


def answer(order: Order, line_no: int, accept: bool, by: str, at: datetime) -> PendingApproval:
    """Record `by`'s answer on the line and the timeline; the answered question is returned."""
    line = order.line(line_no)
    if line is None:
        raise NoSuchLine(f"order {order.id} has no line {line_no}")
    pending = line.pending
    if pending is None:
        raise ApprovalRefused(f"line {line_no} has no question waiting for an answer (it is {line.status.value})")
    if pending.answer is not None:
        said = "accepted" if pending.answer else "declined"
        raise ApprovalRefused(
            f"line {line_no} was already answered: {pending.answered_by} {said} it; the shop is settling it"
        )
    if pending.deadline is not None and at > pending.deadline:
        raise ApprovalRefused(
            f"the time to answer for line {line_no} ran out at {pending.deadline.isoformat()}; "
            "the shop applies the default"
        )
    answered = replace(pending, answer=accept, answered_by=by, answered_at=at)
    line.pending = answered
    order.changed_lines.add(line_no)
    what = {"weight": "the heavier weight", "substitution": "the substitute"}[pending.kind.value]
    order.note_fact(
        at,
        f"line {line_no}: {what} {'accepted' if accept else 'declined'} by {by}",
        {"line_no": line_no, "kind": pending.kind.value, "accepted": accept, "by": by},
    )
    return answered
