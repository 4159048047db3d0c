"""Money: the ledger rules, and a property test over many generated orders.

The property test drives the real fact handlers (the ones the consumers call) and the real
payment use cases over an in-memory unit of work, so what it checks is what runs: every
order's ledger reconciles, every settled order's entries sum to −final on the holder's
balance, and no balance ever changes without an entry.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.orders.domain import ledger
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.ledger import Account, BalanceTooSmall, Fees, Kind, Posting
from services.orders.domain.lines import OrderLine
from services.orders.domain.order import Order
from services.orders.domain.placing import Placement
from services.orders.service_layer import delivery, fulfilment, ordering, payments
from shared.auth import Principal
from shared.events.contracts import (
    BagReturned,
    DeliveryAbandoned,
    DeliveryCompleted,
    DeliveryFailed,
    HandoverTo,
    LineOutcome,
    LockerCollected,
    LockerDeposited,
    LockerExpired,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PartRejected,
    PickingStarted,
    PickupPoint,
    ShopAccepted,
    ShopRejected,
    StockRejected,
    StockReserved,
)
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role
from tests.unit.orders.conftest import T0, placed
from tests.unit.orders.fakes import FakeOrdersUnitOfWork

S = OrderStatus
GRANDMA = Principal("grandma", Role.SHOPPER)


# The rules, one at a time


def test_prepaid_order_is_debited_its_shown_total_or_refused_with_what_to_do() -> None:
    assert ledger.at_placing("balance", 4230, 5000) == [Posting(Kind.PAID, -4230, note="paid ¥42.30 when placing")]
    with pytest.raises(
        BalanceTooSmall,
        match=r"balance is ¥10\.00 but this order costs ¥42\.30; top up or pay "
        "on delivery",
    ):
        ledger.at_placing("balance", 4230, 1000)
    assert ledger.at_placing("on_delivery", 4230, 0) == []


def test_pay_on_delivery_is_for_the_door_only() -> None:
    ledger.check_payment("on_delivery", FulfilmentMode.DELIVERY)
    for mode in ("pickup", "locker"):
        with pytest.raises(ledger.PaymentRefused, match=f"not {mode}"):
            ledger.check_payment("on_delivery", FulfilmentMode(mode))


def test_settling_posts_the_difference_once() -> None:
    paid = [Posting(Kind.PAID, -4230)]
    [refund] = ledger.settle("balance", paid, 4010)
    assert (refund.kind, refund.amount_fen) == (Kind.REFUND, 220)
    assert ledger.settle("balance", [*paid, refund], 4010) == [], "settling again posts nothing"
    [extra] = ledger.settle("balance", paid, 4500)
    assert (extra.kind, extra.amount_fen) == (Kind.EXTRA_CHARGE, -270)
    assert ledger.settle("on_delivery", [], 4010) == [], "pay on delivery never touches the balance"
    assert ledger.settle("balance", paid, None) == [], "nothing to settle before the final price is known"


def test_final_price_is_packed_goods_and_fees_or_nothing_for_an_order_that_never_arrived() -> None:
    fees = Fees(delivery_fee_fen=300, platform_fee_fen=50)
    assert ledger.final_fen(S.PACKED, 3710, fees) == 4060
    assert ledger.final_fen(S.READY_FOR_PICKUP, 3710, fees, carried=False) == 3760, "no rider, no delivery fee"
    assert ledger.final_fen(S.CONFIRMED, None, fees) is None
    for ended in (S.CANCELLED, S.REJECTED, S.RETURNED):
        assert ledger.final_fen(ended, 3710, fees) == 0


def test_the_summary_matches_the_documented_example() -> None:
    postings = [Posting(Kind.PAID, -4230), Posting(Kind.REFUND, 220)]
    summary = ledger.summarize("balance", 3930, Fees(300, 0), 4010, postings, delivered=False)
    assert {k: v for k, v in summary.as_dict().items()} == {
        "payment": "balance",
        "shown_fen": 4230,
        "goods_shown_fen": 3930,
        "delivery_fee_fen": 300,
        "platform_fee_fen": 0,
        "paid_fen": 4230,
        "final_fen": 4010,
        "refund_fen": 220,
        "extra_charged_fen": 0,
        "due_at_door_fen": None,
        "cash_collected_fen": None,
        "settled": True,
        "reconciles": True,
    }


def test_cash_at_the_door_must_equal_what_was_due() -> None:
    right = [Posting(Kind.CASH_COLLECTED, 4010, Account.CASH)]
    assert ledger.summarize("on_delivery", 3930, Fees(300), 4010, right, delivered=True).reconciles
    short = [Posting(Kind.CASH_COLLECTED, 4000, Account.CASH)]
    assert not ledger.summarize("on_delivery", 3930, Fees(300), 4010, short, delivered=True).reconciles
    assert ledger.collect_cash("on_delivery", right, 4010) == [], "the cash is recorded once"


# The property: many orders, every way they can go


@dataclass
class Line:
    weighed: bool
    estimated_fen: int
    outcome: str  # as_shown, heavier, lighter, out_of_stock, substituted, refused
    final_fen: int


OUTCOMES = ("as_shown", "heavier", "lighter", "out_of_stock", "substituted", "refused")
ENDINGS = {
    "pickup": (
        "stock_rejected",
        "cancelled_placed",
        "cancelled_confirmed",
        "cancelled_accepted",
        "shop_rejected",
        "packed",
        "completed",
        "completed_then_late_packed",
    ),
    "delivery": (
        "stock_rejected",
        "cancelled_confirmed",
        "abandoned_picking",
        "abandoned_packed",
        "packed",
        "completed",
        "returned",
        "completed_then_late_packed",
    ),
    "locker": ("cancelled_placed", "shop_rejected", "abandoned_packed", "packed", "completed", "returned"),
}


@st.composite
def lines(draw: st.DrawFn) -> Line:
    weighed = draw(st.booleans())
    estimated = draw(st.integers(0, 6000))
    outcome = draw(st.sampled_from(OUTCOMES))
    delta = draw(st.integers(1, 2000))
    final = {
        "as_shown": estimated,
        "heavier": estimated + delta,
        "lighter": max(0, estimated - delta),
        "out_of_stock": 0,
        "refused": 0,
        "substituted": draw(st.integers(0, 7000)),
    }[outcome]
    return Line(weighed, estimated, outcome, final)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    mode = draw(st.sampled_from(sorted(ENDINGS)))
    payment = "on_delivery" if mode == "delivery" and draw(st.booleans()) else "balance"
    basket = draw(st.lists(lines(), min_size=1, max_size=5))
    fees = Fees(draw(st.integers(0, 800)) if mode != "pickup" else 0, draw(st.integers(0, 300)))
    shown = sum(ln.estimated_fen for ln in basket) + fees.total_fen
    return {
        "mode": mode,
        "payment": payment,
        "lines": basket,
        "fees": fees,
        "ending": draw(st.sampled_from(ENDINGS[mode])),
        "top_up": max(0, shown + draw(st.integers(-300, 3000))),
        "short_cash": draw(st.booleans()) and payment == "on_delivery" and draw(st.booleans()),
    }


async def place(uow: FakeOrdersUnitOfWork, s: dict[str, Any]) -> Order | None:
    """The money part of ordering.place_order: lock, check, store, debit."""
    order_lines = [
        OrderLine(
            line_no=no,
            product_id=f"p{no}",
            location_id="shop",
            name_zh="货",
            name_en="Goods",
            unit="g" if ln.weighed else "piece",
            quantity=1,
            stock_quantity=500 if ln.weighed else 1,
            unit_price_fen=ln.estimated_fen,
            estimated_fen=ln.estimated_fen,
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
        paid = ledger.at_placing(order.payment, order.shown_fen, await uow.ledger.balance(order.placed_for))
    except BalanceTooSmall:
        return None
    order.postings.extend(paid)
    await uow.placing.save(Placement(order, paid, order.placed_by))
    return order


def packed_event(s: dict[str, Any], base: dict[str, Any]) -> OrderPacked:
    packed_lines = []
    for no, ln in enumerate(s["lines"], start=1):
        outcome = {
            "out_of_stock": LineOutcome.OUT_OF_STOCK,
            "refused": LineOutcome.OUT_OF_STOCK,
            "substituted": LineOutcome.SUBSTITUTED,
        }.get(ln.outcome, LineOutcome.PICKED)
        packed_lines.append(
            PackedLine(line_no=no, product_id=f"p{no}", outcome=outcome, quantity=1, price_fen=ln.final_fen)
        )
    goods = sum(ln.final_fen for ln in s["lines"])
    shown = sum(ln.estimated_fen for ln in s["lines"])
    return OrderPacked(
        **base,
        shown_fen=shown,
        final_fen=goods,
        difference_fen=goods - shown,
        lines=packed_lines,
        bags=1,
        weight_g=1000,
        handover_code="135790",
        pickup_point=PickupPoint(location_id="shop", name_zh="店", name_en="Shop"),
    )


async def run(s: dict[str, Any]) -> tuple[FakeOrdersUnitOfWork, Order | None]:
    uow = FakeOrdersUnitOfWork()
    await payments.top_up(uow, Principal("cash-desk", Role.ADMIN), "grandma", s["top_up"], None) if s[
        "top_up"
    ] else None
    before = uow.ledger.balances.get("grandma", 0)
    order = await place(uow, s)
    if order is None:
        assert s["payment"] == "balance"
        assert s["top_up"] < order_shown(s)
        assert uow.ledger.balances.get("grandma", 0) == before, "a refused order takes nothing"
        return uow, None
    steps = steps_to_the_end(s, {"order_id": order.id, "store_id": "shop"})
    for handler, event in steps:
        if handler == "cancel":
            await ordering.cancel_order(uow, GRANDMA, order.id)
        else:
            await handler(uow, event)
        assert uow.ledger.balances.get("grandma", 0) == uow.ledger.entries_sum("grandma"), (
            "a balance never changes without an entry"
        )
    return uow, await uow.orders.get(order.id)


def order_shown(s: dict[str, Any]) -> int:
    return sum(ln.estimated_fen for ln in s["lines"]) + s["fees"].total_fen


def steps_to_the_end(s: dict[str, Any], base: dict[str, Any]) -> list[tuple[Any, Any]]:
    """The events (or "cancel") that take a placed order to the scenario's ending, in order."""
    ending = s["ending"]
    steps: list[tuple[Any, Any]] = []
    if ending == "stock_rejected":
        steps.append((ordering.on_stock_rejected, StockRejected(**base, reason="out_of_stock", short_lines=[])))
    elif ending == "cancelled_placed":
        steps.append(("cancel", None))
    else:
        steps.append((ordering.on_stock_reserved, StockReserved(**base, lines=[], accept_deadline=T0)))
        if ending == "cancelled_confirmed":
            steps.append(("cancel", None))
        elif ending == "shop_rejected":
            steps.append((ordering.on_shop_rejected, ShopRejected(**base, reason="shop_rejected")))
        else:
            steps.append((ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="counter")))
            if ending == "cancelled_accepted":
                steps.append(("cancel", None))
            else:
                steps += picked_to_the_end(s, base, ending)
    return steps


