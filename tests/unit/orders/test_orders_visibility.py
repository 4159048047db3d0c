"""The visibility policy: who may see an order, its codes, the rider and dispatch's steps."""

from __future__ import annotations

import pytest

from services.orders.domain.basket import CatalogLocation, CatalogProduct, Wanted, price_basket
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.order import Order, TimelineEntry
from services.orders.domain.visibility import visibility
from shared.auth import Principal
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.unit.orders.conftest import T0, placed

SHOP = CatalogLocation("market", "market", None, "市场", "Market", True)
PRODUCTS = {"carp": CatalogProduct("carp", "fish-stall", "market", "鱼", "Carp", StockUnit.PIECE, 900, None, True)}

SHOPPER = Principal("grandma", Role.SHOPPER)
HELPER = Principal("helper-1", Role.HELPER)  # placed it for grandma
OTHER_SHOPPER = Principal("neighbour", Role.SHOPPER)
OTHER_HELPER = Principal("helper-2", Role.HELPER)
ADMIN = Principal("ops", Role.ADMIN)
DISPATCHER = Principal("desk", Role.DISPATCHER)
MARKET_STAFF = Principal("cashier", Role.STORE_STAFF, store="market")
STALL_STAFF = Principal("fishmonger", Role.STORE_STAFF, store="fish-stall")
OTHER_STAFF = Principal("baker", Role.STORE_STAFF, store="bakery")
RIDER = Principal("rider-7", Role.RIDER)


def order(status: OrderStatus = OrderStatus.ACCEPTED) -> Order:
    o = placed(
        fulfilment=Fulfilment(FulfilmentMode.LOCKER, site_id="lane"),
        lines=price_basket(SHOP, "market", [Wanted("carp", 1)], PRODUCTS),
    )
    o.status = status
    return o


@pytest.mark.parametrize(
    ("viewer", "order_itself", "codes", "delivery"),
    [
        (SHOPPER, True, True, True),
        (HELPER, True, True, True),
        (OTHER_SHOPPER, False, False, False),
        (OTHER_HELPER, False, False, False),
        (ADMIN, True, True, True),
        (DISPATCHER, True, False, True),
        (MARKET_STAFF, True, False, False),
        (STALL_STAFF, True, False, False),  # a stall sees the market order it packs part of
        (OTHER_STAFF, False, False, False),
        (RIDER, False, False, False),
        (None, False, False, False),
    ],
)
def test_who_sees_what(viewer: Principal | None, order_itself: bool, codes: bool, delivery: bool) -> None:
    sees = visibility(order(), viewer)
    assert (sees.order_itself, sees.handover_code, sees.delivery) == (order_itself, codes, delivery)


@pytest.mark.parametrize("status", list(OrderStatus))
def test_the_locker_code_is_the_orderers_and_only_while_the_bag_is_inside(status: OrderStatus) -> None:
    o = order(status)
    inside = status is OrderStatus.IN_LOCKER
    assert visibility(o, SHOPPER).locker_code is inside
    assert visibility(o, HELPER).locker_code is inside
    assert not visibility(o, ADMIN).locker_code
    assert not visibility(o, DISPATCHER).locker_code


def test_dispatchs_steps_are_left_out_for_those_who_may_not_see_the_delivery() -> None:
    step = TimelineEntry(T0, "rider assigned", None, {"step": "rider_assigned"})
    moved = TimelineEntry(T0, "accepted by the shop", OrderStatus.ACCEPTED, {"step": "x"})
    fact = TimelineEntry(T0, "stock released", None, {"reason": "cancelled"})
    staff, mine = visibility(order(), MARKET_STAFF), visibility(order(), SHOPPER)
    assert [staff.shows(e) for e in (step, moved, fact)] == [False, True, True]
    assert [mine.shows(e) for e in (step, moved, fact)] == [True, True, True]
