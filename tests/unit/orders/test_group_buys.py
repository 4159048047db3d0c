"""The group buy aggregate: the rules a leader's deal and the neighbours' shares live by."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.orders.domain.group_buys import (
    MOVES,
    DealItem,
    DealStatus,
    DealTerms,
    GroupBuy,
    PickupPoint,
    ShareStatus,
    Window,
    settle_share,
)
from shared.errors import Conflict, Invalid
from shared.vocabulary import geo

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
SHOP = geo.Point(32.04, 118.78)
COURTYARD = PickupPoint("place", "Courtyard of building 3", geo.Point(32.042, 118.781))
EGGS = DealItem(1, "eggs", "shop", "鸡蛋", "Eggs", "piece", 1500, 1200, per_person_limit=3, cap=10)
MILK = DealItem(2, "milk", "shop", "牛奶", "Milk", "piece", 600, 500, per_person_limit=5, cap=20)


def terms(**changes: Any) -> DealTerms:
    base = DealTerms(
        title="Eggs and milk",
        items=[EGGS, MILK],
        minimum_kind="participants",
        minimum=2,
        cutoff_at=T0 + timedelta(hours=4),
        pickup=COURTYARD,
        window=Window(T0 + timedelta(hours=5), T0 + timedelta(hours=7)),
        uncollected="return_refund",
    )
    return replace(base, **changes)


def proposed(**changes: Any) -> GroupBuy:
    return GroupBuy.propose(id="gb-1", store_id="shop", leader="leader", terms=terms(**changes), shop=SHOP, now=T0)


def opened(**changes: Any) -> GroupBuy:
    deal = proposed(**changes)
    deal.accept("staff")
    assert deal.open()
    return deal


def test_a_deal_opens_to_neighbours_only_after_the_shop_accepts_and_its_stock_is_held() -> None:
    deal = proposed()
    assert deal.status is DealStatus.PROPOSED
    with pytest.raises(Conflict, match="not open to neighbours yet"):
        deal.set_share("neighbour", "neighbour", [("eggs", 1)], T0)
    deal.accept("staff")
    with pytest.raises(Conflict, match="not open to neighbours yet"):
        deal.set_share("neighbour", "neighbour", [("eggs", 1)], T0)
    assert deal.open()
    assert deal.set_share("neighbour", "neighbour", [("eggs", 1)], T0).status is ShareStatus.JOINED


def test_stock_held_after_a_cancel_does_not_reopen_the_deal() -> None:
    deal = proposed()
    deal.accept("staff")
    deal.cancel("leader", "changed my mind", T0)
    assert not deal.open()
    assert deal.status is DealStatus.CANCELLED


def test_every_ended_state_is_final_and_every_move_is_in_the_table() -> None:
    for status in (DealStatus.CLOSED, DealStatus.FAILED, DealStatus.DECLINED, DealStatus.CANCELLED):
        assert MOVES[status] == frozenset()
    deal = opened()
    with pytest.raises(Conflict, match="open and cannot become accepted"):
        deal.move(DealStatus.ACCEPTED)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"window": Window(T0 + timedelta(hours=1), T0 + timedelta(hours=3))}, "not after the cutoff"),
        ({"cutoff_at": T0 - timedelta(minutes=1)}, "already passed"),
        ({"window": Window(T0 + timedelta(hours=3), T0 + timedelta(hours=6))}, "starts before the cutoff"),
        ({"uncollected": "second_window"}, "needs the second pickup window"),
        ({"pickup": PickupPoint("place", "Across the river", geo.Point(32.06, 118.80))}, "15-minute circle"),
        ({"items": [replace(EGGS, per_person_limit=11)]}, "between 1 and the cap"),
        ({"items": [replace(EGGS, group_price_fen=1600)]}, "above the shelf price"),
        ({"items": [replace(EGGS, unit="g")]}, "sold by weight"),
        ({"minimum_kind": "pieces", "minimum": 31}, "can never be met"),
        ({"commission_bp": 5_000}, "commission"),
    ],
)
def test_a_deal_that_breaks_a_rule_is_refused_saying_why(changes: dict[str, Any], says: str) -> None:
    with pytest.raises(Invalid, match=says):
        proposed(**changes)


def test_a_pickup_point_a_short_walk_away_is_inside_the_circle() -> None:
    assert geo.walking_minutes(SHOP, COURTYARD.point) <= geo.CIRCLE_WALK_MINUTES
    assert proposed().pickup == COURTYARD


def test_joining_keeps_within_the_per_person_limit_and_the_remaining_cap() -> None:
    deal = opened()
    with pytest.raises(Conflict, match="at most 3 per person"):
        deal.set_share("a", "a", [("eggs", 4)], T0)
    for who in ("a", "b", "c"):
        deal.set_share(who, who, [("eggs", 3)], T0)
    assert deal.remaining()[1] == 1
    with pytest.raises(Conflict, match="only 1 left of the deal's 10") as refused:
        deal.set_share("d", "d", [("eggs", 2)], T0)
    assert refused.value.extra["remaining"] == 1
    deal.set_share("d", "d", [("eggs", 1)], T0)
    assert deal.remaining()[1] == 0


def test_a_share_changed_counts_only_once_against_the_cap() -> None:
    deal = opened()
    deal.set_share("a", "a", [("eggs", 3)], T0)
    deal.set_share("b", "b", [("eggs", 3)], T0)
    deal.set_share("c", "c", [("eggs", 3)], T0)
    deal.set_share("a", "a", [("eggs", 3), ("milk", 2)], T0)  # a's own 3 eggs are not counted twice
    assert deal.taken() == {1: 9, 2: 2}


def test_joining_after_the_cutoff_is_refused() -> None:
    deal = opened()
    with pytest.raises(Conflict, match="cutoff"):
        deal.set_share("a", "a", [("eggs", 1)], deal.cutoff_at)


def test_a_product_outside_the_deal_is_refused() -> None:
    with pytest.raises(Invalid, match="not in this deal"):
        opened().set_share("a", "a", [("rice", 1)], T0)


def test_settling_a_share_pays_the_difference_and_refunds_what_it_no_longer_costs() -> None:
    deal = opened()
    share = deal.set_share("a", "a", [("eggs", 2)], T0)
    paid = settle_share(deal, share)
    assert [p.amount_fen for p in paid] == [-2400]
    share.postings += paid
    share = deal.set_share("a", "a", [("eggs", 1)], T0)
    back = settle_share(deal, share)
    assert [p.amount_fen for p in back] == [1200]
    share.postings += back
    assert settle_share(deal, share) == []
    deal.leave("a", T0)
    share.postings += settle_share(deal, share)
    money = deal.money_of(share)
    assert (money.paid_fen, money.refund_fen, money.due_fen, money.reconciles) == (2400, 2400, 0, True)


def test_the_cutoff_closes_a_deal_that_met_its_minimum_and_numbers_the_bags_in_joining_order() -> None:
    deal = opened()
    deal.set_share("b", "b", [("eggs", 1)], T0 + timedelta(minutes=2))
    deal.set_share("a", "a", [("milk", 2)], T0 + timedelta(minutes=1))
    deal.set_share("c", "c", [("milk", 1)], T0 + timedelta(minutes=3))
    deal.leave("c", T0 + timedelta(minutes=4))
    assert deal.cut_off() == []
    assert deal.status is DealStatus.CLOSED
    assert [(s.holder, s.number) for s in deal.joined()] == [("a", 1), ("b", 2)]


def test_the_cutoff_fails_a_deal_short_of_its_minimum_and_refunds_every_share() -> None:
    deal = opened(minimum_kind="pieces", minimum=5)
    deal.set_share("a", "a", [("eggs", 2)], T0)
    refunded = deal.cut_off()
    assert [s.holder for s in refunded] == ["a"]
    assert (deal.status, deal.reason, refunded[0].status) == (
        DealStatus.FAILED,
        "minimum_not_met",
        ShareStatus.REFUNDED,
    )


def test_a_deal_never_opened_fails_at_its_cutoff() -> None:
    deal = proposed()
    deal.cut_off()
    assert (deal.status, deal.reason) == (DealStatus.FAILED, "not_opened")


def test_a_deal_is_cancelled_only_before_its_cutoff() -> None:
    deal = opened()
    with pytest.raises(Conflict, match="only before its cutoff"):
        deal.cancel("leader", "late", deal.cutoff_at)


def test_totals_show_the_leaders_commission_out_of_the_shops_takings_and_the_platform_fee() -> None:
    deal = opened(commission_bp=250, platform_fee_fen=10)
    deal.set_share("a", "a", [("eggs", 3)], T0)
    deal.set_share("b", "b", [("milk", 1)], T0)
    totals = deal.totals()
    assert (totals.participants, totals.goods_fen, totals.platform_fee_fen) == (2, 4100, 20)
    assert (totals.leader_commission_fen, totals.shop_takings_fen) == (103, 3997)  # 2.5 % of 41.00, halves up
    assert opened().totals().leader_commission_fen == 0  # zero by default


def test_a_neighbour_back_after_leaving_keeps_one_ledger_that_reconciles_and_joins_at_the_back() -> None:
    deal = opened()
    share = deal.set_share("a", "a", [("eggs", 2)], T0)
    share.postings += settle_share(deal, share)
    deal.set_share("b", "b", [("eggs", 1)], T0 + timedelta(minutes=1))
    deal.leave("a", T0 + timedelta(minutes=2))
    share.postings += settle_share(deal, share)
    back = deal.set_share("a", "a", [("eggs", 1)], T0 + timedelta(minutes=3))
    back.postings += settle_share(deal, back)
    assert back is share
    money = deal.money_of(back)
    assert (money.paid_fen, money.refund_fen, money.due_fen, money.reconciles) == (3600, 2400, 1200, True)
    assert [s.holder for s in deal.joined()] == ["b", "a"]
