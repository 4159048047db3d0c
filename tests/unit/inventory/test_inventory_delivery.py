"""Inventory and dispatch without a database: the rider's pickup hands the bag over, or is dead-lettered."""

from __future__ import annotations

from typing import Any

import pytest

from services.inventory.entrypoints.consumers import SUBSCRIPTIONS
from services.inventory.service_layer import fulfilment
from shared.events.contracts import DeliveryPickedUp, HandoverTo, OrderHandedOver, PickupChoiceMade
from shared.events.envelope import Event
from shared.events.topics import DISPATCH, ORDERS
from shared.inbox import PermanentError


class FakeFulfilment:
    def __init__(self, order: dict[str, Any] | None) -> None:
        self.row = order

    async def order(self, order_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
        return self.row if self.row is not None and self.row["order_id"] == order_id else None

    async def update_order(self, order_id: str, **fields: Any) -> None:
        assert self.row is not None
        self.row.update(fields)


class FakeStock:
    def __init__(self) -> None:
        self.committed: list[int] = []

    async def holds(self, order_id: str) -> list[dict[str, Any]]:
        return [{"line_no": 1, "product_id": "water"}, {"line_no": 2, "product_id": "juice"}]

    async def lock(self, product_ids: list[str]) -> None:
        return None

    async def commit_line(self, order_id: str, line_no: int, reason: str, actor: str) -> None:
        self.committed.append(line_no)


class FakeUow:
    def __init__(self, **order: Any) -> None:
        row = {
            "order_id": "o1",
            "store_id": "shop",
            "status": "packed",
            "fulfilment_mode": "delivery",
            "handover_code": "135790",
            "handed_over_to": None,
            **order,
        }
        self.fulfilment = FakeFulfilment(row)
        self.stock = FakeStock()
        self.published: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.published.append(event)


def picked_up(code: str = "135790", order_id: str = "o1") -> DeliveryPickedUp:
    return DeliveryPickedUp(order_id=order_id, store_id="shop", rider_id="rider-7", handover_code=code)


async def test_the_riders_pickup_commits_the_stock_and_tells_orders() -> None:
    uow = FakeUow()
    await fulfilment.on_delivery_picked_up(uow, picked_up())  # type: ignore[arg-type]
    assert uow.stock.committed == [1, 2]
    assert uow.fulfilment.row is not None
    assert uow.fulfilment.row["status"] == "committed"
    (event,) = uow.published
    assert isinstance(event, OrderHandedOver)
    assert (event.to, event.by, event.order_id) == (HandoverTo.RIDER, "rider-7", "o1")


async def test_a_wrong_code_is_dead_lettered_and_nothing_is_handed_over() -> None:
    uow = FakeUow()
    with pytest.raises(PermanentError, match="rider rider-7 picked up order o1 with a wrong handover code"):
        await fulfilment.on_delivery_picked_up(uow, picked_up("000000"))  # type: ignore[arg-type]
    assert uow.stock.committed == []
    assert uow.published == []


async def test_a_bag_already_with_a_rider_is_not_handed_over_twice() -> None:
    uow = FakeUow(status="committed", handed_over_to="rider")  # the counter entered the code first
    await fulfilment.on_delivery_picked_up(uow, picked_up())  # type: ignore[arg-type]
    assert uow.stock.committed == []
    assert uow.published == []


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ({"status": "released"}, "released; only a packed order"),
        ({"status": "committed", "handed_over_to": "shopper"}, "committed; only a packed order"),
        ({"fulfilment_mode": "pickup"}, "this order is for pickup"),
    ],
)
async def test_a_pickup_that_can_never_apply_is_dead_lettered(order: dict[str, Any], message: str) -> None:
    uow = FakeUow(**order)
    with pytest.raises(PermanentError, match=message):
        await fulfilment.on_delivery_picked_up(uow, picked_up())  # type: ignore[arg-type]
    assert uow.published == []


async def test_an_unknown_order_is_dead_lettered() -> None:
    with pytest.raises(PermanentError, match="does not know"):
        await fulfilment.on_delivery_picked_up(FakeUow(), picked_up(order_id="o2"))  # type: ignore[arg-type]


async def test_an_accepted_pickup_offer_makes_it_a_pickup_order() -> None:
    uow = FakeUow(status="picking")
    await fulfilment.on_pickup_choice_made(
        uow,
        PickupChoiceMade(  # type: ignore[arg-type]
            order_id="o1", store_id="shop", accepted=False, by="grandma"
        ),
    )
    assert uow.fulfilment.row is not None
    assert uow.fulfilment.row["fulfilment_mode"] == "delivery"
    await fulfilment.on_pickup_choice_made(
        uow,
        PickupChoiceMade(  # type: ignore[arg-type]
            order_id="o1", store_id="shop", accepted=True, by="grandma"
        ),
    )
    assert uow.fulfilment.row["fulfilment_mode"] == "pickup"


def test_inventory_hears_the_riders_pickup_in_its_own_group() -> None:
    groups = {(s.group, s.topic.name): set(s.handlers) for s in SUBSCRIPTIONS}
    assert groups[("inventory-dispatch", DISPATCH.name)] == {DeliveryPickedUp}
    assert PickupChoiceMade in groups[("inventory", ORDERS.name)]
