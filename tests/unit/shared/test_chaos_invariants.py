"""The fault drill's promises (bench/_invariants.py), judged on made-up rows: each rule passes on a
consistent picture and names what broke on a broken one."""

from __future__ import annotations

import pytest

from bench import _invariants as inv


def checks(violations: list[inv.Violation]) -> set[str]:
    return {v.check for v in violations}


def test_acknowledged_orders_must_exist_once_and_nothing_beyond_them() -> None:
    acked = {"k1": "o1", "k2": "o2"}
    assert inv.acknowledged_orders_exist_once(acked, [{"id": "o1"}, {"id": "o2"}], unanswered_keys=0) == []

    missing = inv.acknowledged_orders_exist_once(acked, [{"id": "o1"}], unanswered_keys=0)
    assert checks(missing) == {"acknowledged orders exist"}
    assert "o2" in str(missing[0])

    # A retried key that made a second order shows as an order nobody was answered with.
    extra = inv.acknowledged_orders_exist_once(acked, [{"id": "o1"}, {"id": "o2"}, {"id": "o3"}], unanswered_keys=0)
    assert checks(extra) == {"orders exist once"}
    # ... unless a client gave up on a key: its order may exist, unacknowledged.
    assert inv.acknowledged_orders_exist_once(acked, [{"id": "o1"}, {"id": "o2"}, {"id": "o3"}], 1) == []

    shared = inv.acknowledged_orders_exist_once({"k1": "o1", "k2": "o1"}, [{"id": "o1"}], unanswered_keys=0)
    assert checks(shared) == {"one order per key"}


def test_an_order_still_placed_is_stuck() -> None:
    assert inv.no_order_stuck([{"id": "o1", "status": "CONFIRMED"}, {"id": "o2", "status": "REJECTED"}]) == []
    stuck = inv.no_order_stuck([{"id": "o1", "status": "CONFIRMED"}, {"id": "o2", "status": "PLACED"}])
    assert checks(stuck) == {"no order stuck"}
    assert "o2" in str(stuck[0])


STOCK_INITIAL = {"p": 10}
RESERVATIONS = [{"order_id": "o1", "status": "held"}, {"order_id": "o2", "status": "released"}]


def test_stock_is_conserved_when_reserved_is_the_live_holds_and_on_hand_lost_only_what_was_committed() -> None:
    stock = [{"product_id": "p", "on_hand": 8, "reserved": 3}]
    holds = [{"order_id": "o1", "product_id": "p", "quantity": 3}]
    assert inv.stock_conserved(STOCK_INITIAL, stock, holds, RESERVATIONS, {"p": 2}) == []

    lost = inv.stock_conserved(STOCK_INITIAL, stock, holds, RESERVATIONS, {})
    assert checks(lost) == {"stock conserved"}

    drifted = inv.stock_conserved(
        STOCK_INITIAL, [{"product_id": "p", "on_hand": 8, "reserved": 4}], holds, RESERVATIONS, {"p": 2}
    )
    assert checks(drifted) == {"reserved = live holds"}


def test_a_hold_of_a_released_reservation_is_a_leak() -> None:
    stock = [{"product_id": "p", "on_hand": 10, "reserved": 4}]
    holds = [{"order_id": "o1", "product_id": "p", "quantity": 3}, {"order_id": "o2", "product_id": "p", "quantity": 1}]
    leaked = inv.stock_conserved(STOCK_INITIAL, stock, holds, RESERVATIONS, {})
    assert checks(leaked) == {"reserved = live holds"}
    assert "o2" in str(leaked[0])


def test_more_reserved_than_on_hand_or_kept_than_there_was_is_overselling() -> None:
    oversold = inv.stock_conserved(
        {"p": 2},
        [{"product_id": "p", "on_hand": 2, "reserved": 3}],
        [{"order_id": "o1", "product_id": "p", "quantity": 3}],
        RESERVATIONS,
        {},
    )
    assert "never oversold" in checks(oversold)
    assert inv.never_oversold({"p": 2}, {"p": 2}) == []
    assert checks(inv.never_oversold({"p": 2}, {"p": 3})) == {"never oversold"}


def test_orders_and_reservations_must_tell_the_same_story() -> None:
    orders = [{"id": "o1", "status": "CONFIRMED"}, {"id": "o2", "status": "REJECTED"}]
    assert inv.orders_agree_with_reservations(orders, RESERVATIONS) == []
    both_held = [{"order_id": "o1", "status": "held"}, {"order_id": "o2", "status": "held"}]
    assert "refused but stock still held" in str(inv.orders_agree_with_reservations(orders, both_held)[0])
    assert "CONFIRMED without" in str(inv.orders_agree_with_reservations(orders, [])[0])


