"""The delivery step state machine: each step only after the one before, 409 naming the next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain.delivery import (
    DeliveryStatus,
    Step,
    check_delivery,
    check_failure_allowed,
    check_handover,
    check_step,
    next_step,
)
from services.dispatch.domain.riders import RiderState, rider_state_after
from shared.errors import Conflict, Invalid, WrongCode
from shared.vocabulary.fulfilment import FulfilmentMode

S = DeliveryStatus
DELIVERY, LOCKER = FulfilmentMode.DELIVERY, FulfilmentMode.LOCKER


def test_a_delivery_goes_shop_pickup_door_delivered() -> None:
    status = S.ASSIGNED
    for step in (Step.AT_SHOP, Step.PICKED_UP, Step.AT_DOOR, Step.DELIVERED):
        assert next_step(status, DELIVERY) is step
        status = check_step(status, DELIVERY, step)
    assert status is S.DELIVERED
    assert next_step(status, DELIVERY) is None


def test_a_locker_order_ends_in_the_locker() -> None:
    status = check_step(S.PICKED_UP, LOCKER, Step.LOCKER_DEPOSIT)
    assert status is S.IN_LOCKER
    assert next_step(S.PICKED_UP, LOCKER) is Step.LOCKER_DEPOSIT
    with pytest.raises(Conflict, match="locker-deposit"):
        check_step(S.PICKED_UP, LOCKER, Step.AT_DOOR)
    with pytest.raises(Conflict, match="only locker orders"):
        check_step(S.PICKED_UP, DELIVERY, Step.LOCKER_DEPOSIT)


@pytest.mark.parametrize(
    ("status", "step", "next_"),
    [
        (S.ASSIGNED, Step.PICKED_UP, "at-shop"),
        (S.ASSIGNED, Step.DELIVERED, "at-shop"),
        (S.AT_SHOP, Step.AT_DOOR, "picked-up"),
        (S.PICKED_UP, Step.DELIVERED, "at-door"),
        (S.PICKED_UP, Step.FAILED, "at-door"),
        (S.AT_DOOR, Step.AT_SHOP, "delivered"),
    ],
)
def test_a_step_out_of_order_names_the_next(status: DeliveryStatus, step: Step, next_: str) -> None:
    with pytest.raises(Conflict, match=f"next step is '{next_}'"):
        check_step(status, DELIVERY, step)


def test_no_step_on_a_finished_or_unassigned_delivery() -> None:
    with pytest.raises(Conflict, match="delivery is delivered"):
        check_step(S.DELIVERED, DELIVERY, Step.AT_DOOR)
    with pytest.raises(Conflict, match="delivery is open"):
        check_step(S.OPEN, DELIVERY, Step.AT_SHOP)


def test_handover_needs_a_packed_bag_and_its_code() -> None:
    with pytest.raises(Conflict, match="not packed"):
        check_handover(False, None, "1234")
    with pytest.raises(WrongCode):
        check_handover(True, "4321", "1234")
    check_handover(True, "4321", " 4321 ")


def test_delivery_needs_the_code_and_cash_when_paid_at_the_door() -> None:
    with pytest.raises(WrongCode):
        check_delivery("123456", "000000", False, None)
    with pytest.raises(Invalid, match="cash_collected_fen"):
        check_delivery("123456", "123456", True, None)
    check_delivery("123456", "123456", True, 2500)
    check_delivery("123456", "123456", False, None)


def test_failure_only_after_waiting_at_the_door() -> None:
    at_door = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    with pytest.raises(Conflict, match="wait at the door"):
        check_failure_allowed(at_door, at_door + timedelta(seconds=119), 120)
    check_failure_allowed(at_door, at_door + timedelta(seconds=120), 120)


def test_busy_follows_the_load() -> None:
    assert rider_state_after(2, 2, RiderState.AVAILABLE) is RiderState.BUSY
    assert rider_state_after(1, 2, RiderState.BUSY) is RiderState.AVAILABLE
    assert rider_state_after(0, 2, RiderState.ON_BREAK) is RiderState.ON_BREAK
