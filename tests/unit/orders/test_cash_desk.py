"""The cash desk's rules: which day a transaction counts in, the day's totals, the close and its difference."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.orders.domain import cash_desk
from services.orders.domain.cash_desk import DayReport, Desk, Movement, Receipt
from shared.errors import Conflict, Invalid

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
MONDAY, TUESDAY, WEDNESDAY = date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)
DESK = Desk("centre-1", "文昌巷服务中心", "Wenchang Lane centre", 500_00, "ops-1", AT)


def receipt(number: int, movement: Movement, amount_fen: int, day: date = TUESDAY) -> Receipt:
    return Receipt("centre-1", number, movement, "grandma", amount_fen, 0, day, number, "", "ops-1", AT)


def tuesday(*receipts: Receipt) -> DayReport:
    return DayReport(DESK, TUESDAY, list(receipts), None)


def test_a_transaction_counts_in_today_until_today_is_closed_then_in_the_next_open_day() -> None:
    assert cash_desk.business_day(TUESDAY, set()) == TUESDAY
    assert cash_desk.business_day(TUESDAY, {MONDAY}) == TUESDAY  # yesterday's close does not move today
    assert cash_desk.business_day(TUESDAY, {TUESDAY}) == WEDNESDAY
    assert cash_desk.business_day(TUESDAY, {TUESDAY, WEDNESDAY}) == date(2026, 12, 3)


def test_the_expected_cash_is_the_float_plus_cash_in_minus_cash_out() -> None:
    report = tuesday(
        receipt(1, Movement.TOP_UP, 100_00), receipt(2, Movement.TOP_UP, 50_50), receipt(3, Movement.REFUND, 30_00)
    )
    assert (report.in_fen, report.out_fen) == (150_50, 30_00)
    assert report.expected_fen == 500_00 + 150_50 - 30_00
    assert [r.cash_fen for r in report.receipts] == [100_00, 50_50, -30_00]


def test_a_close_keeps_the_count_against_what_was_expected_short_or_over() -> None:
    report = tuesday(receipt(1, Movement.TOP_UP, 100_00), receipt(2, Movement.REFUND, 20_00))
    short = cash_desk.close(report, 579_00, WEDNESDAY, "ops-1", AT, "a note fell behind the drawer")
    assert (short.expected_fen, short.counted_fen, short.difference_fen) == (580_00, 579_00, -1_00)
    assert (short.in_fen, short.out_fen, short.float_fen, short.transactions) == (100_00, 20_00, 500_00, 2)
    over = cash_desk.close(report, 580_01, TUESDAY, "ops-1", AT)
    assert over.difference_fen == 1
    exact = cash_desk.close(tuesday(), 500_00, TUESDAY, "ops-1", AT)
    assert (exact.expected_fen, exact.difference_fen, exact.transactions) == (500_00, 0, 0)


def test_a_closed_day_keeps_its_own_float_when_the_desk_changes_it_later() -> None:
    closed = cash_desk.close(tuesday(receipt(1, Movement.TOP_UP, 10_00)), 510_00, TUESDAY, "ops-1", AT)
    later = DayReport(
        Desk("centre-1", "中心", "Centre", 200_00, "ops-2", AT), TUESDAY, [receipt(1, Movement.TOP_UP, 10_00)], closed
    )
    assert (later.float_fen, later.expected_fen) == (500_00, 510_00)


def test_closing_a_closed_day_again_is_a_conflict_that_says_when_and_with_what() -> None:
    first = cash_desk.close(tuesday(), 499_00, TUESDAY, "ops-1", AT)
    with pytest.raises(Conflict) as refused:
        cash_desk.close(DayReport(DESK, TUESDAY, [], first), 500_00, TUESDAY, "ops-2", AT)
    assert "already closed by ops-1" in refused.value.message
    assert "¥499.00 against ¥500.00" in refused.value.message
    assert refused.value.extra["difference_fen"] == -1_00


def test_a_day_that_has_not_begun_cannot_be_closed_and_a_count_is_never_negative() -> None:
    with pytest.raises(Invalid, match="has not begun"):
        cash_desk.close(DayReport(DESK, WEDNESDAY, [], None), 500_00, TUESDAY, "ops-1", AT)
    with pytest.raises(Invalid, match="never negative"):
        cash_desk.close(tuesday(), -1, TUESDAY, "ops-1", AT)


def test_a_refund_never_exceeds_the_balance_and_amounts_stay_in_range() -> None:
    cash_desk.check_refund("grandma", 30_00, 30_00)
    with pytest.raises(Conflict, match=r"balance of grandma is ¥30.00; a refund of ¥30.01 cannot exceed it"):
        cash_desk.check_refund("grandma", 30_00, 30_01)
    for bad in (0, -5, cash_desk.MAX_AMOUNT_FEN + 1):
        with pytest.raises(Invalid, match="a refund is between"):
            cash_desk.check_amount(Movement.REFUND, bad)
    cash_desk.check_amount(Movement.TOP_UP, cash_desk.MAX_AMOUNT_FEN)


def test_a_receipt_is_printed_under_its_desk_and_number() -> None:
    assert receipt(42, Movement.TOP_UP, 1).code == "centre-1-000042"
