"""Money for an order: what is debited when it is placed, and how it settles when its outcome is known.

There is no payment provider. A prepaid order is paid from the balance of the person it is
for, in the placing transaction; once the shop packs it (or it is cancelled, rejected,
abandoned, or its bag comes back) the order's `final` price is known and one posting moves the
balance to match. A pay-on-delivery order never touches the balance: the rider collects the
final price at the door.

Settling is driven by a target, not by the event: "the order now costs `final`, it has been
charged `net`, post the difference". That makes settling idempotent (a repeated or late fact
posts nothing) and makes every ledger reconcile by construction, which the property test in
tests/unit/test_orders_ledger.py checks over many generated orders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from shared.errors import Invalid, PaymentRequired
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.money import format_yuan
from shared.vocabulary.order_status import OrderStatus

Payment = Literal["balance", "on_delivery"]
PAYMENTS: tuple[Payment, ...] = ("balance", "on_delivery")

# Nothing of these orders reaches the shopper, so nothing is charged.
CHARGES_NOTHING = frozenset({OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.RETURNED})
# The bag is with the shopper: a pay-on-delivery order's cash has changed hands.
# Handed to the shopper: at the door, or at the counter when no rider came (cash is taken there).
DELIVERED = frozenset({OrderStatus.DELIVERED, OrderStatus.COLLECTED})


class Kind(StrEnum):
    TOP_UP = "top_up"  # money in, at the cash desk or from a helper
    PAID = "paid"  # a prepaid order, debited the shown total when placed
    REFUND = "refund"  # the order cost less than was paid (lighter, refused, cancelled, returned)
    EXTRA_CHARGE = "extra_charge"  # the shopper approved a heavier weight than was paid for
    CASH_COLLECTED = "cash_collected"  # pay on delivery: the rider took cash; never on the balance


class Account(StrEnum):
    BALANCE = "balance"  # moves the holder's balance
    CASH = "cash"  # recorded on the order's ledger only


@dataclass(frozen=True)
class Posting:
    """One ledger entry: `amount_fen` is signed as it changes the account (a debit is negative).

    `desk` names the service centre's cash desk where the money changed hands (a top-up or a
    refund paid out in cash there); settlement books it to that desk's cash, not to the bank.
    """

    kind: Kind
    amount_fen: int
    account: Account = Account.BALANCE
    note: str = ""
    desk: str | None = None


@dataclass(frozen=True)
class Postings:
    """One order's entries for one holder, as `Ledger.post` takes them, for posting many at once."""

    holder: str
    order_id: str | None
    postings: list[Posting]
    by: str
    at: datetime


@dataclass(frozen=True)
class Entry:
    """A stored posting as the shopper reads it: whose, for which order, by whom and when."""

    id: int
    holder: str
    order_id: str | None
    kind: Kind
    account: Account
    amount_fen: int
    balance_after_fen: int | None
    note: str
    by: str
    at: datetime
    desk: str | None = None


@dataclass(frozen=True)
class Fees:
    delivery_fee_fen: int = 0
    platform_fee_fen: int = 0

    @property
    def total_fen(self) -> int:
        return self.delivery_fee_fen + self.platform_fee_fen


class BalanceTooSmall(PaymentRequired):
    """A prepaid order costs more than the balance holds: nothing is stored (HTTP 402)."""

    def __init__(self, balance_fen: int, total_fen: int) -> None:
        super().__init__(
            f"the balance is {format_yuan(balance_fen)} but this order costs {format_yuan(total_fen)}; "
            "top up or pay on delivery"
        )
        self.balance_fen = balance_fen
        self.total_fen = total_fen


class PaymentRefused(Invalid):
    """A payment method that does not fit the fulfilment (HTTP 422)."""


def delivery_fee_for(mode: FulfilmentMode, store_fee_fen: int) -> int:
    """The shop's delivery fee applies when a rider carries the bag: to the door or to a locker."""
    return store_fee_fen if mode.dispatched else 0


def check_payment(payment: Payment, mode: FulfilmentMode) -> None:
    if payment == "on_delivery" and mode is not FulfilmentMode.DELIVERY:
        raise PaymentRefused(
            f"pay on delivery is for delivery to the door only, not {mode}; pay from the balance "
            "instead (top up at the service centre)"
        )


def at_placing(payment: Payment, shown_fen: int, balance_fen: int) -> list[Posting]:
    """Prepaid: debit the shown total, or refuse if the balance is too small. Pay on delivery: nothing yet."""
    if payment == "on_delivery":
        return []
    if shown_fen > balance_fen:
        raise BalanceTooSmall(balance_fen, shown_fen)
    return [Posting(Kind.PAID, -shown_fen, note=f"paid {format_yuan(shown_fen)} when placing")]


