"""Inventory and dispatch without a database: the rider's pickup hands the bag over, or is dead-lettered."""

from __future__ import annotations

from typing import Any

import pytest

from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.domain.stock import Hold
from services.inventory.entrypoints.consumers import SUBSCRIPTIONS
from services.inventory.service_layer import fulfilment
from shared.events.contracts import (
    DeliveryPickedUp,
    GroupBuyTripRefused,
    HandoverTo,
    OrderHandedOver,
    PickupChoiceMade,
)
from shared.events.envelope import Event
from shared.events.topics import DISPATCH, ORDERS
from shared.inbox import PermanentError
from shared.vocabulary.fulfilment import FulfilmentMode
from tests.unit.inventory.fakes import InventoryFakeUnitOfWork


def packed(**changes: Any) -> InventoryFakeUnitOfWork:
    """An in-memory inventory holding one packed delivery order o1 (water and juice)."""
    uow = InventoryFakeUnitOfWork()
    order = Reservation(
        order_id="o1",
        store_id="shop",
        status=ReservationStatus.PACKED,
        accept_deadline=uow.clock.now(),
        fulfilment_mode=FulfilmentMode.DELIVERY,
        handover_code="135790",
    )
    for name, value in changes.items():
        setattr(order, name, value)
    uow.reservations.rows["o1"] = order
    uow.stock.shelve("water", "shop", 10)
    uow.stock.shelve("juice", "shop", 10)
    uow.stock.held = [Hold("o1", 1, "water", 2), Hold("o1", 2, "juice", 1)]
    return uow


async def heard(uow: InventoryFakeUnitOfWork, event: Event) -> None:
    async with uow:
        handler = fulfilment.on_delivery_picked_up if isinstance(event, DeliveryPickedUp) else None
        await (handler or fulfilment.on_pickup_choice_made)(uow, event)  # type: ignore[arg-type]


def picked_up(code: str = "135790", order_id: str = "o1") -> DeliveryPickedUp:
    return DeliveryPickedUp(order_id=order_id, store_id="shop", rider_id="rider-7", handover_code=code)


async def test_the_riders_pickup_commits_the_stock_and_tells_orders() -> None:
    uow = packed()
    await heard(uow, picked_up())
    assert uow.stock.committed == [("o1", 1), ("o1", 2)]
    assert uow.reservations.rows["o1"].status is ReservationStatus.COMMITTED
    (event,) = [env.payload for env in uow.events]
    assert isinstance(event, OrderHandedOver)
    assert (event.to, event.by, event.order_id) == (HandoverTo.RIDER, "rider-7", "o1")


async def test_a_wrong_code_is_dead_lettered_and_nothing_is_handed_over() -> None:
    uow = packed()
    with pytest.raises(PermanentError, match="rider rider-7 picked up order o1 with a wrong handover code"):
        await heard(uow, picked_up("000000"))
    assert uow.stock.committed == []
    assert uow.events == []


async def test_a_bag_already_with_a_rider_is_not_handed_over_twice() -> None:
    uow = packed(status=ReservationStatus.COMMITTED, handed_over_to=HandoverTo.RIDER)  # the counter entered the code
    await heard(uow, picked_up())
    assert uow.stock.committed == []
    assert uow.events == []


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({"status": ReservationStatus.RELEASED}, "released; only a packed order"),
        (
            {"status": ReservationStatus.COMMITTED, "handed_over_to": HandoverTo.SHOPPER},
            "committed; only a packed order",
        ),
        ({"fulfilment_mode": FulfilmentMode.PICKUP}, "this order is for pickup"),
    ],
)
async def test_a_pickup_that_can_never_apply_is_dead_lettered(order: dict[str, Any], message: str) -> None:
    uow = packed(**order)
    with pytest.raises(PermanentError, match=message):
        await heard(uow, picked_up())
    assert uow.events == []


async def test_an_unknown_order_is_dead_lettered() -> None:
    with pytest.raises(PermanentError, match="does not know"):
        await heard(packed(), picked_up(order_id="o2"))


async def test_an_accepted_pickup_offer_makes_it_a_pickup_order() -> None:
    uow = packed(status=ReservationStatus.PICKING)
    await heard(uow, PickupChoiceMade(order_id="o1", store_id="shop", accepted=False, by="grandma"))
    assert uow.reservations.rows["o1"].fulfilment_mode is FulfilmentMode.DELIVERY
    await heard(uow, PickupChoiceMade(order_id="o1", store_id="shop", accepted=True, by="grandma"))
    assert uow.reservations.rows["o1"].fulfilment_mode is FulfilmentMode.PICKUP


def test_inventory_hears_the_riders_pickup_in_its_own_group() -> None:
    """From dispatch, inventory hears only the rider taking a bag and a group buy's trip refused (its
    consolidated order then waits at the counter for the leader)."""
    groups = {(s.group, s.topic.name): set(s.handlers) for s in SUBSCRIPTIONS}
    assert groups[("inventory-dispatch", DISPATCH.name)] == {DeliveryPickedUp, GroupBuyTripRefused}
    assert PickupChoiceMade in groups[("inventory", ORDERS.name)]
