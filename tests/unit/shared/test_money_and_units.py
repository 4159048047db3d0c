"""Fen arithmetic and stock units: weighed goods reserve estimated grams and are priced per kg."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.vocabulary.money import divide_half_up, format_yuan
from shared.vocabulary.units import StockUnit, line_price, stock_quantity


def test_pieces_reserve_pieces_and_cost_price_times_quantity() -> None:
    assert stock_quantity(StockUnit.PIECE, 3, None) == 3
    assert line_price(StockUnit.PIECE, 1290, 3) == 3870


def test_two_fish_of_600g_at_18_yuan_per_kg() -> None:
    grams = stock_quantity(StockUnit.GRAM, 2, 600)
    assert grams == 1200
    assert line_price(StockUnit.GRAM, 1800, grams) == 2160


def test_weighed_prices_round_half_up_to_the_fen() -> None:
    assert line_price(StockUnit.GRAM, 1999, 250) == 500  # 499.75 fen
    assert line_price(StockUnit.GRAM, 1000, 1) == 1  # 1.0 fen
    assert line_price(StockUnit.GRAM, 500, 1) == 1  # 0.5 fen rounds up
    assert line_price(StockUnit.GRAM, 400, 1) == 0  # 0.4 fen rounds down


@pytest.mark.parametrize("pieces", [0, -1])
def test_quantity_must_be_positive(pieces: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        stock_quantity(StockUnit.PIECE, pieces, None)


def test_weighed_goods_need_an_estimated_weight() -> None:
    with pytest.raises(ValueError, match="estimated weight"):
        stock_quantity(StockUnit.GRAM, 1, None)


@given(st.integers(-(10**9), 10**9), st.integers(1, 10**6))
def test_half_up_division_is_within_half_a_unit(numerator: int, denominator: int) -> None:
    q = divide_half_up(numerator, denominator)
    assert abs(q * denominator - numerator) * 2 <= denominator


def test_format_yuan() -> None:
    assert format_yuan(2160) == "¥21.60"
    assert format_yuan(-5) == "-¥0.05"