def final_fen(status: OrderStatus, packed_goods_fen: int | None, fees: Fees, *, carried: bool = True) -> int | None:
    """What the order costs in the end; None while not known (not packed, not ended).

    Packed goods are actual weights, accepted substitutes and refused lines at 0 (inventory's
    word). The delivery fee drops when the bag is no longer carried (switched to pickup).
    """
    if status in CHARGES_NOTHING:
        return 0
    if packed_goods_fen is None:
        return None
    return packed_goods_fen + fees.platform_fee_fen + (fees.delivery_fee_fen if carried else 0)


def net_charged(postings: Iterable[Posting]) -> int:
    """What the order has taken from the balance so far (paid + extra − refunds)."""
    return -sum(p.amount_fen for p in postings if p.account is Account.BALANCE and p.kind is not Kind.TOP_UP)


def settle(payment: Payment, postings: Iterable[Posting], final: int | None) -> list[Posting]:
    """The posting that makes a prepaid order's charge equal `final`; none if it already does."""
    if payment != "balance" or final is None:
        return []
    difference = net_charged(postings) - final
    if difference > 0:
        return [
            Posting(
                Kind.REFUND, difference, note=f"{format_yuan(difference)} back: the order came to {format_yuan(final)}"
            )
        ]
    if difference < 0:
        return [
            Posting(
                Kind.EXTRA_CHARGE,
                difference,
                note=f"{format_yuan(-difference)} more: the order came to "
                f"{format_yuan(final)} (a heavier weight approved)",
            )
        ]
    return []


def collect_cash(payment: Payment, postings: Iterable[Posting], cash_fen: int | None) -> list[Posting]:
    """Pay on delivery: the rider's cash, recorded once on the order's ledger (not the balance)."""
    if payment != "on_delivery" or cash_fen is None:
        return []
    if any(p.kind is Kind.CASH_COLLECTED for p in postings):
        return []
    return [Posting(Kind.CASH_COLLECTED, cash_fen, Account.CASH, note=f"{format_yuan(cash_fen)} in cash")]


@dataclass(frozen=True)
class Summary:
    """The order's money as the shopper reads it (GET /orders/{id}/ledger)."""

    payment: Payment
    goods_shown_fen: int
    fees: Fees
    final_fen: int | None
    paid_fen: int
    refund_fen: int
    extra_charged_fen: int
    cash_collected_fen: int | None
    delivered: bool

    @property
    def shown_fen(self) -> int:
        return self.goods_shown_fen + self.fees.total_fen

    @property
    def due_at_door_fen(self) -> int | None:
        return self.final_fen if self.payment == "on_delivery" else None

    @property
    def settled(self) -> bool:
        if self.final_fen is None:
            return False
        if self.payment == "balance":
            return self.paid_fen + self.extra_charged_fen - self.refund_fen == self.final_fen
        return self.final_fen == 0 or self.cash_collected_fen is not None

    @property
    def reconciles(self) -> bool:
        """Prepaid: paid + extra − refund == final (shown, until final is known). On delivery: cash == due."""
        if self.payment == "balance":
            expected = self.shown_fen if self.final_fen is None else self.final_fen
            return self.paid_fen + self.extra_charged_fen - self.refund_fen == expected
        if self.paid_fen or self.refund_fen or self.extra_charged_fen:
            return False  # pay on delivery never touches the balance
        if self.delivered:
            return self.cash_collected_fen == self.due_at_door_fen
        return self.cash_collected_fen is None

    def as_dict(self) -> dict[str, object]:
        return {
            "payment": self.payment,
            "shown_fen": self.shown_fen,
            "goods_shown_fen": self.goods_shown_fen,
            "delivery_fee_fen": self.fees.delivery_fee_fen,
            "platform_fee_fen": self.fees.platform_fee_fen,
            "paid_fen": self.paid_fen,
            "final_fen": self.final_fen,
            "refund_fen": self.refund_fen,
            "extra_charged_fen": self.extra_charged_fen,
            "due_at_door_fen": self.due_at_door_fen,
            "cash_collected_fen": self.cash_collected_fen,
            "settled": self.settled,
            "reconciles": self.reconciles,
        }


def summarize(
    payment: Payment,
    goods_shown_fen: int,
    fees: Fees,
    final: int | None,
    postings: Iterable[Posting],
    *,
    delivered: bool,
) -> Summary:
    postings = list(postings)
    cash = [p.amount_fen for p in postings if p.kind is Kind.CASH_COLLECTED]
    return Summary(
        payment=payment,
        goods_shown_fen=goods_shown_fen,
        fees=fees,
        final_fen=final,
        paid_fen=-sum(p.amount_fen for p in postings if p.kind is Kind.PAID),
        refund_fen=sum(p.amount_fen for p in postings if p.kind is Kind.REFUND),
        extra_charged_fen=-sum(p.amount_fen for p in postings if p.kind is Kind.EXTRA_CHARGE),
        cash_collected_fen=sum(cash) if cash else None,
        delivered=delivered,
    )
