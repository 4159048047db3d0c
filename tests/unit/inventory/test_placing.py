"""Placed orders decided in turn against the same stock (domain/placing.py), without any database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.inventory.domain.availability import Watched
from services.inventory.domain.placing import Placing
from services.inventory.domain.stock import StockLevel
from shared.events.contracts import OrderedLine, OrderPlaced, StockRejected, StockReserved
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit
from tests.unit.inventory.fakes import location

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def placed(order_id: str, *lines: tuple[str, int]) -> OrderPlaced:
    return OrderPlaced(
        order_id=order_id,
        store_id="shop",
        placed_by="u",
        placed_for="u",
        fulfilment_mode=FulfilmentMode.PICKUP,
        total_fen=0,
        lines=[
            OrderedLine(line_no=n, product_id=p, location_id="shop", quantity=q, unit=StockUnit.PIECE, stock_quantity=q)
            for n, (p, q) in enumerate(lines, 1)
        ],
    )


def placing() -> Placing[str]:
    levels = {pid: StockLevel(pid, "shop", "piece", on_hand, 0) for pid, on_hand in (("tofu", 3), ("eggs", 10))}
    watched = {"tofu": Watched("tofu", "shop", "shop", 2, 3, False, "in_stock")}
    return Placing({"shop": location("shop", LocationKind.SHOP)}, levels, watched, "UTC", 600.0)


def test_an_earlier_order_takes_the_stock_a_later_one_then_cannot_have() -> None:
    run = placing()
    assert run.place("e1", placed("o1", ("tofu", 2), ("eggs", 1)), NOW)
    assert not run.place("e2", placed("o2", ("eggs", 4), ("tofu", 2)), NOW), "one tofu left: none of o2"
    assert run.place("e3", placed("o3", ("tofu", 1)), NOW)
    assert {pid: lvl.reserved for pid, lvl in run.levels.items()} == {"tofu": 3, "eggs": 1}
    assert [h.order_id for h in run.holds] == ["o1", "o1", "o3"]
    assert [(m.order_id, m.product_id, m.reserved_delta) for m in run.movements] == [
        ("o1", "eggs", 1),
        ("o1", "tofu", 2),
        ("o3", "tofu", 1),
    ]
    assert [r.order_id for r in run.reservations] == ["o1", "o3"]
    assert [p.accept_deadline for p in run.parts] == [NOW + timedelta(seconds=600)] * 2


def test_each_answer_answers_its_own_cause_in_order_with_the_levels_it_passed() -> None:
    run = placing()
    run.place("e1", placed("o1", ("tofu", 2)), NOW)
    run.place("e2", placed("o2", ("tofu", 2)), NOW)
    run.place("e3", placed("o3", ("tofu", 1)), NOW)
    said = [(cause, type(event).__name__, getattr(event, "level", None)) for cause, event in run.said]
    assert said == [
        ("e1", "StockReserved", None),
        ("e1", "StockLevelChanged", "low"),
        ("e1", "LowStock", None),
        ("e2", "StockRejected", None),
        ("e3", "StockReserved", None),
        ("e3", "StockLevelChanged", "out"),
    ]
    rejected = run.said[3][1]
    assert isinstance(rejected, StockRejected)
    assert (rejected.reason, rejected.short_lines[0].available) == ("out_of_stock", 1)
    assert isinstance(run.said[0][1], StockReserved)
    assert run.watched["tofu"].low_flagged
