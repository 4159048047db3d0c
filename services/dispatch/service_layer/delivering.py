"""The rider's steps on a delivery: at the shop, picked up, at the door, delivered or failed, or into a locker."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.dispatch.domain.delivery import (
    DeliveryStatus,
    NotFound,
    Step,
    cash_difference,
    check_delivery,
    check_failure_allowed,
    check_handover,
    check_step,
)
from services.dispatch.domain.offers import check_rider_for
from services.dispatch.service_layer import lockers
from services.dispatch.service_layer.assigning import release_rider
from services.dispatch.service_layer.riders import delivery_for_rider
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import (
    DeliveryCompleted,
    DeliveryFailed,
    DeliveryPickedUp,
    RiderAtDoor,
    RiderAtShop,
)
from shared.vocabulary.money import format_yuan


async def _mine(uow: UnitOfWork, order_id: str, rider_id: str, step: Step) -> tuple[asyncpg.Record, DeliveryStatus]:
    d = await uow.repo.get(order_id, lock=True)
    if d is None:
        raise NotFound(f"dispatch has no delivery for order {order_id}")
    check_rider_for(rider_id, d["rider_id"])
    return d, check_step(DeliveryStatus(d["status"]), d["mode"], step)


async def _view(uow: UnitOfWork, rider_id: str, order_id: str) -> dict[str, Any]:
    rows = await uow.repo.of_rider(rider_id, [s.value for s in DeliveryStatus])
    return next(delivery_for_rider(d) for d in rows if d["order_id"] == order_id)


async def at_shop(uow: UnitOfWork, order_id: str, rider_id: str) -> dict[str, Any]:
    d, after = await _mine(uow, order_id, rider_id, Step.AT_SHOP)
    await uow.repo.update(order_id, status=after.value, at_shop_at=uow.now())
    await uow.publish(RiderAtShop(order_id=order_id, store_id=d["store_id"], rider_id=rider_id))
    return await _view(uow, rider_id, order_id)


async def picked_up(uow: UnitOfWork, order_id: str, rider_id: str, code: str) -> dict[str, Any]:
    d, after = await _mine(uow, order_id, rider_id, Step.PICKED_UP)
    check_handover(d["packed_at"] is not None, d["handover_code"], code)
    await uow.repo.update(order_id, status=after.value, picked_up_at=uow.now())
    await uow.publish(
        DeliveryPickedUp(order_id=order_id, store_id=d["store_id"], rider_id=rider_id, handover_code=d["handover_code"])
    )
    return await _view(uow, rider_id, order_id)


async def at_door(uow: UnitOfWork, order_id: str, rider_id: str) -> dict[str, Any]:
    d, after = await _mine(uow, order_id, rider_id, Step.AT_DOOR)
    await uow.repo.update(order_id, status=after.value, at_door_at=uow.now())
    await uow.publish(RiderAtDoor(order_id=order_id, store_id=d["store_id"], rider_id=rider_id))
    return await _view(uow, rider_id, order_id)


async def delivered(
    uow: UnitOfWork, order_id: str, rider_id: str, code: str, cash_collected_fen: int | None
) -> dict[str, Any]:
    """Handed over with the shopper's code; paid on delivery, with the cash the rider took.

    A different amount than due is accepted as given (the rider cannot undo the handover) and put
    to the dispatchers as an alert; orders sees the amount in DeliveryCompleted and reconciles it.
    """
    d, after = await _mine(uow, order_id, rider_id, Step.DELIVERED)
    due = d["due_at_door_fen"]
    check_delivery(d["delivery_code"], code, d["pay_on_delivery"], cash_collected_fen, due)
    cash = cash_collected_fen if d["pay_on_delivery"] else None
    await uow.repo.update(order_id, status=after.value, finished_at=uow.now(), cash_collected_fen=cash)
    await uow.publish(
        DeliveryCompleted(order_id=order_id, store_id=d["store_id"], rider_id=rider_id, cash_collected_fen=cash)
    )
    difference = cash_difference(due, cash)
    if difference is not None:
        message = (
            f"order {order_id}: {rider_id} collected {format_yuan(cash or 0)} in cash, "
            f"{format_yuan(due)} was due ({'+' if difference > 0 else ''}{format_yuan(difference)})"
        )
        await uow.repo.alert("cash_differs", message, order_id, rider_id)
        uow.note(
            "alert",
            {
                "kind": "cash_differs",
                "message": message,
                "due_fen": due,
                "cash_collected_fen": cash,
                "difference_fen": difference,
            },
            order_id,
        )
    await release_rider(uow, rider_id)
    result: dict[str, Any] = {"order_id": order_id, "status": after.value}
    if d["pay_on_delivery"]:
        result.update(due_at_door_fen=due, cash_collected_fen=cash, cash_difference_fen=difference)
    return result


async def failed(uow: UnitOfWork, order_id: str, rider_id: str, reason: str) -> dict[str, Any]:
    d, after = await _mine(uow, order_id, rider_id, Step.FAILED)
    check_failure_allowed(d["at_door_at"], uow.now(), uow.settings.door_wait_s)
    await uow.repo.update(order_id, status=after.value, finished_at=uow.now())
    await uow.publish(DeliveryFailed(order_id=order_id, store_id=d["store_id"], rider_id=rider_id, reason=reason))
    await release_rider(uow, rider_id)
    return {"order_id": order_id, "status": after.value}


async def locker_deposit(uow: UnitOfWork, order_id: str, rider_id: str) -> dict[str, Any]:
    d, _ = await _mine(uow, order_id, rider_id, Step.LOCKER_DEPOSIT)
    result = await lockers.deposit(uow, d)
    await release_rider(uow, rider_id)
    return result
