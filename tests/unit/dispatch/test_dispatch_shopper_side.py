"""Dispatch's rules for the shopper's side: when a shop's promise is re-quoted, the cash due at the
door, a slot order's times, and what the rider is told at the door."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain.delivery import (
    cash_difference,
    check_delivery,
    maps_url,
    pickup_kind,
)
from services.dispatch.domain.promises import LoadQuote, promised_minutes, should_requote, slot_times
from shared.errors import Invalid
from shared.vocabulary.money import due_at_door

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def Quote(ready_s: float, rider_to_shop_s: float | None, riders_available: int) -> LoadQuote:
    """A quote with one e-bike rider `rider_to_shop_s` from the shop (None: no rider)."""
    pickups = () if rider_to_shop_s is None else (("e_bike", rider_to_shop_s),)
    return LoadQuote(ready_s, pickups, riders_available, 0, 120.0)


LAST = Quote(ready_s=600.0, rider_to_shop_s=300.0, riders_available=2)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def test_a_shop_never_quoted_is_quoted() -> None:
    assert should_requote(None, None, LAST, NOW)


def test_the_same_quote_is_not_published_again_within_ten_minutes() -> None:
    assert not should_requote(LAST, NOW, LAST, later(599))
    assert should_requote(LAST, NOW, LAST, later(600))  # but at least every ten minutes


def test_a_minute_of_change_is_news_and_less_is_not() -> None:
    assert not should_requote(LAST, NOW, Quote(659.0, 300.0, 2), later(3))
    assert should_requote(LAST, NOW, Quote(660.0, 300.0, 2), later(3))
    assert should_requote(LAST, NOW, Quote(600.0, 240.0, 2), later(3))
    # 4m59s -> 5m01s rounds to another minute but is two seconds: no re-quote
    hovering = Quote(600.0, 299.0, 2)
    assert hovering.rider_to_shop_minutes == 5
    assert not should_requote(hovering, NOW, Quote(600.0, 301.0, 2), later(3))


def test_riders_coming_or_going_is_news_only_between_none_and_some() -> None:
    assert not should_requote(LAST, NOW, Quote(600.0, 300.0, 5), later(3))
    assert should_requote(LAST, NOW, Quote(600.0, None, 0), later(3))
    none = Quote(600.0, None, 0)
    assert should_requote(none, NOW, Quote(600.0, 900.0, 1), later(3))


def test_minutes_are_rounded_up_for_the_event() -> None:
    q = Quote(ready_s=601.0, rider_to_shop_s=None, riders_available=0)
    assert q.ready_minutes == 11
    assert q.rider_to_shop_minutes is None
    assert Quote(600.0, 0.0, 1).ready_minutes == 10
    assert Quote(600.0, 0.0, 1).rider_to_shop_minutes == 0


def test_due_at_the_door_is_the_packed_goods_plus_the_fees() -> None:
    assert due_at_door(1230, 300, 50) == 1580
    assert due_at_door(0, 300, 0) == 300  # everything refused: the fees are still due
    with pytest.raises(ValueError, match="never negative"):
        due_at_door(-1, 0, 0)


def test_a_slot_order_is_picked_from_its_release_and_promised_by_the_slots_end() -> None:
    release, end = NOW + timedelta(hours=3), NOW + timedelta(hours=4)
    times = slot_times(release, end, picking_minutes=12, now=NOW)
    assert times.ready_at == release + timedelta(minutes=12)
    assert times.promised_at == end
    assert promised_minutes(times.promised_at, NOW) == 240


def test_a_slot_order_released_already_is_picked_from_now() -> None:
    times = slot_times(NOW - timedelta(minutes=5), NOW + timedelta(minutes=40), picking_minutes=10, now=NOW)
    assert times.ready_at == NOW + timedelta(minutes=10)


def test_pay_on_delivery_needs_the_cash_naming_the_amount() -> None:
    with pytest.raises(Invalid, match=r"collect ¥15\.80 in cash and enter it"):
        check_delivery("123456", "123456", True, None, 1580)
    check_delivery("123456", "123456", True, 1500, 1580)  # a different amount is accepted as given
    assert cash_difference(1580, 1500) == -80
    assert cash_difference(1580, 1580) is None
    assert cash_difference(None, 1500) is None


def test_the_address_opens_in_the_phones_map_app() -> None:
    assert (
        maps_url(32.047, 118.795, "3-201 Lane 5 (back door)")
        == "geo:32.047,118.795?q=32.047,118.795(3-201%20Lane%205%20%28back%20door%29)"
    )


def test_the_pickup_point_is_a_stall_or_the_counter() -> None:
    assert pickup_kind("market-1:fish", "market-1") == "stall"
    assert pickup_kind("shop-1", "shop-1") == "counter"
    assert pickup_kind(None, "shop-1") == "counter"