ORDERS = [{"id": "o1", "status": "CONFIRMED"}, {"id": "o2", "status": "REJECTED"}]
LEDGER = [
    {
        "id": 1,
        "holder": "h",
        "order_id": None,
        "kind": "top_up",
        "account": "balance",
        "amount_fen": 500,
        "balance_after_fen": 500,
    },
    {
        "id": 2,
        "holder": "h",
        "order_id": "o1",
        "kind": "paid",
        "account": "balance",
        "amount_fen": -100,
        "balance_after_fen": 400,
    },
    {
        "id": 3,
        "holder": "h",
        "order_id": "o2",
        "kind": "paid",
        "account": "balance",
        "amount_fen": -100,
        "balance_after_fen": 300,
    },
    {
        "id": 4,
        "holder": "h",
        "order_id": "o2",
        "kind": "refund",
        "account": "balance",
        "amount_fen": 100,
        "balance_after_fen": 400,
    },
]
TIMELINE = [
    {"order_id": "o1", "status": "PLACED"},
    {"order_id": "o1", "status": "CONFIRMED"},
    {"order_id": "o1", "status": None},  # a note, not a status
    {"order_id": "o1", "status": None},
    {"order_id": "o2", "status": "PLACED"},
    {"order_id": "o2", "status": "REJECTED"},
]


def test_each_effect_once_passes_and_a_second_payment_refund_status_or_reservation_is_caught() -> None:
    moves = [{"order_id": "o1", "product_id": "p"}]
    assert inv.applied_once(ORDERS, LEDGER, TIMELINE, moves) == []

    paid_twice = [*LEDGER, {**LEDGER[1], "id": 5}]
    assert checks(inv.applied_once(ORDERS, paid_twice, TIMELINE, moves)) == {"paid once"}
    refunded_twice = [*LEDGER, {**LEDGER[3], "id": 5}]
    assert checks(inv.applied_once(ORDERS, refunded_twice, TIMELINE, moves)) == {"refunded once"}
    never_refunded = LEDGER[:3]
    assert checks(inv.applied_once(ORDERS, never_refunded, TIMELINE, moves)) == {"refunded once"}
    confirmed_twice = [*TIMELINE, {"order_id": "o1", "status": "CONFIRMED"}]
    assert checks(inv.applied_once(ORDERS, LEDGER, confirmed_twice, moves)) == {"timeline once"}
    reserved_twice = [*moves, *moves]
    assert checks(inv.applied_once(ORDERS, LEDGER, TIMELINE, reserved_twice)) == {"reserved once"}


def test_a_balance_must_be_the_sum_of_its_ledger_and_its_last_entry() -> None:
    assert inv.balances_match_ledgers([{"holder": "h", "balance_fen": 400}], LEDGER) == []
    assert checks(inv.balances_match_ledgers([{"holder": "h", "balance_fen": 300}], LEDGER)) == {"balances = ledgers"}
    # Cash collected at the door is not the balance's.
    cash = [
        *LEDGER,
        {"id": 5, "holder": "h", "order_id": "o1", "kind": "cash_collected", "account": "cash", "amount_fen": 70},
    ]
    assert inv.balances_match_ledgers([{"holder": "h", "balance_fen": 400}], cash) == []
    wrong_after = [*LEDGER[:3], {**LEDGER[3], "balance_after_fen": 999}]
    assert checks(inv.balances_match_ledgers([{"holder": "h", "balance_fen": 400}], wrong_after)) == {
        "balances = ledgers"
    }


def test_outboxes_must_be_empty_of_unpublished_events() -> None:
    assert inv.outboxes_drained({"orders": 0, "inventory": 0}) == []
    assert [v.detail for v in inv.outboxes_drained({"orders": 0, "inventory": 3})] == [
        "inventory: 3 events never published"
    ]


def test_every_group_of_a_topic_dead_letters_the_malformed_and_nothing_else_may_be_there() -> None:
    expected = inv.expected_dead_letters({"linli.orders": 2, "linli.circle": 2}, {"linli.orders": 2, "linli.circle": 1})
    assert expected == {"linli.orders": 4, "linli.circle": 2}
    ours = [{"key": "chaos-garbage-1", "error": "malformed: not JSON"}]
    letters = {"linli.orders": ours * 4, "linli.circle": ours * 2}
    assert inv.dead_letters_only_malformed(expected, letters, "chaos-garbage") == []

    real = {"linli.orders": [*ours * 4, {"key": "order-7", "error": "outage"}], "linli.circle": ours * 2}
    found = inv.dead_letters_only_malformed(expected, real, "chaos-garbage")
    assert len(found) == 1
    assert "real events" in found[0].detail
    assert "order-7" in found[0].detail

    short = {"linli.orders": ours * 3, "linli.circle": ours * 2}
    assert (
        "holds 3 malformed messages, expected 4"
        in inv.dead_letters_only_malformed(expected, short, "chaos-garbage")[0].detail
    )


