"""Dispatch's codes under the guessing limits (shared/attempts.py): the rider's pickup with the
shop's handover code, the delivery with the shopper's code, a locker's code.

A lockout is an alert on the dispatchers' board (live, and in the alerts list) and, through
CodeLockedOut, a line on the order's timeline.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.attempts import CodeLimits, Lockout, code_guard
from shared.events.contracts import CodeLockedOut, HandoverCodeLockedOut


def guarded(
    uow: DispatchUnitOfWork, code: str, key: str, subject: str, orders: list[tuple[str, str]], what: str
) -> AbstractAsyncContextManager[None]:
    """The block that compares `code` (for `orders`: order id, store id) counted under the limits."""

    async def locked_out(lock: Lockout) -> None:
        until = f"{lock.until:%H:%M} UTC"
        note = {"kind": "code_locked", "code": code, "by": subject, "until": lock.until.isoformat()}
        for order_id, store_id in orders:
            message = (
                f"order {order_id}: {lock.wrong_tries} wrong {code} codes from {subject}; "
                f"its {code} code is refused until {until}"
            )
            rider_id = subject if code != "locker" else None
            await uow.alerts.raise_("code_locked", message, order_id, rider_id)
            uow.note("alert", {**note, "message": message}, order_id)
            await uow.publish(
                CodeLockedOut(
                    order_id=order_id,
                    store_id=store_id,
                    code=code,
                    by=subject,
                    wrong_tries=lock.wrong_tries,
                    until=lock.until,
                )
            )
        if not orders:
            message = f"{lock.wrong_tries} wrong {code} codes from {subject} at {what}; refused until {until}"
            await uow.alerts.raise_("code_locked", message)
            uow.note("alert", {**note, "message": message})

    limits = CodeLimits.from_settings(uow.settings)
    return code_guard(uow, limits, code, key, subject=subject, what=what, on_lockout=locked_out)


async def on_counter_code_locked_out(uow: DispatchUnitOfWork, e: HandoverCodeLockedOut) -> None:
    """The counter locked an order's handover code: the dispatchers see it beside their own lockouts."""
    message = (
        f"order {e.order_id}: {e.wrong_tries} wrong handover codes at the counter of {e.store_id}; "
        f"the handover is refused until {e.until:%H:%M} UTC"
    )
    await uow.alerts.raise_("code_locked", message, e.order_id)
    uow.note(
        "alert",
        {"kind": "code_locked", "code": "counter", "by": e.by, "until": e.until.isoformat(), "message": message},
        e.order_id,
    )
