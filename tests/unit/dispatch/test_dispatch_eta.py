"""The live door ETA, when it is worth an EtaUpdated, and late risk against the promise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.dispatch.domain.eta import eta_change, live_eta, ready_at
from shared.vocabulary.geo import Point, travel_s

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
RIDER, SHOP, DOOR = Point(32.040, 118.780), Point(32.044, 118.790), Point(32.048, 118.795)


def test_before_pickup_the_eta_goes_through_the_shop_and_waits_for_the_bag() -> None:
    quick = live_eta(RIDER, "e_bike", NOW, SHOP, DOOR, None, picked_up=False)
    to_shop = travel_s(RIDER, SHOP, "e_bike")
    assert quick == NOW + timedelta(seconds=to_shop + travel_s(SHOP, DOOR, "e_bike"))
    late_bag = NOW + timedelta(minutes=30)
    assert live_eta(RIDER, "e_bike", NOW, SHOP, DOOR, late_bag, picked_up=False) == late_bag + timedelta(
        seconds=travel_s(SHOP, DOOR, "e_bike")
    )


def test_after_pickup_straight_to_the_door() -> None:
    assert live_eta(SHOP, "foot", NOW, SHOP, DOOR, None, picked_up=True) == NOW + timedelta(
        seconds=travel_s(SHOP, DOOR, "foot")
    )


def test_small_moves_are_not_worth_an_event() -> None:
    eta = NOW + timedelta(minutes=20)
    assert eta_change(eta, eta + timedelta(seconds=30), NOW + timedelta(minutes=30), False) is None
    moved = eta_change(eta, eta + timedelta(seconds=90), NOW + timedelta(minutes=30), False)
    assert moved is not None
    assert not moved.late_risk
    first = eta_change(None, eta, None, False)
    assert first is not None
    assert not first.late_risk


def test_late_risk_when_the_eta_passes_the_promise_once() -> None:
    promised = NOW + timedelta(minutes=20)
    late = eta_change(promised, promised + timedelta(seconds=10), promised, False)
    assert late is not None
    assert late.late_risk
    assert late.newly_late
    still = eta_change(promised + timedelta(seconds=10), promised + timedelta(seconds=100), promised, True)
    assert still is not None
    assert still.late_risk
    assert not still.newly_late
    back = eta_change(promised + timedelta(seconds=100), promised - timedelta(seconds=100), promised, True)
    assert back is not None
    assert not back.late_risk


def test_ready_at_counts_the_queue() -> None:
    assert ready_at(NOW, 10, 0) == NOW + timedelta(minutes=10)
    assert ready_at(NOW, 10, 3) == NOW + timedelta(minutes=16)
