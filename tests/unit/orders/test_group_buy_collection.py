"""Collecting a group buy's bags: a code per bag given at the close, used once, after arrival; at the window's
end the uncollected bags follow the deal's rule (back to the shop and refunded, or one second window)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from services.orders.domain.group_buys import GroupBuy, ShareStatus, Window, settle_share
from services.orders.domain.ledger import Kind
from shared.errors import Conflict, NotFound, WrongCode
from tests.unit.orders.test_group_buys import T0, opened

CUTOFF = T0 + timedelta(hours=4)
WINDOW_END = T0 + timedelta(hours=7)
SECOND = Window(T0 + timedelta(hours=24), T0 + timedelta(hours=26))


def codes() -> Iterator[str]:
    yield from ("111111", "222222", "333333")


def closed(**changes: Any) -> GroupBuy:
    """Three neighbours joined and paid; the cutoff closed the deal with codes 111111, 222222, 333333."""
    deal = opened(**changes)
    for n, who in enumerate(["wang", "li", "sun"]):
        share = deal.set_share(who, who, [("eggs", 1)], T0 + timedelta(minutes=n))
        share.postings.extend(settle_share(deal, share))
    given = codes()
    assert deal.cut_off(lambda: next(given)) == []
    return deal


def test_the_close_gives_each_bag_its_own_six_digit_code_and_the_window_end_as_deadline() -> None:
    deal = opened()
    for who in ["wang", "li"]:
        deal.set_share(who, who, [("eggs", 1)], T0)
    deal.cut_off()
    found = [s.code for s in deal.bags()]
    assert all(c is not None and len(c) == 6 and c.isdigit() for c in found)
    assert [s.bag_state for s in deal.bags()] == ["waiting", "waiting"]
    assert deal.pickup_ends_at == WINDOW_END


def test_a_bag_is_handed_over_once_with_its_own_code_after_arrival() -> None:
    deal = closed()
    with pytest.raises(Conflict, match="not arrived"):
        deal.check_out(1, "111111", "leader", CUTOFF)
    deal.confirm_arrival("leader", CUTOFF)
    with pytest.raises(Conflict, match="confirmed at"):
        deal.confirm_arrival("leader", CUTOFF)
    with pytest.raises(WrongCode):
        deal.check_out(1, "222222", "leader", CUTOFF)  # bag 2's code does not open bag 1
    at = CUTOFF + timedelta(minutes=5)
    assert deal.check_out(1, "111111", "leader", at).bag_state == "collected"
    with pytest.raises(Conflict, match=re.escape(f"collected at {at.isoformat()}")):
        deal.check_out(1, "111111", "leader", at + timedelta(minutes=1))
    with pytest.raises(NotFound, match="no bag 9"):
        deal.check_out(9, "111111", "leader", at)


def test_at_the_windows_end_uncollected_bags_go_back_and_are_refunded_in_full() -> None:
    deal = closed()
    deal.confirm_arrival("leader", CUTOFF)
    deal.check_out(1, "111111", "leader", CUTOFF)
    before = deal.totals().goods_fen
    returned, second = deal.end_pickup(WINDOW_END)
    assert second is None
    assert [s.holder for s in returned] == ["li", "sun"]
    for share in returned:
        assert share.status is ShareStatus.RETURNED
        assert share.bag_state == "returned"
        [refund] = settle_share(deal, share)
        assert refund.kind is Kind.REFUND
        assert refund.amount_fen == 1200
        share.postings.append(refund)
        assert deal.money_of(share).reconciles
    assert deal.totals().goods_fen == before - 2400  # the shop's takings no longer count them
    with pytest.raises(Conflict, match="went back to the shop"):
        deal.check_out(2, "222222", "leader", WINDOW_END)
    assert deal.end_pickup(WINDOW_END + timedelta(hours=1)) == ([], None)  # nothing left to return


def test_the_second_window_comes_once_then_the_rule_returns_what_is_still_uncollected() -> None:
    deal = closed(uncollected="second_window", second_window=SECOND)
    deal.confirm_arrival("leader", CUTOFF)
    returned, second = deal.end_pickup(WINDOW_END)
    assert returned == []
    assert second == SECOND
    assert deal.pickup_ends_at == SECOND.end
    assert deal.second_window_used
    deal.check_out(2, "222222", "leader", SECOND.start)  # collected in the second window
    returned, second = deal.end_pickup(SECOND.end)
    assert second is None
    assert [s.number for s in returned] == [1, 3]


def test_a_deal_with_every_bag_collected_returns_nothing_and_opens_no_second_window() -> None:
    deal = closed(uncollected="second_window", second_window=SECOND)
    deal.confirm_arrival("leader", CUTOFF)
    for number, code in [(1, "111111"), (2, "222222"), (3, "333333")]:
        deal.check_out(number, code, "leader", CUTOFF)
    assert deal.end_pickup(WINDOW_END) == ([], None)
    assert not deal.second_window_used
