"""Placing, quoting and cancelling an order as use cases, over the in-memory unit of work (no PostgreSQL)."""

from __future__ import annotations

import pytest

from services.orders.domain.basket import BasketProblem, Wanted
from services.orders.domain.discovery import LockerSite
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.ledger import BalanceTooSmall, Kind
from services.orders.domain.order import Order
from services.orders.service_layer import ordering, payments
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, Invalid, NotFound, PaymentRequired
from shared.events.contracts import DeliveryAddress, OrderCancelled, OrderPlaced
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.geo import Point
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role
from tests.unit.orders.conftest import HOME, TZ
from tests.unit.orders.fakes import FakeOrdersUnitOfWork

GRANDMA = Principal("grandma", Role.SHOPPER)
NEIGHBOUR = Principal("neighbour", Role.SHOPPER)
DESK = Principal("cash-desk", Role.ADMIN)
STAFF = Principal("counter", Role.STORE_STAFF, store="shop")
DOOR = Fulfilment(FulfilmentMode.DELIVERY, address=DeliveryAddress(**HOME))


async def top_up(uow: FakeOrdersUnitOfWork, fen: int) -> None:
    async with uow:
        await payments.top_up(uow, DESK, GRANDMA.subject, fen, None)


async def place(uow: FakeOrdersUnitOfWork, fulfilment: Fulfilment = DOOR, **extra: object) -> Order:
    async with uow:
        return await ordering.place_order(
            uow,
            GRANDMA,
            store_id="shop",
            wanted=[Wanted("water", 3)],
            fulfilment=fulfilment,
            note=None,
            contact_phone=None,
            on_behalf_of=None,
            timezone=TZ,
            **extra,  # type: ignore[arg-type]
        )


async def test_placing_debits_the_shown_total_and_announces_the_order_in_the_same_unit_of_work(
    uow: FakeOrdersUnitOfWork,
) -> None:
    await top_up(uow, 2000)
    order = await place(uow)
    assert uow.committed
    assert (order.total_fen, order.delivery_fee_fen, order.shown_fen) == (600, 300, 900)
    assert order.delivery_code is not None, "a rider carries it: a door code"
    assert len(order.delivery_code) == 6
    assert uow.ledger.balances["grandma"] == 1100  # type: ignore[attr-defined]
    stored = await uow.orders.get(order.id)
    assert stored is not None
    assert stored.status is OrderStatus.PLACED
    assert stored.fulfilment == DOOR
    [placed] = [e.payload for e in uow.events if isinstance(e.payload, OrderPlaced)]
    assert (placed.order_id, placed.fulfilment_mode, placed.total_fen) == (order.id, FulfilmentMode.DELIVERY, 600)
    assert placed.address is not None
    assert placed.address.text == HOME["text"]
    assert stored.created_at == uow.clock.now(), "one clock: the unit of work's"


async def test_a_balance_too_small_is_refused_with_402_and_nothing_is_kept(uow: FakeOrdersUnitOfWork) -> None:
    await top_up(uow, 500)
    with pytest.raises(BalanceTooSmall, match=r"balance is ¥5\.00 but this order costs ¥9\.00") as refused:
        await place(uow)
    assert isinstance(refused.value, PaymentRequired)
    assert refused.value.status_code == 402
    assert not uow.committed
    assert uow.orders.rows == {}  # type: ignore[attr-defined]
    assert not any(isinstance(e.payload, OrderPlaced) for e in uow.events)


async def test_a_pickup_pays_no_delivery_fee_and_has_no_door_code(uow: FakeOrdersUnitOfWork) -> None:
    await top_up(uow, 2000)
    order = await place(uow, Fulfilment(FulfilmentMode.PICKUP))
    assert (order.shown_fen, order.delivery_code, order.dispatched) == (600, None, False)


