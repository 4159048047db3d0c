"""Reservation rules: all lines or none, and never more than is on the shelf."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.inventory.domain.stock import (
    LineRequest,
    ReservationRefused,
    ReservationStatus,
    StockLevel,
    check_transition,
    release,
    reserve_all,
)


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


def test_releasing_more_than_reserved_is_refused() -> None:
    stock = levels(milk=5)
    reserve_all(stock, [LineRequest(1, "milk", "shop", 2)])
    with pytest.raises(ReservationRefused):
        release(stock, [LineRequest(1, "milk", "shop", 3)])
    release(stock, [LineRequest(1, "milk", "shop", 2)])
    assert stock["milk"].available == 5


def test_reservation_lifecycle() -> None:
    check_transition(ReservationStatus.HELD, ReservationStatus.ACCEPTED)
    check_transition(ReservationStatus.ACCEPTED, ReservationStatus.COMMITTED)
    with pytest.raises(ReservationRefused, match="released"):
        check_transition(ReservationStatus.RELEASED, ReservationStatus.ACCEPTED)


@settings(max_examples=200)
@given(
    on_hand=st.integers(0, 20),
    baskets=st.lists(
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 6)), min_size=1, max_size=3), max_size=30
    ),
    cancel_every=st.integers(2, 5),
)
def test_interleaved_reserves_and_releases_never_oversell(
    on_hand: int, baskets: list[list[tuple[str, int]]], cancel_every: int
) -> None:
    stock = levels(a=on_hand, b=on_hand, c=on_hand)
    live: list[list[LineRequest]] = []
    for i, basket in enumerate(baskets):
        requests = [LineRequest(n, pid, "shop", qty) for n, (pid, qty) in enumerate(basket, 1)]
        if not reserve_all(stock, requests):
            live.append(requests)
        if live and i % cancel_every == 0:
            release(stock, live.pop(0))
        for level in stock.values():
            assert 0 <= level.reserved <= level.on_hand
        for pid, level in stock.items():
            assert level.reserved == sum(r.quantity for basket_ in live for r in basket_ if r.product_id == pid)
