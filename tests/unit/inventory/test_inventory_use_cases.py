"""Inventory's use cases against in-memory repositories: reserving a basket, the parts' answers, the deadlines."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.inventory.domain.fulfilment import PartStatus
from services.inventory.domain.reservation import ReservationStatus
from services.inventory.service_layer import reservations
from shared.deadlines import Deadline
from shared.errors import Conflict, NotFound
from shared.events.contracts import OrderedLine, OrderPlaced
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.units import StockUnit
from tests.unit.inventory.fakes import InventoryFakeUnitOfWork


def placed(order_id: str, store_id: str, *lines: tuple[str, str, int]) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        store_id=store_id,
        placed_by="u",
        placed_for="u",
        fulfilment_mode=FulfilmentMode.PICKUP,
        total_fen=0,
        lines=[
            OrderedLine(line_no=n, product_id=p, location_id=loc, quantity=q, unit=StockUnit.PIECE, stock_quantity=q)
            for n, (p, loc, q) in enumerate(lines, 1)
        ],
    )


def types(uow: InventoryFakeUnitOfWork) -> list[str]:
    return [env.type for env in uow.events]


async def place(uow: InventoryFakeUnitOfWork, event: OrderPlaced) -> None:
    async with uow:
        await reservations.on_order_placed(uow, event)


async def test_a_market_basket_is_held_whole_and_split_into_one_waiting_part_per_stall(
    uow: InventoryFakeUnitOfWork,
) -> None:
    await place(uow, placed("o1", "market", ("carp", "fish", 3), ("leek", "veg", 2)))
    assert (uow.stock.levels["carp"].reserved, uow.stock.levels["leek"].reserved) == (3, 2)
    order = uow.reservations.rows["o1"]
    assert order.status is ReservationStatus.HELD
    parts = await uow.parts.of_order("o1")
    assert [(p.location_id, p.status) for p in parts] == [("fish", PartStatus.WAITING), ("veg", PartStatus.WAITING)]
    due = uow.clock.now() + timedelta(seconds=uow.policy.accept_limit_s)
    assert {key: d.due_at for (_, key), d in uow.deadlines.pending.items()} == {"o1:fish": due, "o1:veg": due}
    assert types(uow) == ["StockReserved"]


async def test_a_basket_that_does_not_fit_holds_nothing(uow: InventoryFakeUnitOfWork) -> None:
    await place(uow, placed("o2", "shop", ("water", "shop", 5), ("juice", "shop", 21)))
    assert uow.stock.levels["water"].reserved == 0
    assert "o2" not in uow.reservations.rows
    assert types(uow) == ["StockRejected"]
    assert uow.events[0].payload.reason == "out_of_stock"


async def test_the_order_is_accepted_once_every_part_is(uow: InventoryFakeUnitOfWork) -> None:
    await place(uow, placed("o1", "market", ("carp", "fish", 3), ("leek", "veg", 2)))
    async with uow:
        await reservations.accept(uow, "fish", "o1", "li")
    assert uow.reservations.rows["o1"].status is ReservationStatus.HELD
    assert [key for _, key in uow.deadlines.pending] == ["o1:veg"]
    async with uow:
        await reservations.accept(uow, "market", "o1", "counter")  # the market answers for the rest
    assert uow.reservations.rows["o1"].status is ReservationStatus.ACCEPTED
    assert types(uow) == ["StockReserved", "PartAccepted", "PartAccepted", "ShopAccepted"]
    assert uow.deadlines.pending == {}
    with pytest.raises(Conflict, match="already accepted; nothing of it waits for veg"):
        async with uow:
            await reservations.accept(uow, "veg", "o1", "wang")
    with pytest.raises(NotFound):
        async with uow:
            await reservations.accept(uow, "shop", "o1", "someone")


async def test_a_lapsed_part_is_dropped_and_the_rest_goes_on(uow: InventoryFakeUnitOfWork) -> None:
    await place(uow, placed("o1", "market", ("carp", "fish", 3), ("leek", "veg", 2)))
    async with uow:
        await reservations.accept(uow, "veg", "o1", "wang")
    async with uow:
        await reservations.on_accept_deadline(uow, Deadline("accept", "o1:fish", uow.now()))
    parts = {p.location_id: p for p in await uow.parts.of_order("o1")}
    assert (parts["fish"].status, parts["fish"].reason) == (PartStatus.REJECTED, "shop_timeout")
    assert uow.reservations.rows["o1"].status is ReservationStatus.ACCEPTED
    assert types(uow)[-2:] == ["PartRejected", "ShopAccepted"]
    assert uow.events[-1].payload.accepted_by == "wang"
    assert (uow.stock.levels["carp"].reserved, uow.stock.levels["leek"].reserved) == (0, 2)
