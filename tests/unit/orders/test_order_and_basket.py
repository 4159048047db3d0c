"""The order aggregate and basket pricing: what the shopper is told, and what the shop is asked."""

import pytest

from services.orders.domain.basket import BasketProblem, CatalogLocation, CatalogProduct, Wanted, price_basket
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.order import Order
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus, TransitionRefused
from shared.vocabulary.units import StockUnit
from tests.unit.orders.conftest import T0, placed

MARKET = CatalogLocation("market", "market", None, "菜场", "Market", True)
PRODUCTS = {
    "carp": CatalogProduct("carp", "fish-stall", "market", "新鲜草鱼", "Grass carp", StockUnit.GRAM, 1800, 600, True),
    "tofu": CatalogProduct("tofu", "tofu-stall", "market", "老豆腐", "Tofu", StockUnit.PIECE, 300, None, True),
    "old": CatalogProduct("old", "tofu-stall", "market", "旧", "Old", StockUnit.PIECE, 100, None, False),
    "rice": CatalogProduct("rice", "super", "super", "大米", "Rice", StockUnit.PIECE, 4590, None, True),
}


def test_a_market_basket_spans_stalls_and_prices_weighed_goods_by_estimate() -> None:
    lines = price_basket(MARKET, "market", [Wanted("carp", 2), Wanted("tofu", 3)], PRODUCTS)
    assert [(ln.location_id, ln.stock_quantity, ln.estimated_fen) for ln in lines] == [
        ("fish-stall", 1200, 2160),
        ("tofu-stall", 3, 900),
    ]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(BasketProblem) as problem:
        price_basket(
            MARKET,
            "market",
            [Wanted("ghost", 1), Wanted("rice", 1), Wanted("old", 1), Wanted("tofu", 1), Wanted("tofu", 2)],
            PRODUCTS,
        )
    text = str(problem.value)
    assert "unknown product 'ghost'" in text
    assert "'rice' is sold by 'super'" in text
    assert "'old' is no longer sold" in text
    assert "listed twice" in text


def test_unknown_store_and_stall_as_store_are_refused() -> None:
    with pytest.raises(BasketProblem, match="not a shop or market"):
        price_basket(None, "nowhere", [Wanted("tofu", 1)], PRODUCTS)
    stall = CatalogLocation("tofu-stall", "stall", "market", "豆腐", "Tofu", True)
    with pytest.raises(BasketProblem, match="order from its market 'market'"):
        price_basket(stall, "tofu-stall", [Wanted("tofu", 1)], PRODUCTS)


def place() -> Order:
    lines = price_basket(MARKET, "market", [Wanted("tofu", 1)], PRODUCTS)
    return placed(
        placed_for="grandma-zhou",
        fulfilment=Fulfilment(FulfilmentMode.PICKUP),
        lines=lines,
    )


def test_the_timeline_records_each_move_with_its_cause() -> None:
    order = place()
    order.confirm(T0)
    order.accept(T0, "staff-1")
    assert [(e.status, e.cause) for e in order.timeline] == [
        (OrderStatus.PLACED, "placed"),
        (OrderStatus.CONFIRMED, "stock reserved"),
        (OrderStatus.ACCEPTED, "accepted by the shop"),
    ]
    assert order.version == 2


def test_a_rejection_keeps_its_reason_and_details() -> None:
    order = place()
    order.reject("out_of_stock", T0, {"short_lines": [{"product_id": "tofu", "requested": 1, "available": 0}]})
    assert order.status is OrderStatus.REJECTED
    assert order.reject_reason == "out_of_stock"
    assert order.timeline[-1].detail["reason"] == "out_of_stock"


def test_cancel_after_picking_is_refused_and_changes_nothing() -> None:
    order = place()
    order.confirm(T0)
    order.accept(T0, "staff")
    order.move(OrderStatus.PICKING, T0, "picking")
    with pytest.raises(TransitionRefused, match="picking"):
        order.cancel(T0, "helper-1")
    assert order.status is OrderStatus.PICKING


def test_both_the_helper_and_the_resident_can_see_the_order() -> None:
    order = place()
    assert order.is_visible_to_orderer("helper-1")
    assert order.is_visible_to_orderer("grandma-zhou")
    assert not order.is_visible_to_orderer("neighbour")
