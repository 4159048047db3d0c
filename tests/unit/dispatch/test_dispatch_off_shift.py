"""Bad input at dispatch's door, pure: a rider off shift (for assignment by hand) and a position
far from every shop of the circle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.dispatch.domain.riders import Shift, check_position, off_shift
from shared.errors import Invalid

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai
SHANGHAI = ZoneInfo("Asia/Shanghai")


def shift(from_h: float, to_h: float) -> Shift:
    return Shift(NOW + timedelta(hours=from_h), NOW + timedelta(hours=to_h))


def test_a_rider_without_shifts_or_on_one_is_not_off_shift() -> None:
    assert off_shift([], NOW) is None
    assert off_shift([shift(-1, 1)], NOW) is None
    assert off_shift([shift(-5, -3), shift(-1, 1)], NOW) is None  # a break between two shifts is over


def test_off_shift_says_when_the_shift_ended_or_starts_in_local_time() -> None:
    assert off_shift([shift(-4, -0.5)], NOW, SHANGHAI) == "their shift ended at 16:30"
    assert off_shift([shift(-6, -4), shift(-3, -1)], NOW, SHANGHAI) == "their shift ended at 16:00"
    assert off_shift([shift(2, 5)], NOW, SHANGHAI) == "their shift starts at 19:00"


def test_a_position_more_than_50_km_from_every_shop_is_refused_saying_how_far() -> None:
    check_position(32.0, 118.8, None)  # no shop known yet: nothing to measure against
    check_position(32.0, 118.8, ("Corner shop", 49_999.0))
    with pytest.raises(Invalid, match=r"is 61 km from the nearest shop of the circle \(Corner shop\)"):
        check_position(32.55, 118.8, ("Corner shop", 61_200.0))
