"""Packing one participant's bag of a deal's consolidated order, and the label the counter prints on it."""

from __future__ import annotations

import pytest

from services.inventory.domain.bag_packing import LinePacked, bag_lines, check_packable, labels_of, line_totals, pack
from services.inventory.domain.group_buys import HeldLine
from shared.errors import Conflict, Invalid
from shared.events.contracts import LineOutcome

HELD = {
    1: HeldLine(1, "eggs", "shop", "piece", 10, 1200),
    2: HeldLine(2, "pork", "shop", "g", 3000, 2990),  # ¥29.90 per kg, 500 g estimated per piece
}
BAG = {
    "number": 1,
    "holder": "r-1",
    "name": "王阿姨",
    "joined_by": "helper-1",
    "goods_fen": 2400 + 1495,
    "items": [
        {"line_no": 1, "product_id": "eggs", "quantity": 2, "price_fen": 2400},
        {"line_no": 2, "product_id": "pork", "quantity": 1, "price_fen": 1495, "unit": "g", "stock_quantity": 500},
    ],
}


def lines() -> list:
    return bag_lines(BAG["items"], HELD)  # type: ignore[arg-type]


def test_a_weighed_line_over_its_estimate_is_priced_at_its_weight_within_the_tolerance() -> None:
    bag = pack(1, lines(), [LinePacked(1, "filled"), LinePacked(2, "filled", 540)], tolerance_pct=10)
    pork = bag.items[1]
    assert (pork.quantity, pork.price_fen, pork.over_tolerance) == (540, 1615, False)  # 29.90 × 0.54, halves up
    assert (bag.estimated_fen, bag.goods_fen, bag.refund_fen, bag.weight_g) == (3895, 4015, -120, 540)


def test_over_the_tolerance_nobody_can_say_yes_at_the_counter_so_the_estimate_is_charged() -> None:
    bag = pack(1, lines(), [LinePacked(1, "filled"), LinePacked(2, "filled", 700)], tolerance_pct=10)
    assert (bag.items[1].price_fen, bag.items[1].over_tolerance, bag.goods_fen) == (1495, True, 3895)


def test_a_line_not_filled_is_refunded_at_the_price_paid() -> None:
    bag = pack(1, lines(), [LinePacked(1, "not_filled"), LinePacked(2, "filled", 480)], tolerance_pct=10)
    eggs = bag.items[0]
    assert (eggs.outcome, eggs.quantity, eggs.price_fen, eggs.estimated_fen) == (LineOutcome.OUT_OF_STOCK, 0, 0, 2400)
    assert bag.goods_fen == 1435  # 480 g of pork only
    assert line_totals([bag]) == {1: (0, 0), 2: (480, 1435)}


@pytest.mark.parametrize(
    ("told", "says"),
    [
        ([LinePacked(1, "filled")], "missing line"),
        ([LinePacked(1, "filled"), LinePacked(1, "filled"), LinePacked(2, "filled", 500)], "listed once"),
        ([LinePacked(1, "filled"), LinePacked(2, "filled")], "sold by weight"),
        ([LinePacked(1, "filled", 100), LinePacked(2, "filled", 500)], "counted in pieces"),
        ([LinePacked(1, "filled"), LinePacked(2, "filled", 500), LinePacked(9, "filled")], "no line"),
    ],
)
def test_a_bag_told_wrong_is_refused_saying_why(told: list[LinePacked], says: str) -> None:
    with pytest.raises(Invalid, match=says):
        pack(1, lines(), told, tolerance_pct=10)


def test_a_bag_is_packed_once_and_only_after_the_cutoff() -> None:
    check_packable(1, None, None, "ordered")
    with pytest.raises(Conflict, match="packed already"):
        check_packable(1, "2026-05-01", None, "ordered")
    with pytest.raises(Conflict, match="once the cutoff closed"):
        check_packable(1, None, None, "held")


def test_the_label_names_the_resident_their_number_and_what_is_in_the_bag() -> None:
    other = {**BAG, "number": 2, "holder": "s-2", "name": "s-2", "joined_by": "s-2"}
    bag = pack(1, lines(), [LinePacked(1, "not_filled"), LinePacked(2, "filled", 540)], tolerance_pct=10)
    packed = {**BAG, "packed": [i.as_dict() for i in bag.items], "packed_fen": bag.goods_fen}
    names = {1: ("鸡蛋", "Eggs"), 2: ("猪肉", "Pork")}
    first, second = labels_of([other, packed], HELD, names, "group buy: 2 bags for Courtyard")
    assert (first.number, first.of, first.name, first.helper, first.packed) == (1, 2, "王阿姨", "helper-1", True)
    assert [(i.name_en, i.pieces, i.quantity, i.filled) for i in first.items] == [
        ("Eggs", 2, 0, False),
        ("Pork", 1, 540, True),
    ]
    assert first.goods_fen == 1615
    assert (second.number, second.name, second.helper, second.packed, second.items[0].filled) == (
        2,
        "s-2",
        None,
        False,
        None,
    )
