"""Reservation rules: all lines or none, and never more than is on the shelf."""

from services.inventory.domain.stock import LineRequest, StockLevel, reserve_all


def levels(**on_hand: int) -> dict[str, StockLevel]:
    return {pid: StockLevel(pid, "shop", "piece", qty, 0) for pid, qty in on_hand.items()}


def test_a_basket_that_fits_is_reserved_whole() -> None:
    stock = levels(milk=5, eggs=2)
    short = reserve_all(stock, [LineRequest(1, "milk", "shop", 3), LineRequest(2, "eggs", "shop", 2)])
    assert short == []
    assert (stock["milk"].available, stock["eggs"].available) == (2, 0)


def test_one_short_line_reserves_nothing_and_names_the_shortfall() -> None:
    stock = levels(milk=5, eggs=1)
    short = reserve_all(stock, [LineRequest(1, "milk", "shop", 3), LineRequest(2, "eggs", "shop", 2)])
    assert [(s.product_id, s.requested, s.available) for s in short] == [("eggs", 2, 1)]
    assert stock["milk"].reserved == 0
    assert stock["eggs"].reserved == 0


def test_unknown_product_is_a_shortfall_with_nothing_available() -> None:
    short = reserve_all(levels(milk=5), [LineRequest(1, "caviar", "shop", 1)])
    assert [(s.product_id, s.available, s.unit) for s in short] == [("caviar", 0, None)]


def test_a_line_for_the_wrong_stall_is_refused() -> None:
    stock = {"fish": StockLevel("fish", "fish-stall", "g", 5000, 0)}
    short = reserve_all(stock, [LineRequest(1, "fish", "veg-stall", 600)])
    assert short
    assert stock["fish"].reserved == 0
