"""The stock behind a group buy: its whole cap held or nothing, and the cutoff's one accepted order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.inventory.domain.fulfilment import PartStatus
from services.inventory.domain.group_buys import DealStockStatus, consolidate, hold
from services.inventory.domain.reservation import ReservationStatus
from services.inventory.domain.stock import StockLevel
from shared.errors import Conflict
from shared.events.contracts import BagItem, DealBag, DealLine, DealPickup, DealTotal, GroupBuyAccepted, GroupBuyClosed
from shared.vocabulary.units import StockUnit

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def levels() -> dict[str, StockLevel]:
    return {
        "eggs": StockLevel("eggs", "shop", "piece", on_hand=40, reserved=5),
        "milk": StockLevel("milk", "shop", "piece", on_hand=10, reserved=0),
    }


def accepted(caps: dict[str, int]) -> GroupBuyAccepted:
    return GroupBuyAccepted(
        deal_id="gb-1",
        store_id="shop",
        leader="leader",
        accepted_by="clerk",
        cutoff_at=T0 + timedelta(hours=2),
        lines=[
            DealLine(
                line_no=n,
                product_id=pid,
                location_id="shop",
                unit=StockUnit.PIECE,
                cap=cap,
                stock_quantity=cap,
                group_price_fen=100,
            )
            for n, (pid, cap) in enumerate(caps.items(), start=1)
        ],
    )


def closed(eggs: int) -> GroupBuyClosed:
    return GroupBuyClosed(
        deal_id="gb-1",
        store_id="shop",
        order_id="gb-1",
        leader="leader",
        totals=[
            DealTotal(
                line_no=1,
                product_id="eggs",
                location_id="shop",
                unit=StockUnit.PIECE,
                quantity=eggs,
                stock_quantity=eggs,
                unit_price_fen=100,
                estimated_fen=eggs * 100,
            )
        ],
        bags=[
            DealBag(
                number=1,
                holder="wang",
                name="wang",
                joined_by="wang",
                items=[BagItem(line_no=1, product_id="eggs", quantity=eggs, price_fen=eggs * 100)],
                goods_fen=eggs * 100,
            )
        ],
        goods_fen=eggs * 100,
        pickup=DealPickup(
            kind="place", name="Courtyard", lat=32.0, lon=118.0, window_start=T0, window_end=T0 + timedelta(hours=1)
        ),
    )


def test_every_cap_is_held_at_once() -> None:
    stock = levels()
    held = hold(accepted({"eggs": 30, "milk": 10}), stock, T0)
    assert held.stock.status is DealStockStatus.HELD
    assert [(h.product_id, h.quantity) for h in held.holds] == [("eggs", 30), ("milk", 10)]
    assert (stock["eggs"].reserved, stock["milk"].reserved) == (35, 10)


def test_one_cap_beyond_what_is_available_holds_nothing_and_names_the_available_quantity() -> None:
    stock = levels()
    held = hold(accepted({"eggs": 30, "milk": 11}), stock, T0)
    assert held.stock.status is DealStockStatus.REFUSED
    assert [(s.product_id, s.requested, s.available) for s in held.short] == [("milk", 11, 10)]
    assert (held.holds, stock["eggs"].reserved, stock["milk"].reserved) == ([], 5, 0)


def test_the_cutoff_makes_one_accepted_order_keeping_what_the_bags_took() -> None:
    held = hold(accepted({"eggs": 30, "milk": 10}), levels(), T0)
    order = consolidate(held.stock, closed(eggs=7), T0)
    assert order.reservation.status is ReservationStatus.ACCEPTED
    assert (order.reservation.order_id, order.reservation.shown_fen) == ("gb-1", 700)
    assert order.keep == {1: 7, 2: 0}  # milk nobody took goes back whole
    assert [(p.location_id, p.status) for p in order.parts] == [("shop", PartStatus.WAITING)]  # accepted on saving
    assert held.stock.status is DealStockStatus.ORDERED


def test_bags_can_never_take_more_than_the_deal_holds() -> None:
    held = hold(accepted({"eggs": 5}), levels(), T0)
    with pytest.raises(Conflict, match="more than the 5 held"):
        consolidate(held.stock, closed(eggs=6), T0)
    assert held.stock.status is DealStockStatus.HELD
