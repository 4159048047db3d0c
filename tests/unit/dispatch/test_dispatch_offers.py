"""Offer rules: only the rider's own pending offer, before it lapses; silent and late riders; lockers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain.delivery import Delivery, DeliveryStatus
from services.dispatch.domain.lockers import check_open, new_code, size_for, sizes_from
from services.dispatch.domain.offers import (
    Offer,
    OfferStatus,
    check_answer,
    is_behind,
    is_silent,
    seconds_left,
)
from shared.errors import Conflict, Forbidden, NotFound, WrongCode
from shared.vocabulary.fulfilment import FulfilmentMode

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def offer(status: OfferStatus = OfferStatus.PENDING, rider: str = "r1", left_s: float = 20) -> Offer:
    return Offer("o-1", "order-1", rider, status, NOW + timedelta(seconds=left_s))


def test_a_rider_answers_their_own_pending_offer() -> None:
    check_answer(offer(), "r1", NOW)


def test_someone_elses_offer_does_not_exist_for_you() -> None:
    with pytest.raises(NotFound):
        check_answer(offer(rider="r2"), "r1", NOW)
    with pytest.raises(NotFound):
        check_answer(None, "r1", NOW)


def test_answered_or_lapsed_offers_cannot_be_answered() -> None:
    with pytest.raises(Conflict, match="already declined"):
        check_answer(offer(OfferStatus.DECLINED), "r1", NOW)
    with pytest.raises(Conflict, match="lapsed"):
        check_answer(offer(left_s=0), "r1", NOW)


def test_countdown() -> None:
    assert seconds_left(NOW + timedelta(seconds=29.6), NOW) == 29
    assert seconds_left(NOW - timedelta(seconds=5), NOW) == 0


def test_silent_riders() -> None:
    assert is_silent(None, NOW, 60)
    assert is_silent(NOW.timestamp() - 61, NOW, 60)
    assert not is_silent(NOW.timestamp() - 59, NOW, 60)


def test_behind_their_eta_to_the_shop() -> None:
    assert not is_behind(None, NOW, 300)
    assert not is_behind(NOW - timedelta(seconds=299), NOW, 300)
    assert is_behind(NOW - timedelta(seconds=301), NOW, 300)


def test_only_the_assigned_rider_acts() -> None:
    def delivery(rider_id: str | None) -> Delivery:
        status = DeliveryStatus.ASSIGNED if rider_id else DeliveryStatus.OPEN
        return Delivery("o1", "shop", FulfilmentMode.DELIVERY, "s", "s", status=status, rider_id=rider_id)

    delivery("r1").arrive_at_shop("r1", NOW)
    with pytest.raises(Forbidden):
        delivery("r1").arrive_at_shop("r2", NOW)
    with pytest.raises(Forbidden):
        delivery(None).arrive_at_shop("r2", NOW)


def test_locker_sizes_and_codes() -> None:
    assert size_for(None, None) == "S"
    assert size_for(1, 2000) == "S"
    assert size_for(2, 5000) == "M"
    assert size_for(4, 5000) == "L"
    assert sizes_from("M") == ["M", "L"]
    code = new_code()
    assert len(code) == 6
    assert code.isdigit()
    with pytest.raises(WrongCode):
        check_open("occupied", "123456", "654321")
    with pytest.raises(Conflict):
        check_open("reserved", None, "123456")
    check_open("occupied", "123456", "123456")
