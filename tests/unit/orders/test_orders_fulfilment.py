"""Orders' view of the shop side: parts, picking, weights, substitutions, the bag and its handover."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.orders.domain import approvals
from services.orders.domain import fulfilment as shop
from services.orders.domain.basket import CatalogLocation, CatalogProduct, Wanted, price_basket
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import LineStatus, Substitute, SubstituteNumbers, WeightNumbers
from services.orders.domain.order import Order, Packed
from shared.events.contracts import LineOutcome
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus, TransitionRefused
from shared.vocabulary.units import StockUnit
from tests.unit.orders.conftest import T0, placed

MARKET = CatalogLocation("market", "market", None, "菜场", "Market", True)
PRODUCTS = {
    "carp": CatalogProduct("carp", "fish-stall", "market", "草鱼", "Grass carp", StockUnit.GRAM, 1800, 600, True),
    "tofu": CatalogProduct("tofu", "tofu-stall", "market", "豆腐", "Tofu", StockUnit.PIECE, 300, None, True),
}
PICKUP_POINT = {"location_id": "market", "name_zh": "菜场", "name_en": "Market"}


def order(mode: str = "pickup", status: OrderStatus = OrderStatus.ACCEPTED) -> Order:
    """carp: 2 pieces ≈ 1200 g, ¥21.60 at fish-stall; tofu: 3 pieces, ¥9.00 at tofu-stall."""
    lines = price_basket(MARKET, "market", [Wanted("carp", 2), Wanted("tofu", 3)], PRODUCTS)
    o = placed(
        fulfilment=Fulfilment(FulfilmentMode(mode)),
        lines=lines,
    )
    o.confirm(T0)
    if status is not OrderStatus.CONFIRMED:
        o.accept(T0, "staff")
    if status is OrderStatus.PICKING:
        shop.picking_started(o, "fish-stall", "staff", T0)
    return o


def packed(final_fen: int, shown_fen: int = 3060) -> Packed:
    return Packed(
        final_fen=final_fen,
        difference_fen=final_fen - shown_fen,
        bags=2,
        weight_g=2100,
        pickup_point=PICKUP_POINT,
        handover_code="123456",
    )


def test_a_stall_refusing_refunds_its_lines_and_the_rest_goes_on() -> None:
    o = order(status=OrderStatus.CONFIRMED)
    shop.part_rejected(o, "tofu-stall", "shop_timeout", None, [2], 900, at=T0)
    tofu = o.line(2)
    assert tofu is not None
    assert (tofu.status, tofu.final_fen, tofu.refund_fen) == (LineStatus.REFUNDED, 0, 900)
    assert o.status is OrderStatus.CONFIRMED
    assert o.refund_fen == 900
    assert "tofu-stall refused its part (shop_timeout): line 2 refunded" in o.timeline[-1].cause
    assert 2 in o.changed_lines


def test_picking_starts_once_and_later_stalls_are_facts() -> None:
    o = order()
    shop.picking_started(o, "fish-stall", "a", T0)
    shop.picking_started(o, "tofu-stall", "b", T0)
    assert o.status is OrderStatus.PICKING
    assert [e.status for e in o.timeline][-2:] == [OrderStatus.PICKING, None]
    with pytest.raises(TransitionRefused, match="can no longer be cancelled"):
        o.cancel(T0, "helper-1")


def test_a_weighed_line_is_priced_at_its_weight_and_the_timeline_says_how_heavy() -> None:
    o = order(status=OrderStatus.PICKING)
    shop.line_picked(o, 1, 1100, 1980, 2160, by="staff", at=T0)
    carp = o.line(1)
    assert carp is not None
    assert (carp.status, carp.final_quantity, carp.final_fen, carp.refund_fen) == (LineStatus.PICKED, 1100, 1980, 180)
    assert o.timeline[-1].detail["weight_g"] == 1100
    assert "1100 g" in o.timeline[-1].cause


def test_a_heavy_line_waits_for_approval_then_is_charged_as_settled() -> None:
    o = order(status=OrderStatus.PICKING)
    deadline = T0 + timedelta(minutes=5)
    shop.weight_approval_requested(
        o,
        1,
        estimated_quantity=1200,
        actual_quantity=1400,
        over_pct=16.7,
        estimated_fen=2160,
        actual_fen=2520,
        deadline=deadline,
        at=T0,
    )
    carp = o.line(1)
    assert carp is not None
    assert carp.status is LineStatus.AWAITING_APPROVAL
    assert carp.pending is not None
    assert isinstance(carp.pending.numbers, WeightNumbers)
    assert carp.pending.numbers.actual_g == 1400
    assert carp.pending.deadline == deadline

    approvals.answer(o, 1, True, "grandma", T0)
    assert carp.pending is not None
    assert carp.pending.answer is True
    shop.weight_settled(o, 1, True, 2520, "shopper", T0)
    assert (carp.status, carp.final_quantity, carp.final_fen, carp.pending) == (LineStatus.PICKED, 1400, 2520, None)
    assert carp.refund_fen == 0  # dearer, not cheaper: nothing comes back


def test_no_answer_charges_the_estimate_and_a_decline_sends_the_line_back_to_picking() -> None:
    o = order(status=OrderStatus.PICKING)
    ask = {
        "estimated_quantity": 1200,
        "actual_quantity": 1400,
        "over_pct": 16.7,
        "estimated_fen": 2160,
        "actual_fen": 2520,
        "deadline": T0 + timedelta(minutes=5),
        "at": T0,
    }
    shop.weight_approval_requested(o, 1, **ask)  # type: ignore[arg-type]
    shop.weight_settled(o, 1, False, 2160, "timeout", T0)
    carp = o.line(1)
    assert carp is not None
    assert (carp.status, carp.final_quantity, carp.final_fen) == (LineStatus.PICKED, 1400, 2160)
    assert "no answer in time" in o.timeline[-1].cause

    o = order(status=OrderStatus.PICKING)
    shop.weight_approval_requested(o, 1, **ask)  # type: ignore[arg-type]
    shop.weight_settled(o, 1, False, 0, "shopper", T0)
    carp = o.line(1)
    assert carp is not None
    assert (carp.status, carp.final_fen, carp.pending) == (LineStatus.RESERVED, None, None)
    shop.line_out_of_stock(o, 1, 2160, "staff", T0)  # no lighter piece
    assert (carp.status, carp.refund_fen) == (LineStatus.OUT_OF_STOCK, 2160)


SILKEN = Substitute("silken", "tofu-stall", "嫩豆腐", "Silken tofu", "piece", 3, 750)


def test_a_substitute_needing_approval_then_accepted_replaces_the_line_at_its_price() -> None:
    o = order(status=OrderStatus.PICKING)
    shop.substitution_proposed(o, 2, SILKEN, True, T0 + timedelta(minutes=5), by="staff", at=T0)
    tofu = o.line(2)
    assert tofu is not None
    assert tofu.status is LineStatus.AWAITING_APPROVAL
    assert tofu.pending is not None
    assert isinstance(tofu.pending.numbers, SubstituteNumbers)
    assert tofu.pending.numbers.substitute.name_en == "Silken tofu"
    shop.substitution_settled(o, 2, True, 750, 0, decided_by="shopper", at=T0)
    assert (tofu.status, tofu.final_fen, tofu.refund_fen, tofu.pending) == (LineStatus.SUBSTITUTED, 750, 150, None)
    assert tofu.substitute is not None
    assert tofu.substitute.accepted is True


def test_a_declined_substitute_refunds_the_line() -> None:
    o = order(status=OrderStatus.PICKING)
    shop.substitution_proposed(o, 2, SILKEN, True, T0 + timedelta(minutes=5), by="staff", at=T0)
    shop.substitution_settled(o, 2, False, 0, 900, decided_by="timeout", at=T0)
    tofu = o.line(2)
    assert tofu is not None
    assert (tofu.status, tofu.refund_fen) == (LineStatus.REFUNDED, 900)
    assert tofu.substitute is not None
    assert tofu.substitute.accepted is False
    assert "no answer in time" in o.timeline[-1].cause


def test_a_substitute_within_the_preference_needs_no_question() -> None:
    o = order(status=OrderStatus.PICKING)
    shop.substitution_proposed(o, 2, SILKEN, False, None, by="staff", at=T0)
    tofu = o.line(2)
    assert tofu is not None
    assert tofu.pending is None
    assert tofu.status is LineStatus.RESERVED
    shop.substitution_settled(o, 2, True, 750, 0, decided_by="rule", at=T0)
    assert tofu.status is LineStatus.SUBSTITUTED
    assert "within the shopper's preference" in o.timeline[-1].cause


def test_approval_rules() -> None:
    o = order(status=OrderStatus.PICKING)
    with pytest.raises(approvals.NoSuchLine):
        approvals.answer(o, 9, True, "grandma", T0)
    with pytest.raises(approvals.ApprovalRefused, match="no question waiting"):
        approvals.answer(o, 1, True, "grandma", T0)
    shop.substitution_proposed(o, 2, SILKEN, True, T0 + timedelta(minutes=5), by="staff", at=T0)
    with pytest.raises(approvals.ApprovalRefused, match="ran out"):
        approvals.answer(o, 2, True, "grandma", T0 + timedelta(minutes=6))
    answered = approvals.answer(o, 2, False, "helper-1", T0)
    assert (answered.kind.value, answered.answer, answered.answered_by) == ("substitution", False, "helper-1")
    assert o.timeline[-1].cause == "line 2: the substitute declined by helper-1"
    with pytest.raises(approvals.ApprovalRefused, match="already answered: helper-1 declined"):
        approvals.answer(o, 2, True, "grandma", T0)


def test_packing_a_pickup_order_makes_it_ready_with_the_final_price_and_refund() -> None:
    o = order(status=OrderStatus.PICKING)
    shop.line_picked(o, 1, 1100, 1980, 2160, by="staff", at=T0)
    shop.line_out_of_stock(o, 2, 900, "staff", T0)
    shop.part_packed(o, "fish-stall", 1, 1100, "staff", T0)
    shop.order_packed(
        o, packed(1980), 3060, [(1, LineOutcome.PICKED, 1100, 1980), (2, LineOutcome.OUT_OF_STOCK, 0, 0)], T0
    )
    assert o.status is OrderStatus.READY_FOR_PICKUP
    assert [e.status for e in o.timeline if e.status][-2:] == [OrderStatus.PACKED, OrderStatus.READY_FOR_PICKUP]
    assert o.timeline[-1].cause == "ready at the counter"
    assert o.packed is not None
    assert o.packed.final_fen == 1980
    assert o.refund_fen == 180 + 900  # the lighter fish and the missing tofu
    assert all("123456" not in str(e.detail) for e in o.timeline), "the handover code stays off the timeline"

    shop.handed_over(o, "shopper", "staff", T0)
    assert o.status is OrderStatus.COLLECTED


def test_a_delivery_goes_out_with_the_rider_and_a_returned_bag_fails_then_returns() -> None:
    o = order(mode="delivery", status=OrderStatus.PICKING)
    shop.order_packed(o, packed(3060), 3060, [(1, LineOutcome.PICKED, 1200, 2160), (2, LineOutcome.PICKED, 3, 900)], T0)
    assert o.status is OrderStatus.PACKED
    shop.handed_over(o, "rider", "staff", T0)
    assert o.status is OrderStatus.OUT_FOR_DELIVERY
    shop.bag_returned(o, 3060, [], "staff", T0)
    assert [e.status for e in o.timeline if e.status][-2:] == [OrderStatus.DELIVERY_FAILED, OrderStatus.RETURNED]
    failed = next(e for e in o.timeline if e.status is OrderStatus.DELIVERY_FAILED)
    assert failed.cause == "bag returned to the shop"
    assert o.refund_fen == 3060


def test_late_and_foreign_facts_are_noted_and_change_nothing() -> None:
    o = order(status=OrderStatus.CONFIRMED)
    o.cancel(T0, "helper-1")
    shop.line_picked(o, 1, 1100, 1980, 2160, by="staff", at=T0)
    shop.picking_started(o, "fish-stall", "staff", T0)
    shop.order_packed(o, packed(1980), 3060, [], T0)
    shop.handed_over(o, "rider", "staff", T0)
    assert o.status is OrderStatus.CANCELLED
    line = o.line(1)
    assert line is not None
    assert line.status is LineStatus.RESERVED
    assert o.packed is None
    assert all("nothing changed" in e.cause for e in o.timeline[-4:])

    o = order(status=OrderStatus.PICKING)
    shop.line_picked(o, 7, 1, 100, 100, by="staff", at=T0)
    assert "line 7, which this order does not have" in o.timeline[-1].cause
