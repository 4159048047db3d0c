"""A closed deal's bags as the counter packed them: each share settled to its bag, the deal's money their sum."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from services.orders.domain.group_buys import (
    DealItem,
    DealTerms,
    GroupBuy,
    PickupPoint,
    Share,
    Window,
    allocate,
    cash_taken,
    settle_share,
)
from services.orders.domain.ledger import Account, Kind
from shared.errors import Conflict, Invalid
from shared.vocabulary import geo

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
SHOP = geo.Point(32.04, 118.78)
EGGS = DealItem(1, "eggs", "shop", "鸡蛋", "Eggs", "piece", 1500, 1200, per_person_limit=3, cap=10)
# Weighed: 500 g estimated per piece at ¥29.90/kg, so a piece is paid ¥14.95 at joining.
PORK = DealItem(2, "pork", "shop", "猪肉", "Pork", "g", 3500, 2990, per_person_limit=2, cap=6, grams_per_piece=500)


def opened(*, commission_bp: int = 0, cash: bool = False, items: list[DealItem] | None = None) -> GroupBuy:
    terms = DealTerms(
        title="Eggs and pork",
        items=items or [EGGS, PORK],
        minimum_kind="participants",
        minimum=2,
        cutoff_at=T0 + timedelta(hours=4),
        pickup=PickupPoint("place", "Courtyard", geo.Point(32.042, 118.781)),
        window=Window(T0 + timedelta(hours=5), T0 + timedelta(hours=7)),
        uncollected="return_refund",
        commission_bp=commission_bp,
        cash_allowed=cash,
    )
    deal = GroupBuy.propose(id="gb-1", store_id="shop", leader="leader", terms=terms, shop=SHOP, now=T0)
    deal.accept("staff")
    deal.open()
    return deal


def closed(*, commission_bp: int = 0, cash: bool = False) -> tuple[GroupBuy, list[Share]]:
    """Three bags: a (2 eggs, 1 pork), b (3 eggs), c (1 egg, 2 pork); with `cash`, a pays in cash at pickup."""
    deal = opened(commission_bp=commission_bp, cash=cash)
    shares = []
    for n, (holder, wanted) in enumerate(
        [("a", [("eggs", 2), ("pork", 1)]), ("b", [("eggs", 3)]), ("c", [("eggs", 1), ("pork", 2)])]
    ):
        payment = "cash_at_pickup" if cash and holder == "a" else "balance"
        share = deal.set_share(holder, holder, wanted, T0 + timedelta(minutes=n), payment)
        share.postings += settle_share(deal, share)
        shares.append(share)
    codes = (f"{n:06d}" for n in count(1))
    deal.cut_off(lambda: next(codes))
    return deal, shares


def test_a_weighed_item_is_paid_at_its_estimate_when_joining() -> None:
    deal, (a, _, c) = closed()
    assert (deal.goods_fen(a.pieces), deal.goods_fen(c.pieces)) == (2 * 1200 + 1495, 1200 + 2990)
    assert PORK.stock_quantity(2) == 1000


def test_each_share_settles_to_its_bag_and_the_deal_is_the_sum_of_its_bags_to_the_fen() -> None:
    deal, (a, b, c) = closed(commission_bp=250)
    # a: the pork weighed 540 g (over its 500 g estimate): ¥16.15, 1.20 more than paid.
    # b: one of the three eggs could not be filled: refunded the ¥12.00 paid for it.
    # c: as paid.
    for share, goods in ((a, 2400 + 1615), (b, 2400), (c, 1200 + 2990)):
        packed = deal.bag_packed(share.number or 0, goods, [])
        assert packed is share
        share.postings += settle_share(deal, share)
    assert [p.kind for p in a.postings] == [Kind.PAID, Kind.EXTRA_CHARGE]
    assert a.postings[-1].amount_fen == -120
    assert (b.postings[-1].kind, b.postings[-1].amount_fen) == (Kind.REFUND, 1200)
    assert [p.kind for p in c.postings] == [Kind.PAID]
    for share in (a, b, c):
        money = deal.money_of(share)
        assert money.reconciles, share.holder
        assert money.due_fen == share.packed_fen
    totals = deal.totals()
    bags = deal.bag_money()
    assert totals.goods_fen == sum(b.goods_fen for b in bags) == 4015 + 2400 + 4190
    assert totals.leader_commission_fen == sum(b.leader_commission_fen for b in bags) == 265  # 2.5 % of 106.05
    assert totals.shop_takings_fen == sum(b.shop_takings_fen for b in bags) == 10605 - 265
    assert deal.bag_packed(a.number or 0, 1, []) is None  # a bag is settled once; a repeat changes nothing


def test_commission_is_zero_by_default_and_allocated_to_the_fen() -> None:
    deal, _ = closed()
    assert deal.totals().leader_commission_fen == 0
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(allocate(265, [4015, 2400, 4190])) == 265
    assert allocate(0, [0, 0]) == [0, 0]


def test_cash_at_pickup_never_touches_the_balance_and_is_taken_exactly_at_hand_over() -> None:
    deal, (share, *_) = closed(cash=True)
    assert share.postings == []  # nothing from the balance at joining
    deal.bag_packed(1, 2400, [])  # an egg short: the cash due drops, nothing is refunded
    assert settle_share(deal, share) == []
    assert deal.money_of(share).reconciles  # nothing taken before the hand-over, and nothing due on the balance
    deal.confirm_arrival("leader", T0 + timedelta(hours=5))
    with pytest.raises(Invalid, match="paid in cash at pickup"):
        deal.check_out(1, share.code or "", "leader", T0 + timedelta(hours=5))
    with pytest.raises(Invalid, match="in cash"):
        deal.check_out(1, share.code or "", "leader", T0 + timedelta(hours=5), cash_fen=1)
    assert deal.share_due_fen(share) == 2400
    deal.check_out(1, share.code or "", "helper-1", T0 + timedelta(hours=5), cash_fen=2400)
    posted = cash_taken(deal, share)
    assert [(p.kind, p.account, p.amount_fen) for p in posted] == [(Kind.CASH_COLLECTED, Account.CASH, 2400)]
    share.postings += posted
    assert cash_taken(deal, share) == []  # once
    assert (share.cash_by, deal.money_of(share).reconciles) == ("helper-1", True)


def test_cash_is_refused_where_the_deal_does_not_allow_it_and_on_a_balance_bag() -> None:
    with pytest.raises(Invalid, match="did not allow cash"):
        opened().set_share("z", "z", [("eggs", 1)], T0, "cash_at_pickup")
    deal, (a, *_) = closed()
    deal.confirm_arrival("leader", T0 + timedelta(hours=5))
    with pytest.raises(Invalid, match="take no cash"):
        deal.check_out(a.number or 0, a.code or "", "leader", T0 + timedelta(hours=5), cash_fen=100)


def test_a_share_keeps_how_it_pays_until_it_leaves() -> None:
    deal = opened(cash=True)
    deal.set_share("a", "a", [("eggs", 1)], T0, "cash_at_pickup")
    with pytest.raises(Conflict, match="leave and join again"):
        deal.set_share("a", "a", [("eggs", 2)], T0, "balance")
    deal.leave("a", T0)
    assert deal.set_share("a", "a", [("eggs", 2)], T0, "balance").payment == "balance"


def test_a_weighed_item_needs_its_estimate_per_piece() -> None:
    with pytest.raises(Invalid, match="no estimated weight per piece"):
        opened(items=[replace(PORK, grams_per_piece=None)])