def test_a_503_is_an_honest_answer_during_a_fault_and_a_500_is_not() -> None:
    assert inv.server_errors({201: 900, 503: 40, 422: 1}) == []
    assert checks(inv.server_errors({201: 900, 500: 2})) == {"no 500s"}


def test_longest_gap_counts_from_the_fault_to_the_first_confirmation_and_between_them() -> None:
    assert inv.longest_gap([1.0, 2.0, 9.0, 10.0], start=0.0, end=10.0) == 7.0
    assert inv.longest_gap([], start=5.0, end=8.0) == 3.0
    assert inv.longest_gap([1.0], start=5.0, end=5.0) == 0.0


def test_recovery_is_the_first_confirmation_of_an_order_sent_after_the_fault_ended() -> None:
    sent = [(99.0, 112.0), (101.0, None), (103.0, 104.5), (104.0, 104.2)]
    assert inv.recovery_s(sent, restored=100.0) == pytest.approx(4.2)  # the backlog (sent at 99) does not count
    assert inv.recovery_s([(99.0, 101.0)], restored=100.0) is None


def test_every_event_once_in_its_outbox_and_once_in_each_consumers_inbox() -> None:
    expected = {"orders outbox OrderPlaced": 3, "inventory inbox inventory OrderPlaced": 3}
    assert inv.events_flowed_once(expected, dict(expected)) == []
    lost = inv.events_flowed_once(
        expected, {"orders outbox OrderPlaced": 3, "inventory inbox inventory OrderPlaced": 2}
    )
    assert checks(lost) == {"events flowed once"}
    assert "inventory inbox inventory OrderPlaced: 2 != 3" in lost[0].detail


def test_a_replayed_key_names_the_same_order_and_a_503_says_when_to_come_back() -> None:
    assert inv.replays_consistent([(201, False, True), (503, True, False), (None, False, False)]) == []
    assert checks(inv.replays_consistent([(201, False, False)])) == {"one order per key"}
    assert checks(inv.replays_consistent([(503, False, False)])) == {"503 says when"}


def test_an_order_whose_cancel_was_answered_stays_cancelled() -> None:
    orders = [{"id": "o1", "status": "CANCELLED"}, {"id": "o2", "status": "CONFIRMED"}]
    assert inv.cancels_held(["o1"], orders) == []
    late = inv.cancels_held(["o1", "o2"], orders)
    assert checks(late) == {"cancels hold"}
    assert "o2 CONFIRMED" in late[0].detail


def test_expected_events_follow_the_statuses_each_timeline_went_through() -> None:
    timeline = [
        {"order_id": "o1", "status": "PLACED"},
        {"order_id": "o1", "status": "CONFIRMED"},
        {"order_id": "o1", "status": "CANCELLED"},  # confirmed, then cancelled: both were told
        {"order_id": "o2", "status": "PLACED"},
        {"order_id": "o2", "status": "REJECTED"},
        {"order_id": "o3", "status": "PLACED"},
        {"order_id": "o3", "status": "CANCELLED"},  # cancelled before inventory answered
        {"order_id": "o3", "status": None},
    ]
    expected = inv.expected_events(timeline)
    assert expected["orders outbox OrderPlaced"] == 3
    assert expected["orders outbox OrderConfirmed"] == 1
    assert expected["dispatch inbox dispatch OrderCancelled"] == 2
    assert expected["inventory outbox StockReserved+StockRejected"] == 3  # inventory answers every order once


def test_a_sum_key_adds_the_counts_of_its_event_types_at_one_place() -> None:
    found = {"inventory outbox StockReserved": 2, "inventory outbox StockRejected": 1, "orders outbox OrderPlaced": 3}
    summed = inv.with_sums(found, ["inventory outbox StockReserved+StockRejected", "orders outbox OrderPlaced"])
    assert summed["inventory outbox StockReserved+StockRejected"] == 3
    assert summed["orders outbox OrderPlaced"] == 3


def test_a_cancel_may_be_refused_only_for_an_order_refused_first() -> None:
    orders = [{"id": "o1", "status": "REJECTED"}, {"id": "o2", "status": "CONFIRMED"}]
    assert inv.cancel_refusals_explained(["o1"], orders) == []
    assert checks(inv.cancel_refusals_explained(["o1", "o2"], orders)) == {"cancels hold"}
