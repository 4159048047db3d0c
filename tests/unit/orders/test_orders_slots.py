"""Delivery slots and the delivery radius: what a shopper may book, and why not otherwise."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from itertools import pairwise

import pytest

from services.orders.domain import slots
from services.orders.domain.basket import CatalogLocation
from shared.vocabulary.geo import Point, travel_s
from shared.vocabulary.opening_hours import Window

# Monday 2026-11-23 10:00 in Nanjing (02:00 UTC).
NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"
SHOP_AT = Point(32.04, 118.79)
DOOR = Point(32.0425, 118.787)
MORNINGS = tuple(Window(day=d, opens=time(7), closes=time(12)) for d in range(7))  # local 07:00-12:00
SHOP = CatalogLocation("shop", "shop", None, "小店", "Corner shop", True, windows=MORNINGS)
ALWAYS = CatalogLocation("shop", "shop", None, "小店", "Corner shop", True)


def at_local(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return (
        datetime(2026, 11, day, hour - 8, minute, tzinfo=UTC)
        if hour >= 8
        else datetime(2026, 11, day - 1, hour + 16, minute, tzinfo=UTC)
    )


def test_release_time_is_the_slot_start_less_picking_and_the_e_bike_ride() -> None:
    ride = slots.ride_minutes(SHOP_AT, DOOR)
    assert ride == math.ceil(travel_s(SHOP_AT, DOOR, "e_bike") / 60) == 2
    start = at_local(11)
    assert slots.release_at(start, 10, ride) == start - timedelta(minutes=12)
    assert slots.check_slot(
        slots.Slot(start, start + timedelta(minutes=30)), NOW, 10, ride, [SHOP], TZ
    ) == start - timedelta(minutes=12)


@pytest.mark.parametrize(
    ("start", "length", "why"),
    [
        (at_local(9), 30, "starts in the past"),
        (at_local(10, 5), 30, "starts too soon: picking (10 min) and the ride (2 min) need it to start at"),
        (at_local(11), 10, "10 min long; it must be at least 15 minutes"),
        (at_local(11), 150, "150 min long; it may be at most 2 hours"),
        (at_local(15), 30, "the shop Corner shop ('shop') is closed at Mon 14:48; it next opens Tue 2026-11-24 07:00"),
    ],
)
def test_a_slot_that_cannot_be_kept_says_why(start: datetime, length: int, why: str) -> None:
    with pytest.raises(slots.SlotProblem) as refused:
        slots.check_slot(slots.Slot(start, start + timedelta(minutes=length)), NOW, 10, 2, [SHOP], TZ)
    assert why in str(refused.value)


def test_a_closed_stall_the_basket_draws_on_refuses_the_slot_too() -> None:
    stall = CatalogLocation(
        "fish",
        "stall",
        "market",
        "鱼",
        "Fish",
        True,
        windows=tuple(Window(day=d, opens=time(6), closes=time(9)) for d in range(7)),
    )
    start = at_local(11)
    with pytest.raises(slots.SlotProblem, match=r"the stall Fish \('fish'\) is closed at Mon 10:48"):
        slots.check_slot(slots.Slot(start, start + timedelta(minutes=30)), NOW, 10, 2, [ALWAYS, stall], TZ)


def test_offered_windows_cover_two_days_in_half_hours_with_the_reason_for_each_unavailable_one() -> None:
    windows = slots.offered(NOW, 10, 2, [SHOP], TZ)
    assert len(windows) == 95, "every window starting within 48 hours"
    assert windows[0].slot.start == at_local(10, 30)
    assert all(w.slot.end - w.slot.start == timedelta(minutes=30) for w in windows)
    assert all(b.slot.start == a.slot.end for a, b in pairwise(windows))
    by_start = {w.slot.start: w for w in windows}
    assert by_start[at_local(10, 30)].available
    assert by_start[at_local(10, 30)].release_at == at_local(10, 18)
    assert not by_start[at_local(12, 30)].available, "released at 12:18, after the shop closes at noon"
    assert "closed at Mon 12:18; it next opens Tue 2026-11-24 07:00" in (by_start[at_local(12, 30)].why or "")
    assert by_start[at_local(7, 30, day=24)].available
    assert not by_start[at_local(7, 0, day=24)].available, "released 06:48, before opening"
    assert all(w.why is None for w in windows if w.available)


def test_too_soon_windows_are_offered_as_unavailable() -> None:
    [first, *_] = slots.offered(datetime(2026, 11, 23, 2, 25, tzinfo=UTC), 10, 2, [ALWAYS], TZ)
    assert not first.available
    assert first.why == "too soon: picking and the ride take 12 minutes"


def test_delivery_must_be_inside_the_radius_by_street() -> None:
    assert slots.check_radius(SHOP_AT, DOOR, 1500, "Corner shop (小店)") == 515
    with pytest.raises(
        slots.OutsideDeliveryArea,
        match=r"515 m from Corner shop \(小店\) by street, but it delivers only within 500 m; "
        "choose pickup at the shop or a nearer shop",
    ):
        slots.check_radius(SHOP_AT, DOOR, 500, "Corner shop (小店)")
