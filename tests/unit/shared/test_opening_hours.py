"""Opening windows, closures and the pause switch, in the neighbourhood's local time."""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.vocabulary.opening_hours import Closure, Hours, Window

SH = ZoneInfo("Asia/Shanghai")
# A tidal stall: mornings 06:00-09:00 and evenings 17:00-19:00, Monday to Saturday.
TIDAL = tuple(Window(day=d, opens=o, closes=c) for d in range(6) for o, c in ((time(6), time(9)), (time(17), time(19))))


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SH)


def test_open_inside_a_window_closed_between_windows() -> None:
    hours = Hours(windows=TIDAL)
    assert hours.is_open(local(2026, 11, 23, 7))  # Monday morning
    assert not hours.is_open(local(2026, 11, 23, 12))
    assert hours.is_open(local(2026, 11, 23, 18, 59))
    assert not hours.is_open(local(2026, 11, 23, 19))


def test_next_opening_is_the_next_window_even_across_days_and_closures() -> None:
    hours = Hours(windows=TIDAL, closures=(Closure(on=date(2026, 11, 24), reason="market cleaning"),))
    assert hours.next_opening(local(2026, 11, 23, 12)) == local(2026, 11, 23, 17)
    # After Monday evening: Tuesday is closed, so Wednesday 06:00.
    assert hours.next_opening(local(2026, 11, 23, 20)) == local(2026, 11, 25, 6)
    # Saturday night: Sunday has no windows, so Monday 06:00.
    assert hours.next_opening(local(2026, 11, 28, 20)) == local(2026, 11, 30, 6)


def test_local_time_decides_not_utc() -> None:
    hours = Hours(windows=TIDAL)
    # 23:30 UTC on Sunday is 07:30 on Monday in Shanghai.
    assert hours.is_open(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))


def test_pause_refuses_orders_with_its_own_reason() -> None:
    hours = Hours(windows=TIDAL, paused=True)
    assert hours.is_open(local(2026, 11, 23, 7))
    assert not hours.taking_orders(local(2026, 11, 23, 7))
    assert "busy" in (hours.why_not(local(2026, 11, 23, 7)) or "")


def test_closed_message_names_the_next_opening() -> None:
    reason = Hours(windows=TIDAL).why_not(local(2026, 11, 23, 12))
    assert reason is not None
    assert "2026-11-23 17:00" in reason


def test_never_open_says_so() -> None:
    assert "no opening" in (Hours(windows=()).why_not(local(2026, 11, 23, 12)) or "")


def test_a_window_must_close_after_it_opens() -> None:
    with pytest.raises(ValidationError, match="split a window"):
        Window(day=0, opens=time(22), closes=time(2))


def test_default_hours_are_always_open() -> None:
    assert Hours().taking_orders(local(2026, 11, 23, 3))


def test_a_shop_open_round_the_clock_takes_orders_in_the_last_second_of_the_day() -> None:
    last_second = datetime(2026, 12, 3, 23, 59, 59, 500_000, tzinfo=SH)  # the failover test once ordered then
    assert Hours().taking_orders(last_second)
    assert Hours().why_not(last_second) is None
    until_midnight = Hours(windows=(Window(day=3, opens=time(8), closes=time(23, 59, 59)),))
    assert until_midnight.is_open(last_second)  # Thursday
    assert not until_midnight.is_open(datetime(2026, 12, 4, 0, 0, 0, 500_000, tzinfo=SH))  # Friday has no window
