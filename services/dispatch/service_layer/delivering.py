"""The rider's steps on a delivery: at the shop, picked up, at the door, delivered or failed, or into a locker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from services.dispatch.domain.delivery import Delivery
from services.dispatch.service_layer import group_trips, lockers
from services.dispatch.service_layer.assigning import follow_load
from services.dispatch.service_layer.codes import guarded
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.errors import NotFound
from shared.events.contracts import (
    DeliveryCompleted,
    DeliveryFailed,
    DeliveryPickedUp,
    RiderAtDoor,
    RiderAtShop,
)
from shared.vocabulary.money import format_yuan


@dataclass(frozen=True)
class Delivered:
    delivery: Delivery
    cash_difference_fen: int | None  # cash taken minus cash due, when they differ


async def _get(uow: DispatchUnitOfWork, order_id: str) -> Delivery:
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None:
        raise NotFound(f"dispatch has no delivery for order {order_id}")
    return d


async def _arrive(
    uow: DispatchUnitOfWork,
    order_id: str,
    rider_id: str,
    arrive: Callable[[Delivery, str, datetime], None],
    arrived: type[RiderAtShop | RiderAtDoor],
) -> Delivery:
    """The rider says where they are (at the shop, at the door); orders hears it as `arrived`."""
    d = await _get(uow, order_id)
    arrive(d, rider_id, uow.now())
    await uow.deliveries.save(d)
    await uow.publish(arrived(order_id=order_id, store_id=d.store_id, rider_id=rider_id))
    return d


async def at_shop(uow: DispatchUnitOfWork, order_id: str, rider_id: str) -> Delivery:
    return await _arrive(uow, order_id, rider_id, Delivery.arrive_at_shop, RiderAtShop)


async def picked_up(uow: DispatchUnitOfWork, order_id: str, rider_id: str, code: str) -> Delivery:
    d = await _get(uow, order_id)
    async with guarded(uow, "handover", order_id, rider_id, [(order_id, d.store_id)], f"order {order_id}"):
        d.pick_up(rider_id, code, uow.now())
    await uow.deliveries.save(d)
    await uow.publish(
        DeliveryPickedUp(
            order_id=order_id, store_id=d.store_id, rider_id=rider_id, handover_code=d.handover_code or code.strip()
        )
    )
    return d


async def at_door(uow: DispatchUnitOfWork, order_id: str, rider_id: str) -> Delivery:
    d = await _arrive(uow, order_id, rider_id, Delivery.arrive_at_door, RiderAtDoor)
    await group_trips.rider_at_pickup(uow, d)  # a group buy's trip: the leader is told the bags are there
    return d


async def delivered(
    uow: DispatchUnitOfWork, order_id: str, rider_id: str, code: str, cash_collected_fen: int | None
) -> Delivered:
    """Handed over with the shopper's code; paid on delivery, with the cash the rider took.

    A different amount than due is accepted as given (the rider cannot undo the handover) and put
    to the dispatchers as an alert; orders sees the amount in DeliveryCompleted and reconciles it.
    """
    d = await _get(uow, order_id)
    if await group_trips.rider_hands_over(uow, d, rider_id):  # a group buy's trip ends its own way
        return Delivered(d, None)
    async with guarded(uow, "delivery", order_id, rider_id, [(order_id, d.store_id)], f"order {order_id}"):
        difference = d.deliver(rider_id, code, cash_collected_fen, uow.now())
    await uow.deliveries.save(d)
    cash, due = d.cash_collected_fen, d.due_at_door_fen
    await uow.publish(
        DeliveryCompleted(order_id=order_id, store_id=d.store_id, rider_id=rider_id, cash_collected_fen=cash)
    )
    if difference is not None and due is not None:
        message = (
            f"order {order_id}: {rider_id} collected {format_yuan(cash or 0)} in cash, "
            f"{format_yuan(due)} was due ({'+' if difference > 0 else ''}{format_yuan(difference)})"
        )
        await uow.alerts.raise_("cash_differs", message, order_id, rider_id)
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
    await follow_load(uow, rider_id)
    return Delivered(d, difference)


async def failed(uow: DispatchUnitOfWork, order_id: str, rider_id: str, reason: str) -> Delivery:
    d = await _get(uow, order_id)
    d.fail(rider_id, uow.now(), uow.settings.door_wait_s)
    await uow.deliveries.save(d)
    await uow.publish(DeliveryFailed(order_id=order_id, store_id=d.store_id, rider_id=rider_id, reason=reason))
    await follow_load(uow, rider_id)
    return d


async def locker_deposit(uow: DispatchUnitOfWork, order_id: str, rider_id: str) -> Delivery:
    d = await lockers.deposit(uow, await _get(uow, order_id), rider_id)
    await follow_load(uow, rider_id)
    return d
