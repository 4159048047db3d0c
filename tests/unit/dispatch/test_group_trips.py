"""A group buy's one trip is sized against what a vehicle carries, and refused (never split) when none can;
the bags' locker codes never reach the dispatchers' live stream."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.dispatch.domain.group_trips import GroupTrip, TripBag, TripStatus, size_trip
from services.dispatch.domain.visibility import VISIBILITY
from shared.errors import Conflict


def test_the_smallest_vehicle_that_carries_every_bag_and_the_weight() -> None:
    assert size_trip(3, 7_500).vehicle == "foot"
    assert size_trip(3, 9_000).vehicle == "bicycle"  # three bags, but over what a walker carries
    assert size_trip(6, 12_000).vehicle == "e_bike"  # six bags: more than a bicycle's five
    assert size_trip(8, 30_000).vehicle == "e_bike"  # exactly the e-bike's load still fits


def test_before_packing_the_trip_is_sized_by_its_bags_alone() -> None:
    assert size_trip(5, None).vehicle == "bicycle"
    assert size_trip(9, None).vehicle is None


def test_a_trip_no_vehicle_carries_is_refused_with_what_is_over() -> None:
    too_many = size_trip(12, 20_000)
    assert not too_many.fits
    assert too_many.reason is not None
    assert "12 bags, the most any vehicle carries is 8 (e_bike)" in too_many.reason
    assert "never split" in too_many.reason
    too_heavy = size_trip(4, 31_500)
    assert too_heavy.reason is not None
    assert "31.5 kg, the most any vehicle carries is 30 kg (e_bike)" in too_heavy.reason
    assert "bags," not in too_heavy.reason  # the bag count is fine: only the weight is named


def trip() -> GroupTrip:
    now = datetime(2026, 12, 2, 10, tzinfo=UTC)
    bags = [TripBag(n, f"s{n}", f"s{n}") for n in (1, 2, 3)]
    return GroupTrip(
        "gb-1", "shop", "leader", "delivery", TripStatus.PLANNED, bags, "Gate 2", 32.0, 118.0, None, now, now
    )


def test_packed_bags_re_size_the_trip_and_too_heavy_ends_it() -> None:
    t = trip()
    assert t.size(None).vehicle == "foot"
    assert t.size(12_000).vehicle == "bicycle"
    t.packed()
    assert t.status is TripStatus.OPEN
    heavy = trip()
    assert not heavy.size(45_000).fits
    assert heavy.status is TripStatus.REFUSED
    assert heavy.reason is not None
    assert "45.0 kg" in heavy.reason
    with pytest.raises(Conflict, match="refused"):
        heavy.at_pickup("r1")
    assert not heavy.arrived()  # nothing to complete: the leader collects at the counter


def test_the_leader_confirms_once() -> None:
    t = trip()
    t.packed()
    t.at_pickup("r1")
    assert t.arrived()
    assert not t.arrived()


def test_the_dispatchers_stream_never_carries_a_bags_locker_code() -> None:
    data = {"deal_id": "gb-1", "deposited": [{"number": 1, "compartment_id": "G1", "code": "123456"}]}
    assert VISIBILITY.for_dispatchers_stream(data) == {
        "deal_id": "gb-1",
        "deposited": [{"number": 1, "compartment_id": "G1"}],
    }
