"""The one transition table of each aggregate, and the rules of who sees what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.dispatch.domain.delivery import (
    FINISHED,
    TRANSITIONS,
    Delivery,
    DeliveryStatus,
    Happening,
    Step,
    can,
    next_step,
)
from services.dispatch.domain.offers import TRANSITIONS as OFFER_TRANSITIONS
from services.dispatch.domain.offers import Offer, OfferStatus
from services.dispatch.domain.riders import Rider, RiderState, Vehicle
from services.dispatch.domain.visibility import VISIBILITY
from shared.errors import Conflict
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.roles import Role

S, H = DeliveryStatus, Happening
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def delivery(status: DeliveryStatus, rider_id: str | None = "r1") -> Delivery:
    return Delivery("o1", "shop", FulfilmentMode.DELIVERY, "s1", "s2", status=status, rider_id=rider_id)


def test_the_counter_handing_the_bag_over_before_the_rider_tapped_at_shop_counts_as_picked_up() -> None:
    # The old step table allowed picked-up only after at-shop, while production moved an assigned
    # delivery to picked_up on OrderHandedOver(to=rider); docs/dispatch.md says the handover by the
    # counter counts. The one table now says so, and the rider's own step still needs at-shop first.
    assert TRANSITIONS[S.ASSIGNED][H.HANDED_OVER] is S.PICKED_UP
    d = delivery(S.ASSIGNED)
    d.handed_over(NOW)
    assert (d.status, d.picked_up_at, d.at_shop_at) == (S.PICKED_UP, NOW, NOW)
    with pytest.raises(Conflict, match="next step is 'at-shop'"):
        delivery(S.ASSIGNED).pick_up("r1", "4321", NOW)


def test_finished_deliveries_have_no_moves_and_every_target_is_a_status() -> None:
    for status in FINISHED:
        assert status not in TRANSITIONS
    assert all(after in DeliveryStatus for moves in TRANSITIONS.values() for after in moves.values())


@pytest.mark.parametrize(
    ("status", "move", "after"),
    [
        (S.PENDING, H.ACCEPTED, S.OPEN),
        (S.OPEN, H.ASSIGNED, S.ASSIGNED),
        (S.PICKUP_OFFERED, H.ASSIGNED, S.ASSIGNED),  # a dispatcher may still find a rider
        (S.AT_SHOP, H.UNASSIGNED, S.OPEN),
        (S.OPEN, H.NO_RIDER, S.PICKUP_OFFERED),
        (S.PICKUP_OFFERED, H.ABANDONED, S.ABANDONED),
        (S.IN_LOCKER, H.EXPIRED, S.EXPIRED),
    ],
)
def test_what_happens_without_a_rider_step(status: DeliveryStatus, move: Happening, after: DeliveryStatus) -> None:
    assert TRANSITIONS[status][move] is after


@pytest.mark.parametrize(
    ("status", "move"),
    [(S.PICKED_UP, H.DROPPED), (S.PICKED_UP, H.UNASSIGNED), (S.PENDING, H.ASSIGNED), (S.DELIVERED, H.DROPPED)],
)
def test_a_bag_in_hand_is_never_dropped_or_taken_back(status: DeliveryStatus, move: Happening) -> None:
    assert not can(status, move)
    with pytest.raises(Conflict, match=f"the delivery is {status.value}"):
        delivery(status)._move(move)


def test_the_next_step_comes_from_the_same_table() -> None:
    assert next_step(S.PICKED_UP, FulfilmentMode.DELIVERY) is Step.AT_DOOR
    assert next_step(S.PICKED_UP, FulfilmentMode.LOCKER) is Step.LOCKER_DEPOSIT
    assert next_step(S.AT_DOOR, FulfilmentMode.DELIVERY) is Step.DELIVERED
    assert next_step(S.OPEN, FulfilmentMode.DELIVERY) is None


def test_assigning_refuses_in_words() -> None:
    with pytest.raises(Conflict, match="the shop has not accepted this order yet"):
        delivery(S.PENDING, None).check_assignable("r2")
    with pytest.raises(Conflict, match="can no longer be"):
        delivery(S.PICKED_UP).check_assignable("r2")
    with pytest.raises(Conflict, match="r1 already has this order"):
        delivery(S.ASSIGNED).check_assignable("r1")


def test_an_offer_is_answered_once() -> None:
    assert set(OFFER_TRANSITIONS) == {OfferStatus.PENDING}
    offer = Offer("x", "o1", "r1", OfferStatus.PENDING, NOW + timedelta(seconds=30))
    offer.accept("r1", NOW)
    with pytest.raises(Conflict, match="already accepted"):
        offer.withdraw(NOW, "assigned")


def test_busy_follows_the_load_and_is_never_chosen() -> None:
    rider = Rider("r1", "R", Vehicle.BICYCLE, 2, RiderState.AVAILABLE)
    assert rider.follow_load(2)
    assert rider.state is RiderState.BUSY
    assert not rider.follow_load(2)
    assert rider.follow_load(1)
    assert rider.state is RiderState.AVAILABLE
    with pytest.raises(Conflict, match="busy follows the load"):
        rider.choose(RiderState.BUSY, 0, [])
    with pytest.raises(Conflict, match="deliver the bags you carry first"):
        rider.choose(RiderState.OFFLINE, 1, ["o1"])
    assert rider.choose(RiderState.AVAILABLE, 2, []) is RiderState.BUSY


@pytest.mark.parametrize("status", list(DeliveryStatus))
def test_the_rider_sees_the_customer_only_while_carrying(status: DeliveryStatus) -> None:
    carrying = status in (S.PICKED_UP, S.AT_DOOR)
    assert VISIBILITY.rider_sees_customer(delivery(status)) is carrying
    assert VISIBILITY.orderer_sees_rider(delivery(status)) is carrying


def test_who_may_follow_an_order() -> None:
    d = delivery(S.ASSIGNED)
    assert VISIBILITY.may_follow(Role.SHOPPER, "s1", d)
    assert VISIBILITY.may_follow(Role.HELPER, "s2", d)
    assert VISIBILITY.may_follow(Role.DISPATCHER, "anyone", d)
    assert not VISIBILITY.may_follow(Role.SHOPPER, "neighbour", d)
    assert not VISIBILITY.may_follow_at_all(Role.RIDER)
    assert not VISIBILITY.may_follow_at_all(Role.STORE_STAFF)


def test_live_notes_never_carry_the_codes_or_the_phone() -> None:
    data = {"order_id": "o1", "handover_code": "4321", "delivery_code": "1", "contact_phone": "138", "code": "9"}
    assert VISIBILITY.for_orders_stream(data) == {"order_id": "o1", "code": "9"}  # the orderer opens the locker
    assert VISIBILITY.for_dispatchers_stream(data) == {"order_id": "o1"}
