"""The order state machine: the only moves an order can make, and clear refusals otherwise."""

from itertools import pairwise

import pytest

from shared.vocabulary.order_status import (
    TERMINAL,
    TRANSITIONS,
    OrderStatus,
    TransitionRefused,
    can_move,
    check_move,
)

S = OrderStatus


@pytest.mark.parametrize(
    "path",
    [
        [S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED, S.OUT_FOR_DELIVERY, S.DELIVERED],
        [S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED, S.OUT_FOR_DELIVERY, S.DELIVERY_FAILED, S.RETURNED],
        [S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED, S.READY_FOR_PICKUP, S.COLLECTED],
        [S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED, S.READY_FOR_PICKUP, S.RETURNED],
        [S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED, S.OUT_FOR_DELIVERY, S.IN_LOCKER, S.COLLECTED],
        [S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED, S.OUT_FOR_DELIVERY, S.IN_LOCKER, S.RETURNED],
        [S.PLACED, S.REJECTED],
        [S.PLACED, S.CONFIRMED, S.REJECTED],
    ],
)
def test_every_journey_in_the_issue_is_allowed(path: list[OrderStatus]) -> None:
    for current, target in pairwise(path):
        check_move(current, target)


@pytest.mark.parametrize("status", [S.PLACED, S.CONFIRMED, S.ACCEPTED])
def test_cancel_is_allowed_until_picking_starts(status: OrderStatus) -> None:
    assert can_move(status, S.CANCELLED)


@pytest.mark.parametrize("status", [S.PICKING, S.PACKED, S.OUT_FOR_DELIVERY, S.READY_FOR_PICKUP])
def test_cancel_after_picking_is_refused_with_a_reason(status: OrderStatus) -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_move(status, S.CANCELLED)
    assert "picking" in refused.value.reason
    assert refused.value.current is status


def test_terminal_states_go_nowhere() -> None:
    assert {S.DELIVERED, S.COLLECTED, S.RETURNED, S.REJECTED, S.CANCELLED} == TERMINAL
    for status in TERMINAL:
        for target in S:
            assert not can_move(status, target)
    with pytest.raises(TransitionRefused, match="already CANCELLED"):
        check_move(S.CANCELLED, S.CONFIRMED)


def test_no_skipping_steps() -> None:
    assert not can_move(S.PLACED, S.ACCEPTED)
    assert not can_move(S.CONFIRMED, S.PICKING)
    assert not can_move(S.ACCEPTED, S.PACKED)
    assert not can_move(S.PACKED, S.DELIVERED)


def test_every_status_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize("status", [S.PICKING, S.PACKED])
def test_only_linli_itself_may_cancel_a_picked_order_no_rider_will_carry(status: OrderStatus) -> None:
    assert not can_move(status, S.CANCELLED)
    assert can_move(status, S.CANCELLED, system=True)
    assert not can_move(S.OUT_FOR_DELIVERY, S.CANCELLED, system=True), "once carried, it is delivered or returned"
