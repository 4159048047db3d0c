"""Settlement's posting rules: each event's journal lines, and a property over many generated orders.

The property drives the same fact handlers and payment use cases as the ledger's property test
(tests/unit/orders/test_orders_ledger.py), over an in-memory unit of work, and checks the books
each order leaves: every entry balances, the resident's account moved exactly as the order's
ledger did, and once the order is handed over what was held for it is all the shop's, stalls'
and platform's, to the fen (or, if the rider took too little cash, the shortfall stays visible).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.orders.domain import ledger, settlement
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.ledger import Account, BalanceTooSmall, Kind, Posting
from services.orders.domain.lines import OrderLine
from services.orders.domain.order import Order, Packed
from services.orders.domain.placing import Placement
from services.orders.domain.settlement import Book, Event, JournalEntry, Line
from services.orders.service_layer import ordering
from shared.errors import Invalid
from shared.vocabulary.order_status import OrderStatus
from tests.unit.orders.conftest import T0, placed
from tests.unit.orders.fakes import FakeOrdersUnitOfWork
from tests.unit.orders.test_orders_ledger import GRANDMA, order_shown, scenarios, steps_to_the_end

S = OrderStatus
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def sums(entries: list[JournalEntry]) -> dict[tuple[Book, str], int]:
    found: dict[tuple[Book, str], int] = defaultdict(int)
    for e in entries:
        for ln in e.lines:
            found[ln.book, ln.party] += ln.amount_fen
    return dict(found)


# The rules, one at a time


def test_an_entry_whose_lines_do_not_add_up_to_zero_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="add up to zero"):
        JournalEntry("paid", (Line(Book.RESIDENT, "a", 100), Line(Book.HELD, "", -99)), "x", AT)
    with pytest.raises(ValueError, match="has lines"):
        JournalEntry("paid", (), "x", AT)


def test_a_top_up_at_a_desk_is_that_desks_cash_and_elsewhere_the_banks() -> None:
    at_desk = settlement.for_posting(Posting(Kind.TOP_UP, 5000, desk="desk-1"), holder="li", by="ops", at=AT)
    assert at_desk is not None
    assert at_desk.desk == "desk-1"
    assert sums([at_desk]) == {(Book.RESIDENT, "li"): -5000, (Book.DESK_CASH, "desk-1"): 5000}
    by_helper = settlement.for_posting(Posting(Kind.TOP_UP, 5000), holder="li", by="zhou", at=AT)
    assert by_helper is not None
    assert sums([by_helper]) == {(Book.RESIDENT, "li"): -5000, (Book.BANK, ""): 5000}
    paid_out = settlement.for_posting(Posting(Kind.REFUND, -2000, desk="desk-1"), holder="li", by="ops", at=AT)
    assert paid_out is not None
    assert sums([paid_out]) == {(Book.RESIDENT, "li"): 2000, (Book.DESK_CASH, "desk-1"): -2000}


def market_order(payment: ledger.Payment = "balance") -> Order:
    lines = [
        OrderLine(1, "pork", "pork-stall", "猪肉", "Pork", "g", 1, 500, 3000, 1500),
        OrderLine(2, "tofu", "tofu-stall", "豆腐", "Tofu", "piece", 2, 2, 250, 500),
    ]
    order = placed(
        store_id="market",
        placed_by="li",
        placed_by_role="shopper",
        fulfilment=Fulfilment.from_dict({"mode": "delivery", "address": {"text": "home", "lat": 32.0, "lon": 118.0}}),
        lines=lines,
        payment=payment,
        fees=ledger.Fees(delivery_fee_fen=300, platform_fee_fen=50),
    )
    lines[0].settle(lines[0].status, 560, 1680)  # weighed heavier
    lines[1].settle(lines[1].status, 2, 500)
    order.packed = Packed(2180, 180, 1, 1000, {}, "1")
    return order


def test_a_delivered_orders_sale_goes_to_each_stall_its_shop_and_the_platform() -> None:
    order = market_order()
    assert settlement.settled(order, "r1", AT) is None, "not before it is handed over"
    order.status = S.DELIVERED
    sale = settlement.settled(order, "r1", AT)
    assert sale is not None
    assert sale.once == f"settled:{order.id}"
    assert sums([sale]) == {
        (Book.HELD, ""): 2530,
        (Book.SHOP, "pork-stall"): -1680,
        (Book.SHOP, "tofu-stall"): -500,
        (Book.SHOP, "market"): -300,
        (Book.PLATFORM_FEES, ""): -50,
    }


def test_cash_at_the_door_is_the_riders_and_at_the_counter_the_shops() -> None:
    order = market_order("on_delivery")
    order.status = S.DELIVERED
    door = settlement.for_posting(
        Posting(Kind.CASH_COLLECTED, 2530, Account.CASH), holder="li", by="r1", at=AT, order=order
    )
    assert door is not None
    assert door.event == Event.CASH_AT_DOOR
    assert door.rider == "r1"
    assert sums([door]) == {(Book.RIDER_CASH, "r1"): 2530, (Book.HELD, ""): -2530}
    order.status = S.COLLECTED
    counter = settlement.for_posting(
        Posting(Kind.CASH_COLLECTED, 2230, Account.CASH), holder="li", by="counter-1", at=AT, order=order
    )
    assert counter is not None
    assert counter.event == Event.CASH_AT_COUNTER
    assert sums([counter]) == {(Book.SHOP, "market"): 2230, (Book.HELD, ""): -2230}


def test_a_returned_bags_refund_is_a_return() -> None:
    order = market_order()
    order.status = S.RETURNED
    back = settlement.for_posting(Posting(Kind.REFUND, 2530), holder="li", by="linli", at=AT, order=order)
    assert back is not None
    assert back.event == Event.RETURN
    assert sums([back]) == {(Book.RESIDENT, "li"): -2530, (Book.HELD, ""): 2530}


def test_payouts_hand_ins_and_corrections() -> None:
    assert sums([settlement.payout("pork-stall", 1000, "ops", AT)]) == {
        (Book.SHOP, "pork-stall"): 1000,
        (Book.BANK, ""): -1000,
    }
    assert sums([settlement.hand_in("r1", 700, "desk-1", "ops", AT)]) == {
        (Book.DESK_CASH, "desk-1"): 700,
        (Book.RIDER_CASH, "r1"): -700,
    }
    assert sums([settlement.hand_in("r1", 700, None, "ops", AT)]) == {
        (Book.BANK, ""): 700,
        (Book.RIDER_CASH, "r1"): -700,
    }
    fixed = settlement.correction("pork-stall", 120, "scale misread", "ops", AT, store_id="market", corrects_period=3)
    assert sums([fixed]) == {(Book.SHOP, "pork-stall"): -120, (Book.ADJUSTMENTS, ""): 120}
    assert fixed.corrects_period == 3
    assert fixed.note == "scale misread"
    for bad in (lambda: settlement.payout("s", 0, "ops", AT), lambda: settlement.hand_in("r", -5, None, "ops", AT)):
        with pytest.raises(Invalid, match="positive amount"):
            bad()
    with pytest.raises(Invalid, match="says why"):
        settlement.correction("s", 5, "  ", "ops", AT, store_id="s")


@settings(max_examples=100, deadline=None)
@given(
    kind=st.sampled_from(list(Kind)),
    amount=st.integers(-1_000_000, 1_000_000).filter(bool),
    desk=st.one_of(st.none(), st.sampled_from(["desk-1", "desk-2"])),
    for_order=st.booleans(),
    status=st.sampled_from(list(S)),
)
def test_every_posting_books_a_balanced_entry_moving_the_resident_as_the_balance_moved(
    kind: Kind, amount: int, desk: str | None, for_order: bool, status: S
) -> None:
    account = Account.CASH if kind is Kind.CASH_COLLECTED else Account.BALANCE
    order = market_order("on_delivery" if account is Account.CASH else "balance")
    order.status = status
    entry = settlement.for_posting(
        Posting(kind, amount, account, desk=desk),
        holder="li",
        by="r1",
        at=AT,
        order=order if for_order else None,
        store_id=None if for_order else "shop",
    )
    assert entry is not None
    assert sum(ln.amount_fen for ln in entry.lines) == 0
    if account is Account.BALANCE:
        assert sums([entry])[Book.RESIDENT, "li"] == -amount, "the resident's account mirrors the balance"


# The property: many orders, every way they can go, and the books they leave


async def place_and_book(uow: FakeOrdersUnitOfWork, s: dict[str, Any]) -> Order | None:
    """Placing's money, as ordering.place_order does it: the debit, and its journal entry."""
    order_lines = [
        OrderLine(
            no,
            f"p{no}",
            f"stall-{no % 2}",
            "货",
            "Goods",
            "g" if ln.weighed else "piece",
            1,
            500 if ln.weighed else 1,
            ln.estimated_fen,
            ln.estimated_fen,
        )
        for no, ln in enumerate(s["lines"], start=1)
    ]
    fulfil = (
        {"mode": s["mode"], "address": {"text": "home", "lat": 32.0, "lon": 118.0}}
        if s["mode"] != "pickup"
        else {"mode": "pickup"}
    )
    order = placed(
        store_id="shop",
        placed_by="grandma",
        placed_by_role="shopper",
        fulfilment=Fulfilment.from_dict(fulfil),
        lines=order_lines,
        payment=s["payment"],
        fees=s["fees"],
    )
    try:
        paid = ledger.at_placing(order.payment, order.shown_fen, order_shown(s) + 10_000)
    except BalanceTooSmall:  # pragma: no cover - the balance always covers it here
        return None
    order.postings.extend(paid)
    uow.journal.add(settlement.for_postings(paid, holder="grandma", by="grandma", at=T0, order=order))
    await uow.placing.save(Placement(order, paid, order.placed_by))
    return order