async def test_pay_on_delivery_is_refused_for_a_pickup_in_words(uow: FakeOrdersUnitOfWork) -> None:
    with pytest.raises(BasketProblem, match="pay on delivery is for delivery to the door only, not pickup"):
        await place(uow, Fulfilment(FulfilmentMode.PICKUP), payment="on_delivery")


async def test_a_door_outside_the_radius_is_invalid(uow: FakeOrdersUnitOfWork) -> None:
    far = Fulfilment(FulfilmentMode.DELIVERY, address=DeliveryAddress(text="across the river", lat=32.10, lon=118.70))
    with pytest.raises(Invalid, match="delivers only within 1500 m; choose pickup"):
        await place(uow, far)


async def test_a_full_locker_is_a_conflict_naming_the_nearest_site_with_room(uow: FakeOrdersUnitOfWork) -> None:
    uow.circle.sites.update(  # type: ignore[attr-defined]
        {
            "lane": LockerSite("lane", "Lane lockers", Point(32.0425, 118.787), True, {"S": 0, "M": 0, "L": 0}),
            "gate": LockerSite("gate", "North gate", Point(32.045, 118.787), True, {"S": 2, "M": 0, "L": 0}),
        }
    )
    await top_up(uow, 2000)
    with pytest.raises(ordering.LockerFull, match=r"the nearest site with room is North gate \(gate\), \d+ m away"):
        await place(uow, Fulfilment(FulfilmentMode.LOCKER, site_id="lane"))
    order = await place(uow, Fulfilment(FulfilmentMode.LOCKER, site_id="gate"))
    assert order.fulfilment.as_dict() == {"mode": "locker", "site_id": "gate", "address": None}
    assert isinstance(ordering.LockerFull("x"), Conflict)


async def test_the_orderer_cancels_and_the_money_comes_back(uow: FakeOrdersUnitOfWork) -> None:
    await top_up(uow, 2000)
    order = await place(uow)
    async with uow:
        cancelled = await ordering.cancel_order(uow, GRANDMA, order.id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert uow.ledger.balances["grandma"] == 2000  # type: ignore[attr-defined]
    assert [p.kind for p in uow.ledger.of_order(order.id)] == [Kind.PAID, Kind.REFUND]  # type: ignore[attr-defined]
    assert any(isinstance(e.payload, OrderCancelled) for e in uow.events)


async def test_someone_elses_order_is_not_found_and_the_shop_cannot_cancel(uow: FakeOrdersUnitOfWork) -> None:
    await top_up(uow, 2000)
    order = await place(uow)
    async with uow:
        with pytest.raises(NotFound, match=f"no order {order.id} that you can see"):
            await ordering.cancel_order(uow, NEIGHBOUR, order.id)
    async with uow:
        with pytest.raises(Forbidden, match="the shop rejects instead"):
            await ordering.cancel_order(uow, STAFF, order.id)
    stored = await uow.orders.get(order.id)
    assert stored is not None
    assert stored.status is OrderStatus.PLACED


async def test_a_quote_stores_nothing_and_says_whether_the_balance_is_enough(uow: FakeOrdersUnitOfWork) -> None:
    await top_up(uow, 700)
    async with uow:
        with pytest.raises(BalanceTooSmall):
            await ordering.quote(
                uow,
                GRANDMA,
                store_id="shop",
                wanted=[Wanted("water", 3)],
                fulfilment=DOOR,
                contact_phone=None,
                on_behalf_of=None,
                timezone=TZ,
            )
        quoted = await ordering.quote(
            uow,
            GRANDMA,
            store_id="shop",
            wanted=[Wanted("water", 3)],
            fulfilment=Fulfilment(FulfilmentMode.PICKUP),
            contact_phone=None,
            on_behalf_of=None,
            timezone=TZ,
        )
    assert (quoted.checkout.total_fen, quoted.balance_fen, quoted.balance_enough) == (600, 700, True)
    assert quoted.due_at_door_fen is None
    assert uow.orders.rows == {}  # type: ignore[attr-defined]
