"""The aggregates' transition tables: the ones production uses, as docs/fulfilment.md describes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.inventory.domain import fulfilment, picking, reservation
from services.inventory.domain.fulfilment import Part, PartStatus
from services.inventory.domain.picking import Line, LineState
from services.inventory.domain.reservation import Reservation, ReservationStatus
from shared.errors import Conflict, Invalid, WrongCode
from shared.events.contracts import HandoverTo
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.units import StockUnit

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
R, P, L = ReservationStatus, PartStatus, LineState


def order(status: ReservationStatus = R.HELD, mode: FulfilmentMode = FulfilmentMode.DELIVERY) -> Reservation:
    return Reservation("o1", "shop", status, AT, mode, handover_code="135790")


def test_the_reservation_table_is_the_documented_one() -> None:
    assert dict(reservation.MOVES) == {
        R.HELD: {R.ACCEPTED, R.RELEASED},
        R.ACCEPTED: {R.PICKING, R.RELEASED},
        R.PICKING: {R.PACKED, R.RELEASED},
        R.PACKED: {R.COMMITTED, R.RETURNED, R.RELEASED},
        R.COMMITTED: {R.RETURNED},
        R.RELEASED: set(),
        R.RETURNED: set(),
    }


def test_stock_is_committed_only_at_the_handover_of_a_packed_bag() -> None:
    """The old table let an accepted order be committed; the docs (and production) never did."""
    accepted = order(R.ACCEPTED)
    with pytest.raises(Conflict, match="accepted and cannot become committed"):
        accepted.move(R.COMMITTED)
    with pytest.raises(Conflict, match="only a packed order can be handed over"):
        accepted.check_handover("135790", HandoverTo.RIDER, None)


def test_a_reservation_goes_from_held_to_committed_and_back_as_a_returned_bag() -> None:
    res = order()
    res.accept()
    assert res.start_picking()
    assert not res.start_picking()  # only the first start tells orders
    res.pack(final_fen=900, handover_code="135790", bags=1, weight_g=500, at=AT)
    assert res.check_handover(" 135790 ", HandoverTo.RIDER, None) is False
    res.hand_over(HandoverTo.RIDER, "rider-7", AT)
    res.return_bag(AT)
    assert res.status is R.RETURNED
    with pytest.raises(Conflict, match="returned and cannot become released"):
        res.release("cancelled")


def test_a_wrong_code_is_told_apart_by_its_type() -> None:
    with pytest.raises(WrongCode, match="wrong handover code"):
        order(R.PACKED).check_handover("000000", HandoverTo.RIDER, None)
    with pytest.raises(Invalid, match="for pickup"):
        order(R.PACKED, FulfilmentMode.PICKUP).check_handover("135790", HandoverTo.RIDER, None)
    cash = order(R.PACKED)
    cash.flags = {"pay_on_delivery": True}
    with pytest.raises(Invalid, match="cash_collected_fen"):
        cash.check_handover("135790", HandoverTo.SHOPPER, None)
    assert cash.check_handover("135790", HandoverTo.SHOPPER, 600) is True


def test_a_bag_comes_back_only_from_a_rider_or_an_uncollected_pickup() -> None:
    order(R.PACKED, FulfilmentMode.PICKUP).check_return()
    collected = order(R.COMMITTED)
    collected.handed_over_to = HandoverTo.SHOPPER
    with pytest.raises(Conflict, match="handed to the shopper"):
        collected.check_return()
    with pytest.raises(Conflict, match="a bag can be returned after handover to a rider"):
        order(R.PACKED).check_return()


@pytest.mark.parametrize(
    ("mode", "status", "shown"),
    [
        (FulfilmentMode.DELIVERY, R.PACKED, True),
        (FulfilmentMode.LOCKER, R.PACKED, True),
        (FulfilmentMode.PICKUP, R.PACKED, False),  # the shopper's code proves who collects: staff never read it
        (FulfilmentMode.DELIVERY, R.COMMITTED, False),
    ],
)
def test_the_counter_sees_the_code_only_to_tell_a_rider(
    mode: FulfilmentMode, status: ReservationStatus, shown: bool
) -> None:
    assert (order(status, mode).code_for_staff() == "135790") is shown


def test_the_part_table_is_the_documented_one() -> None:
    assert dict(fulfilment.MOVES) == {
        P.WAITING: {P.ACCEPTED, P.REJECTED, P.RELEASED},
        P.ACCEPTED: {P.PICKING, P.RELEASED},
        P.PICKING: {P.PACKED, P.RELEASED},
        P.PACKED: {P.RELEASED},
        P.REJECTED: set(),
        P.RELEASED: set(),
    }


def test_a_part_is_accepted_picked_and_packed_and_a_refused_part_stays_refused() -> None:
    part = Part("o1", "fish", P.WAITING, AT)
    part.accept("li", AT)
    assert part.start_picking()
    part.pack(1, 600, "li", AT)
    with pytest.raises(Conflict, match="fish's part of order o1 is already packed"):
        part.pack(1, 600, "li", AT)
    refused = Part("o1", "veg", P.WAITING, AT)
    refused.reject("shop_timeout", "stall veg did not accept the order in time", "accept deadline", AT)
    refused.release()  # the order ends: a refused part is left as it is
    assert refused.status is P.REJECTED
    with pytest.raises(Conflict, match="rejected; it cannot become accepted"):
        refused.accept("wang", AT)


def line(state: LineState = L.RESERVED) -> Line:
    return Line("o1", 1, "carp", "fish", 600, StockUnit.GRAM, 1, 1800, 1080, state=state)


def test_the_line_table_is_the_documented_one() -> None:
    assert dict(picking.MOVES) == {
        L.RESERVED: {L.PICKED, L.WEIGHT_PENDING, L.OUT_OF_STOCK, L.SUBSTITUTE_PENDING, L.SUBSTITUTED, L.REFUNDED},
        L.WEIGHT_PENDING: {L.PICKED, L.RESERVED},
        L.SUBSTITUTE_PENDING: {L.SUBSTITUTED, L.REFUNDED},
        L.PICKED: set(),
        L.OUT_OF_STOCK: set(),
        L.SUBSTITUTED: set(),
        L.REFUNDED: set(),
    }


@pytest.mark.parametrize(
    ("accepted", "timed_out", "state", "charged"),
    [
        (True, False, L.PICKED, 1296),  # charged at the actual 720 g
        (False, True, L.PICKED, 1080),  # no answer: charged at the estimate
        (False, False, L.RESERVED, 0),  # declined: pick a lighter piece
    ],
)
def test_a_heavy_line_is_settled_by_the_shoppers_answer(
    accepted: bool, timed_out: bool, state: LineState, charged: int
) -> None:
    heavy = line()
    heavy.await_weight_approval(720)
    assert heavy.settle_weight(accepted, timed_out) == charged
    assert heavy.state is state
    assert heavy.pending_quantity is None


def test_a_picked_line_cannot_be_picked_again() -> None:
    picked = line()
    picked.pick(610, 1098)
    with pytest.raises(Conflict, match="line 1 is picked; this is possible only while it is reserved"):
        picked.require(L.RESERVED)
    with pytest.raises(Conflict, match="picked and cannot become out_of_stock"):
        picked.out_of_stock()
