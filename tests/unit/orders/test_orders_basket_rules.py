"""Placing an order: opening hours of the store and its stalls, and the substitution preference."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from services.orders.domain.basket import (
    BasketProblem,
    CatalogLocation,
    CatalogProduct,
    Wanted,
    check_open,
    price_basket,
)
from services.orders.domain.lines import SubstitutionChoice, SubstitutionMode
from shared.vocabulary.opening_hours import Closure, Window
from shared.vocabulary.units import StockUnit

TZ = "Asia/Shanghai"
# Sunday 2026-11-22 09:00 in Shanghai
SUNDAY_9AM = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
MORNINGS = tuple(Window(day=d, opens=time(6), closes=time(11, 30)) for d in range(7))
EVENINGS = tuple(Window(day=d, opens=time(17), closes=time(19)) for d in range(7))


def location(location_id: str, kind: str = "stall", **hours: object) -> CatalogLocation:
    return CatalogLocation(
        location_id, kind, "market" if kind == "stall" else None, "摊", f"Stall {location_id}", True, **hours
    )  # type: ignore[arg-type]


def test_no_windows_means_always_open() -> None:
    check_open([location("market", "market"), location("fish")], SUNDAY_9AM, TZ)


def test_a_closed_stall_is_named_with_when_it_next_opens() -> None:
    with pytest.raises(BasketProblem) as refused:
        check_open([location("market", "market", windows=MORNINGS), location("fish", windows=EVENINGS)], SUNDAY_9AM, TZ)
    [problem] = refused.value.problems
    assert problem.startswith("stall Stall fish (摊, 'fish') is closed; it next opens Sun 2026-11-22 17:00")


def test_a_paused_store_and_a_closure_day_are_refused() -> None:
    with pytest.raises(BasketProblem) as refused:
        check_open(
            [
                location("market", "market", paused=True),
                location("fish", closures=(Closure(on=date(2026, 11, 22), reason="cleaning"),)),
            ],
            SUNDAY_9AM,
            TZ,
        )
    store, stall = refused.value.problems
    assert store.startswith("store Stall market")
    assert "busy and not taking orders" in store
    assert "fish" in stall
    assert "next opens Mon 2026-11-23 00:00" in stall


PRODUCTS = {
    "tofu": CatalogProduct("tofu", "tofu-stall", "market", "豆腐", "Tofu", StockUnit.PIECE, 300, None, True),
    "silken": CatalogProduct("silken", "tofu-stall", "market", "嫩豆腐", "Silken", StockUnit.PIECE, 250, None, True),
    "gone": CatalogProduct("gone", "tofu-stall", "market", "旧", "Gone", StockUnit.PIECE, 250, None, False),
    "rice": CatalogProduct("rice", "super", "super", "米", "Rice", StockUnit.PIECE, 4590, None, True),
}
MARKET = CatalogLocation("market", "market", None, "菜场", "Market", True)


def wanted(substitute: str | None, mode: SubstitutionMode = SubstitutionMode.PRODUCT) -> list[Wanted]:
    return [Wanted("tofu", 1, SubstitutionChoice(mode, substitute))]


def test_a_named_substitute_is_kept_on_the_line() -> None:
    [line] = price_basket(MARKET, "market", wanted("silken"), PRODUCTS)
    assert line.substitution.as_dict() == {"mode": "product", "product_id": "silken"}
    [line] = price_basket(MARKET, "market", [Wanted("tofu", 1)], PRODUCTS)
    assert line.substitution.mode is SubstitutionMode.NONE


@pytest.mark.parametrize(
    ("substitute", "problem"),
    [
        (None, "needs the product_id"),
        ("tofu", "its own substitute"),
        ("ghost", "unknown product 'ghost'"),
        ("rice", "sold by 'super'"),
        ("gone", "no longer sold"),
    ],
)
def test_a_named_substitute_must_be_sold_by_the_same_store(substitute: str | None, problem: str) -> None:
    with pytest.raises(BasketProblem, match=problem):
        price_basket(MARKET, "market", wanted(substitute), PRODUCTS)