def picked_to_the_end(s: dict[str, Any], base: dict[str, Any], ending: str) -> list[tuple[Any, Any]]:
    steps: list[tuple[Any, Any]] = [
        (fulfilment.on_picking_started, PickingStarted(**base, location_id="shop", by="counter"))
    ]
    refused = [no for no, ln in enumerate(s["lines"], start=1) if ln.outcome == "refused"]
    if refused:
        refund = sum(s["lines"][no - 1].estimated_fen for no in refused)
        steps.append(
            (
                fulfilment.on_part_rejected,
                PartRejected(**base, location_id="shop", reason="shop_rejected", line_nos=refused, refund_fen=refund),
            )
        )
    if ending == "abandoned_picking":
        return [*steps, (delivery.on_delivery_abandoned, DeliveryAbandoned(**base, reason="no_rider"))]
    steps.append((fulfilment.on_order_packed, packed_event(s, base)))
    if ending == "abandoned_packed":
        return [*steps, (delivery.on_delivery_abandoned, DeliveryAbandoned(**base, reason="no_rider"))]
    if ending == "packed":
        return steps
    mode = s["mode"]
    due = sum(ln.final_fen for ln in s["lines"]) + s["fees"].total_fen
    if mode == "pickup":
        steps.append((fulfilment.on_order_handed_over, OrderHandedOver(**base, to=HandoverTo.SHOPPER, by="counter")))
    elif mode == "delivery" and ending.startswith("completed"):
        cash = (due - 1 if s["short_cash"] and due else due) if s["payment"] == "on_delivery" else None
        steps.append(
            (delivery.on_delivery_completed, DeliveryCompleted(**base, rider_id="r1", cash_collected_fen=cash))
        )
    elif mode == "delivery":
        steps.append((delivery.on_delivery_failed, DeliveryFailed(**base, rider_id="r1", reason="nobody home")))
    else:
        steps.append(
            (
                delivery.on_locker_deposited,
                LockerDeposited(**base, site_id="l", compartment_id="c", code="1", collect_by=T0 + timedelta(days=1)),
            )
        )
        if ending == "completed":
            steps.append((delivery.on_locker_collected, LockerCollected(**base, site_id="l", compartment_id="c")))
        else:
            steps.append((delivery.on_locker_expired, LockerExpired(**base, site_id="l", compartment_id="c")))
    if ending == "returned":
        steps.append((fulfilment.on_bag_returned, BagReturned(**base, lines=[], refund_fen=0, by="counter")))
    if ending == "completed_then_late_packed":
        steps.append((fulfilment.on_order_packed, packed_event(s, base)))  # redelivered: must change nothing
    return steps


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_generated_order_reconciles_and_no_balance_moves_without_an_entry(s: dict[str, Any]) -> None:
    uow, order = asyncio.run(run(s))
    if order is None:
        return
    money = order.money()
    short = bool(s["short_cash"] and order.status is S.DELIVERED and money.due_at_door_fen)
    assert money.reconciles is not short, (s, money)
    entries = [p for p in uow.ledger.of_order(order.id) if p.account is Account.BALANCE]
    goods = sum(ln.final_fen for ln in s["lines"])
    ended = order.status in (S.CANCELLED, S.REJECTED, S.RETURNED)
    if ended:
        assert money.final_fen == 0
    elif order.packed is not None:
        assert money.final_fen == goods + s["fees"].total_fen
    if s["payment"] == "balance":
        assert money.paid_fen == order_shown(s), "debited the shown total when placed"
        if money.final_fen is not None:
            assert money.settled
            assert sum(p.amount_fen for p in entries) == -money.final_fen
        else:
            assert sum(p.amount_fen for p in entries) == -order_shown(s)
        assert uow.ledger.balances["grandma"] == s["top_up"] + sum(p.amount_fen for p in entries)
    else:
        assert entries == [], "pay on delivery never touches the balance"
        assert money.settled is (order.status is S.DELIVERED or ended)
