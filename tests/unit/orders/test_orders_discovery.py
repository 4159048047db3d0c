"""Which shops serve a door, how far, how busy, how soon, and whether they are open."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from services.orders.domain.basket import CatalogLocation
from services.orders.domain.discovery import (
    BusyLevel,
    LockerSite,
    Mode,
    Quote,
    Storefront,
    busy_level,
    lockers_within_walk,
    open_state,
    promise_minutes,
    reach,
    serving,
)
from shared.vocabulary.geo import Point
from shared.vocabulary.opening_hours import Hours, Window

SH = ZoneInfo("Asia/Shanghai")
DOOR = Point(30.0, 120.0)
M_PER_DEG_LAT = 6_371_000.0 * 3.141592653589793 / 180  # ~111 195 m


def north(metres: float) -> Point:
    """A point `metres` in a straight line north of the door."""
    return Point(DOOR.lat + metres / M_PER_DEG_LAT, DOOR.lon)


def shop(
    location_id: str,
    metres: float,
    *,
    kind: str = "shop",
    radius: int = 1500,
    category: str = "grocery",
    parent_id: str | None = None,
    **extra: Any,
) -> Storefront:
    location = CatalogLocation(
        location_id, kind, parent_id, location_id, location_id.title(), True, delivery_radius_m=radius, **extra
    )
    return Storefront(location, category, north(metres))


MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=SH)


def ids(found: list[Any]) -> list[str]:
    return [f.shop.location_id for f in found]


def test_delivery_counts_street_metres_not_the_straight_line() -> None:
    # 400 m as the crow flies is 520 m along the streets: inside 600 m, outside 500 m.
    assert reach(shop("a", 400), DOOR).distance_m == 520
    assert reach(shop("a", 400, radius=600), DOOR).delivers_here
    assert not reach(shop("a", 400, radius=500), DOOR).delivers_here
    found = serving(
        [shop("wide", 400, radius=600), shop("narrow", 400, radius=500)],
        DOOR,
        Mode.DELIVERY,
        MONDAY_NOON,
        "Asia/Shanghai",
    )
    assert ids(found) == ["wide"]


def test_pickup_is_a_fifteen_minute_walk_whatever_the_delivery_radius() -> None:
    near_edge, past_edge = shop("edge", 820, radius=0), shop("past", 840, radius=5000)
    assert reach(near_edge, DOOR).walk_minutes == 15
    assert reach(past_edge, DOOR).walk_minutes == 16
    assert ids(serving([near_edge, past_edge], DOOR, Mode.PICKUP, MONDAY_NOON, "Asia/Shanghai")) == ["edge"]
    # The far shop still delivers here; the near one (radius 0) does not.
    assert ids(serving([near_edge, past_edge], DOOR, Mode.DELIVERY, MONDAY_NOON, "Asia/Shanghai")) == ["past"]


def test_open_shops_come_first_then_the_nearest() -> None:
    evenings = tuple(Window(day=d, opens=time(17), closes=time(20)) for d in range(7))
    shops = [
        shop("far-open", 600),
        shop("near-closed", 100, windows=evenings),
        shop("near-open", 300),
        shop("nearest-paused", 50, paused=True),
    ]
    found = serving(shops, DOOR, Mode.DELIVERY, MONDAY_NOON, "Asia/Shanghai")
    assert ids(found) == ["near-open", "far-open", "nearest-paused", "near-closed"]
    closed = found[-1].state
    assert not closed.open_now
    assert closed.opens_at == datetime(2026, 11, 23, 17, 0, tzinfo=SH)
    paused = found[2].state
    assert paused.paused
    assert not paused.open_now


def test_stalls_and_inactive_shops_are_not_listed_and_category_matches_a_markets_stalls() -> None:
    market = shop("market", 200, kind="market", category="wet_market")
    fish = shop("fish", 200, kind="stall", parent_id="market", category="fish")
    gone = Storefront(CatalogLocation("gone", "shop", None, "gone", "Gone", False), "fish", north(10))
    bakery = shop("bakery", 300, category="bakery")
    everything = [market, fish, gone, bakery]
    assert ids(serving(everything, DOOR, Mode.PICKUP, MONDAY_NOON, "Asia/Shanghai")) == ["market", "bakery"]
    by_fish = serving(
        everything, DOOR, Mode.PICKUP, MONDAY_NOON, "Asia/Shanghai", category="fish", stalls_of={"market": [fish]}
    )
    assert ids(by_fish) == ["market"]
    assert ids(serving(everything, DOOR, Mode.PICKUP, MONDAY_NOON, "Asia/Shanghai", category="bakery")) == ["bakery"]


def test_busy_levels_follow_the_open_order_count() -> None:
    assert [busy_level(n) for n in (0, 2, 3, 7, 8, 30)] == [
        BusyLevel.QUIET,
        BusyLevel.QUIET,
        BusyLevel.BUSY,
        BusyLevel.BUSY,
        BusyLevel.VERY_BUSY,
        BusyLevel.VERY_BUSY,
    ]


def test_promise_waits_for_the_slower_of_shop_and_rider_then_rides_and_hands_over() -> None:
    at = datetime(2026, 11, 23, 4, tzinfo=UTC)
    shop_point = north(1000)  # 1300 street metres: 260 s by e-bike, so 5 minutes
    assert promise_minutes(Quote(12, 5, 2, at), shop_point, DOOR) == 12 + 5 + 5
    assert promise_minutes(Quote(3, 9, 1, at), shop_point, DOOR) == 9 + 5 + 5
    assert promise_minutes(Quote(3, None, 0, at), shop_point, DOOR) is None  # no rider
    assert promise_minutes(None, shop_point, DOOR) is None  # not quoted yet


def test_an_open_shop_says_when_it_closes_following_windows_that_touch() -> None:
    split = (
        Window(day=0, opens=time(6), closes=time(11, 30)),
        Window(day=0, opens=time(11, 30), closes=time(14)),
        Window(day=0, opens=time(17), closes=time(19)),
    )
    state = open_state(Hours(split), datetime(2026, 11, 23, 7, tzinfo=SH))
    assert state.open_now
    assert state.closes_at == datetime(2026, 11, 23, 14, tzinfo=SH)
    assert open_state(Hours(), MONDAY_NOON).closes_at is None  # always open never closes
    late = (Window(day=0, opens=time(20), closes=time(23, 59, 59)), Window(day=1, opens=time(0), closes=time(2)))
    assert open_state(Hours(late), datetime(2026, 11, 23, 22, tzinfo=SH)).closes_at == datetime(
        2026, 11, 24, 2, tzinfo=SH
    )


def test_lockers_within_a_walk_nearest_first_inactive_left_out() -> None:
    sites = [
        LockerSite("far", "Far", north(900), True, {"S": 1}),
        LockerSite("mid", "Mid", north(500), True, {}),
        LockerSite("near", "Near", north(100), True, {"M": 2}),
        LockerSite("off", "Off", north(50), False, {}),
    ]
    near = lockers_within_walk(sites, DOOR)
    assert [n.site.site_id for n in near] == ["near", "mid"]
    assert near[0].site.has_room
    assert not near[1].site.has_room
    assert near[0].walk_minutes == 2
