"""A code locked after too many wrong tries (shared/attempts.py), on the order's timeline."""

from __future__ import annotations

from datetime import datetime

from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.events.contracts import CodeLockedOut, HandoverCodeLockedOut

WHERE = {
    "handover": "the rider's pickup",
    "delivery": "the delivery at the door",
    "locker": "the locker",
    "counter": "the handover at the counter",
}


async def _note(uow: OrdersUnitOfWork, order_id: str, code: str, wrong_tries: int, until: datetime) -> None:
    cause = f"{wrong_tries} wrong codes for {WHERE.get(code, code)}: further tries refused until {until:%H:%M} UTC"
    detail = {"code_locked": code, "wrong_tries": wrong_tries, "until": until.isoformat()}
    await uow.apply(order_id, lambda o: o.note_fact(uow.now(), cause, detail))


async def on_code_locked_out(uow: OrdersUnitOfWork, e: CodeLockedOut) -> None:
    await _note(uow, e.order_id, e.code, e.wrong_tries, e.until)


async def on_handover_code_locked_out(uow: OrdersUnitOfWork, e: HandoverCodeLockedOut) -> None:
    await _note(uow, e.order_id, "counter", e.wrong_tries, e.until)
