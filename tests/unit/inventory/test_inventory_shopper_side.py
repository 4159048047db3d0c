"""The shopper's side of inventory without a database: availability levels and slot orders' release."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.inventory.domain.availability import level_of, level_to_publish
from services.inventory.domain.slots import clock_starts, is_scheduled, release_time
from shared.events.contracts import StockLevel

NOW = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("available", "threshold", "level"),
    [
        (0, None, StockLevel.OUT),
        (0, 5, StockLevel.OUT),  # out wins over low
        (0, 0, StockLevel.OUT),
        (-1, None, StockLevel.OUT),  # never shown as anything else, whatever a bad row says
        (1, None, StockLevel.IN_STOCK),  # no threshold: never "low"
        (5, 5, StockLevel.LOW),  # at the threshold is low
        (1, 5, StockLevel.LOW),
        (6, 5, StockLevel.IN_STOCK),
        (1, 0, StockLevel.IN_STOCK),
        (1200, 1200, StockLevel.LOW),  # grams for weighed goods, the same rule
    ],
)
def test_the_level_a_shopper_sees(available: int, threshold: int | None, level: StockLevel) -> None:
    assert level_of(available, threshold) is level


def test_a_level_is_published_only_when_it_differs_from_the_last_one() -> None:
    assert level_to_publish(None, 10, 5) is StockLevel.IN_STOCK  # never published: publish
    assert level_to_publish("in_stock", 9, 5) is None  # a sale that leaves it in stock: nothing
    assert level_to_publish("in_stock", 5, 5) is StockLevel.LOW
    assert level_to_publish("low", 3, 5) is None
    assert level_to_publish("low", 0, 5) is StockLevel.OUT
    assert level_to_publish("out", 20, 5) is StockLevel.IN_STOCK  # a restock straight back


def test_a_slot_order_is_released_at_its_release_time_and_an_order_without_one_at_once() -> None:
    tomorrow = NOW + timedelta(hours=11)
    assert release_time(tomorrow, NOW) == tomorrow
    assert clock_starts(tomorrow, NOW) == tomorrow
    assert release_time(None, NOW) is None
    assert clock_starts(None, NOW) == NOW
    past = NOW - timedelta(minutes=1)  # placed late, or the event waited: worked on now, as any order
    assert release_time(past, NOW) is None
    assert clock_starts(past, NOW) == NOW
    assert release_time(NOW, NOW) is None


def test_a_slot_order_is_scheduled_until_its_release_and_in_the_live_queue_from_then() -> None:
    release = NOW + timedelta(hours=1)
    assert is_scheduled(release, NOW)
    assert is_scheduled(release, release - timedelta(seconds=1))
    assert not is_scheduled(release, release)
    assert not is_scheduled(release, release + timedelta(hours=3))
    assert not is_scheduled(None, NOW)