async def live(s: dict[str, Any]) -> tuple[FakeOrdersUnitOfWork, Order]:
    uow = FakeOrdersUnitOfWork()
    order = await place_and_book(uow, s)
    assert order is not None
    steps = steps_to_the_end(s, {"order_id": order.id, "store_id": "shop"})
    for handler, event in steps:
        if handler == "cancel":
            await ordering.cancel_order(uow, GRANDMA, order.id)
        else:
            await handler(uow, event)
    found = await uow.orders.get(order.id)
    assert found is not None
    return uow, found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_generated_order_leaves_balanced_books_that_match_its_ledger(s: dict[str, Any]) -> None:
    uow, order = asyncio.run(live(s))
    entries = [e for e in uow.journal.entries if e.order_id == order.id]
    books = sums(entries)
    charged = ledger.net_charged(order.postings)
    assert all(sum(ln.amount_fen for ln in e.lines) == 0 for e in entries)
    assert books.get((Book.RESIDENT, "grandma"), 0) == charged, "the resident's account moved as the ledger did"
    assert len([e for e in entries if e.event == Event.SETTLED]) <= 1, "a sale is booked once"
    money = order.money()
    shop = {party: fen for (book, party), fen in books.items() if book is Book.SHOP}
    if order.status in ledger.DELIVERED:
        goods: dict[str, int] = defaultdict(int)
        for ln in order.lines:
            goods[ln.location_id] += ln.final_fen or 0
        fee = order.delivery_fee_fen if order.dispatched else 0
        assert money.final_fen is not None
        assert -sum(shop.values()) == money.final_fen - order.platform_fee_fen
        for stall in ("stall-0", "stall-1"):
            assert -shop.get(stall, 0) == goods.get(stall, 0)
        assert -shop.get("shop", 0) == fee
        assert -books.get((Book.PLATFORM_FEES, ""), 0) == order.platform_fee_fen
        cash = money.cash_collected_fen or 0
        assert books.get((Book.RIDER_CASH, "r1"), 0) == cash
        shortfall = money.final_fen - cash if order.payment == "on_delivery" else 0
        assert books.get((Book.HELD, ""), 0) == shortfall, "nothing stays held but a rider's shortfall"
    else:
        assert shop == {}, "a shop is owed nothing for an order not handed over"
        assert books.get((Book.HELD, ""), 0) == -charged, "what was paid is held until the order ends"
        if order.status in (S.CANCELLED, S.REJECTED, S.RETURNED):
            assert charged == 0
