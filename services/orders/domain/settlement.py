"""Settlement: the platform's double-entry books, kept beside every order's own ledger.

An order's ledger (domain/ledger.py) says what one resident paid for one order. The journal
says where every fen of it sits for the platform: with a resident's prepaid balance, held for
an order not settled yet, owed to a shop or stall, in a rider's pocket, in a desk's till, at
the bank, or earned as a platform fee. Each journal entry's lines add up to zero, so every fen
goes into one account and out of another (docs/operations.md "Settlement: the chart of
accounts" lists the accounts and each event's lines).

Lines are signed as debits: a positive amount is a debit (the platform holds more, or owes
less), a negative one a credit (it holds less, or owes more). So what the platform owes a
shop is minus the sum of the shop's lines, and a rider's cash outstanding is plus the sum.

The rules here are pure: they turn a ledger posting, a delivered order, a collected group-buy
bag, a payout, a rider's hand-in or a correction into one balanced entry. Entries that must be
made once (an order's sale, a bag's) carry a `once` key the database keeps unique, so a
redelivered event books nothing twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from services.orders.domain.ledger import DELIVERED, Account, Kind, Posting
from shared.errors import Invalid
from shared.vocabulary.money import divide_half_up, format_yuan
from shared.vocabulary.order_status import OrderStatus

if TYPE_CHECKING:
    from services.orders.domain.group_buys import GroupBuy, Share
    from services.orders.domain.order import Order


class Book(StrEnum):
    """The chart of accounts; an account is a book and a party (the holder, shop, rider or desk)."""

    RESIDENT = "resident"  # a resident's prepaid balance (the platform owes it): party = holder
    HELD = "held"  # paid or due for an order or bag not settled yet: party = "" (the entry names the order)
    SHOP = "shop"  # payable to a shop, market or stall: party = location id
    RIDER_CASH = "rider_cash"  # cash a rider took at doors and has not handed in: party = rider id
    DESK_CASH = "desk_cash"  # cash in a service-centre desk's till: party = desk id
    PICKUP_CASH = "pickup_cash"  # cash taken for group-buy bags at their pickup: party = who handed them out
    BANK = "bank"  # the platform's bank account: party = ""
    PLATFORM_FEES = "platform_fees"  # fees the platform earned: party = ""
    LEADER = "leader_commission"  # payable to a group-buy leader: party = leader
    ADJUSTMENTS = "adjustments"  # the platform's own corrections of what a shop is owed: party = ""


class Event(StrEnum):
    """What made an entry; a statement groups its lines by these."""

    TOP_UP = "top_up"
    PAID = "paid"
    REFUND = "refund"
    RETURN = "return"  # the refund of a bag that came back: nothing of it reached the resident
    EXTRA_CHARGE = "extra_charge"
    CASH_AT_DOOR = "cash_at_door"
    CASH_AT_COUNTER = "cash_at_counter"
    CASH_AT_PICKUP = "cash_at_pickup"  # a group-buy bag paid in cash where it was handed out
    SETTLED = "settled"  # an order handed over: its final price goes to the shop, stalls and fees
    SHARE_SETTLED = "share_settled"  # a group-buy bag collected
    HAND_IN = "hand_in"  # a rider hands cash in at a desk (or banks it)
    PAYOUT = "payout"  # the platform pays a shop
    CORRECTION = "correction"  # an operator corrects what a shop is owed


@dataclass(frozen=True)
class Line:
    book: Book
    party: str
    amount_fen: int  # a debit is positive
    what: str = ""  # goods, delivery_fee, platform_fee, commission, cash, balance, ...


@dataclass(frozen=True)
class JournalEntry:
    """One balanced entry. The constructor refuses lines that do not add up to zero."""

    event: str
    lines: tuple[Line, ...]
    by: str
    at: datetime
    store_id: str | None = None
    order_id: str | None = None
    group_buy_id: str | None = None
    holder: str | None = None
    rider: str | None = None
    desk: str | None = None
    note: str = ""
    once: str | None = None  # unique: an entry made at most once (an order's sale)
    corrects_period: int | None = None
    id: UUID = field(default_factory=uuid4)

    def __post_init__(self) -> None:
        if not self.lines:
            raise ValueError("a journal entry has lines")
        total = sum(ln.amount_fen for ln in self.lines)
        if total != 0:
            raise ValueError(f"a journal entry's lines add up to zero, these to {total} fen: {self.lines}")
        if any(ln.amount_fen == 0 for ln in self.lines):
            raise ValueError("a journal line moves money; drop the zero ones")


def _entry(event: str, lines: Iterable[Line], by: str, at: datetime, **kw: object) -> JournalEntry | None:
    """The entry with its zero lines dropped, or None if nothing moves."""
    kept = tuple(ln for ln in lines if ln.amount_fen)
    return JournalEntry(event, kept, by, at, **kw) if kept else None  # type: ignore[arg-type]


def _counter(posting: Posting, *, for_something: bool) -> Line:
    """Where a balance posting's money comes from or goes: the order or bag it pays, else the till or bank."""
    if for_something:
        return Line(Book.HELD, "", posting.amount_fen, "balance")
    if posting.desk:
        return Line(Book.DESK_CASH, posting.desk, posting.amount_fen, "cash")
    return Line(Book.BANK, "", posting.amount_fen, "bank")


def _event(posting: Posting, order_status: OrderStatus | None) -> str:
    if posting.kind is Kind.REFUND and order_status is OrderStatus.RETURNED:
        return Event.RETURN
    return posting.kind.value


def for_posting(
    posting: Posting,
    *,
    holder: str,
    by: str,
    at: datetime,
    order: Order | None = None,
    group_buy_id: str | None = None,
    store_id: str | None = None,
) -> JournalEntry | None:
    """The journal entry of one ledger posting.

    A balance posting moves the resident's account against the order (or group-buy bag) it
    pays, or, with neither (a top-up, a cash refund at a desk), against the desk's cash or the
    bank. Cash collected for a pay-on-delivery order is in the rider's pocket if it was taken
    at the door, or with the shop (less owed to it) if taken at its counter; a group-buy bag's cash is
    with whoever handed the bag out.
    """
    store = order.store_id if order else store_id
    kw: dict[str, object] = {
        "holder": holder,
        "order_id": order.id if order else None,
        "group_buy_id": group_buy_id,
        "store_id": store,
        "desk": posting.desk,
        "note": posting.note,
    }
    if posting.account is Account.BALANCE:
        lines = [
            Line(Book.RESIDENT, holder, -posting.amount_fen, "balance"),
            _counter(posting, for_something=order is not None or group_buy_id is not None),
        ]
        return _entry(_event(posting, order.status if order else None), lines, by, at, **kw)
    if posting.kind is Kind.CASH_COLLECTED:
        held = Line(Book.HELD, "", -posting.amount_fen, "cash")
        if order is not None and order.status is OrderStatus.DELIVERED:
            kw["rider"] = by
            return _entry(
                Event.CASH_AT_DOOR, [Line(Book.RIDER_CASH, by, posting.amount_fen, "cash"), held], by, at, **kw
            )
        if group_buy_id is not None:
            cash = Line(Book.PICKUP_CASH, by, posting.amount_fen, "cash")
            return _entry(Event.CASH_AT_PICKUP, [cash, held], by, at, **kw)
        if store is None:
            raise Invalid("cash is taken for an order of a shop, or a group-buy bag")
        return _entry(Event.CASH_AT_COUNTER, [Line(Book.SHOP, store, posting.amount_fen, "cash"), held], by, at, **kw)
    return None


def for_postings(
    postings: Sequence[Posting], *, holder: str, by: str, at: datetime, order: Order | None = None
) -> list[JournalEntry]:
    found = (for_posting(p, holder=holder, by=by, at=at, order=order) for p in postings)
    return [e for e in found if e is not None]


@dataclass(frozen=True)
class Sale:
    """An order's final price as it is split: goods per stall (or the shop itself), its fees."""

    goods_fen: dict[str, int]
    delivery_fee_fen: int
    platform_fee_fen: int

    @property
    def total_fen(self) -> int:
        return sum(self.goods_fen.values()) + self.delivery_fee_fen + self.platform_fee_fen


def sale_of(order: Order) -> Sale | None:
    """The split of a handed-over order's final price; None until it is handed over (or if it costs nothing).

    Goods go to the stall each line came from, at the price the shop packed it at (weights
    as weighed, substitutes at theirs, refused lines at 0); a remainder of the packed total
    not on any line goes to the shop. The delivery fee is the shop's (dropped if the bag was
    not carried), the platform fee the platform's.
    """
    if order.status not in DELIVERED or order.packed is None:
        return None
    goods: dict[str, int] = defaultdict(int)
    for line in order.lines:
        goods[line.location_id] += line.final_fen or 0
    rest = order.packed.final_fen - sum(goods.values())
    if rest:
        goods[order.store_id] += rest
    return Sale(dict(goods), order.delivery_fee_fen if order.dispatched else 0, order.platform_fee_fen)


def settled(order: Order, by: str, at: datetime) -> JournalEntry | None:
    """An order handed over (at the door or a locker, or at the counter): what was held for it is the shop's now."""
    sale = sale_of(order)
    if sale is None:
        return None
    lines = [Line(Book.HELD, "", sale.total_fen, "sale")]
    lines += [Line(Book.SHOP, location, -fen, "goods") for location, fen in sorted(sale.goods_fen.items())]
    lines.append(Line(Book.SHOP, order.store_id, -sale.delivery_fee_fen, "delivery_fee"))
    lines.append(Line(Book.PLATFORM_FEES, "", -sale.platform_fee_fen, "platform_fee"))
    return _entry(
        Event.SETTLED,
        lines,
        by,
        at,
        store_id=order.store_id,
        order_id=order.id,
        holder=order.placed_for,
        once=f"settled:{order.id}",
        note=f"{order.id} handed over: {format_yuan(sale.total_fen)}",
    )


def share_settled(deal: GroupBuy, share: Share, by: str, at: datetime) -> JournalEntry | None:
    """A group-buy bag collected: its goods go to the stalls they came from, the fee to the platform,
    and the leader's commission (in basis points of the bag's goods) out of the shop's part."""
    if share.collected_at is None:
        return None
    prices = {i.line_no: (i.location_id, i.group_price_fen) for i in deal.items}
    goods: dict[str, int] = defaultdict(int)
    for line_no, pieces in share.pieces.items():
        location, price = prices[line_no]
        goods[location] += price * pieces
    due = deal.share_due_fen(share)  # what the bag is due, its fee included
    fee = deal.platform_fee_fen if due else 0
    rest = due - fee - sum(goods.values())  # a weighed line's difference: the shop's
    if rest:
        goods[deal.store_id] += rest
    goods_fen = due - fee
    commission = divide_half_up(goods_fen * deal.commission_bp, 10_000)
    lines = [Line(Book.HELD, "", goods_fen + fee, "sale")]
    lines += [Line(Book.SHOP, location, -fen, "goods") for location, fen in sorted(goods.items())]
    lines.append(Line(Book.PLATFORM_FEES, "", -fee, "platform_fee"))
    lines.append(Line(Book.SHOP, deal.store_id, commission, "commission"))
    lines.append(Line(Book.LEADER, deal.leader, -commission, "commission"))
    return _entry(
        Event.SHARE_SETTLED,
        _merged(lines),
        by,
        at,
        store_id=deal.store_id,
        group_buy_id=deal.id,
        holder=share.holder,
        once=f"share_settled:{deal.id}:{share.holder}",
        note=f"bag {share.number} of group buy {deal.title} collected",
    )


def _merged(lines: Iterable[Line]) -> list[Line]:
    """Lines of the same account and purpose as one (a shop that is its own stall)."""
    sums: dict[tuple[Book, str, str], int] = defaultdict(int)
    for ln in lines:
        sums[ln.book, ln.party, ln.what] += ln.amount_fen
    return [Line(b, p, fen, w) for (b, p, w), fen in sums.items()]


def payout(location_id: str, amount_fen: int, by: str, at: datetime, note: str = "") -> JournalEntry:
    """The platform pays a shop (or stall) from the bank: it owes the shop that much less."""
    if amount_fen <= 0:
        raise Invalid(f"a payout is a positive amount of fen; got {amount_fen}")
    lines = (Line(Book.SHOP, location_id, amount_fen, "payout"), Line(Book.BANK, "", -amount_fen, "payout"))
    return JournalEntry(
        Event.PAYOUT, lines, by, at, store_id=location_id, note=note or f"paid {format_yuan(amount_fen)}"
    )


def hand_in(rider: str, amount_fen: int, desk: str | None, by: str, at: datetime, note: str = "") -> JournalEntry:
    """A rider hands cash in: at a desk (into its till) or banked."""
    if amount_fen <= 0:
        raise Invalid(f"a hand-in is a positive amount of fen; got {amount_fen}")
    into = Line(Book.DESK_CASH, desk, amount_fen, "cash") if desk else Line(Book.BANK, "", amount_fen, "cash")
    lines = (into, Line(Book.RIDER_CASH, rider, -amount_fen, "cash"))
    where = f"at desk {desk}" if desk else "into the bank"
    return JournalEntry(
        Event.HAND_IN,
        lines,
        by,
        at,
        rider=rider,
        desk=desk,
        note=note or f"handed in {format_yuan(amount_fen)} {where}",
    )


def pickup_hand_in(
    holder: str, amount_fen: int, desk: str | None, by: str, at: datetime, note: str = ""
) -> JournalEntry:
    """Whoever handed group-buy bags out (a leader, a helper, an admin) hands in the cash taken for them."""
    if amount_fen <= 0:
        raise Invalid(f"a hand-in is a positive amount of fen; got {amount_fen}")
    into = Line(Book.DESK_CASH, desk, amount_fen, "cash") if desk else Line(Book.BANK, "", amount_fen, "cash")
    lines = (into, Line(Book.PICKUP_CASH, holder, -amount_fen, "cash"))
    where = f"at desk {desk}" if desk else "into the bank"
    return JournalEntry(
        Event.HAND_IN,
        lines,
        by,
        at,
        holder=holder,
        desk=desk,
        note=note or f"pickup cash: {holder} handed in {format_yuan(amount_fen)} {where}",
    )


def leader_payout(leader: str, amount_fen: int, by: str, at: datetime, note: str = "") -> JournalEntry:
    """The platform pays a group-buy leader the commission the shops' takings owe them, from the bank."""
    if amount_fen <= 0:
        raise Invalid(f"a payout is a positive amount of fen; got {amount_fen}")
    lines = (Line(Book.LEADER, leader, amount_fen, "payout"), Line(Book.BANK, "", -amount_fen, "payout"))
    return JournalEntry(
        Event.PAYOUT, lines, by, at, holder=leader, note=note or f"commission to {leader}: {format_yuan(amount_fen)}"
    )


def correction(
    location_id: str,
    amount_fen: int,
    reason: str,
    by: str,
    at: datetime,
    *,
    store_id: str,
    order_id: str | None = None,
    corrects_period: int | None = None,
) -> JournalEntry:
    """An operator's correction of what a shop is owed: positive, the platform owes it more; negative, less."""
    if amount_fen == 0:
        raise Invalid("a correction moves money: give a positive amount (owed more) or a negative one (owed less)")
    if not reason.strip():
        raise Invalid("a correction says why: give a reason")
    lines = (
        Line(Book.SHOP, location_id, -amount_fen, "correction"),
        Line(Book.ADJUSTMENTS, "", amount_fen, "correction"),
    )
    return JournalEntry(
        Event.CORRECTION,
        lines,
        by,
        at,
        store_id=store_id,
        order_id=order_id,
        note=reason.strip(),
        corrects_period=corrects_period,
    )


def owed_to(lines: Iterable[Line]) -> int:
    """What the platform owes on these payable lines (a shop's, a resident's): minus their sum."""
    return -sum(ln.amount_fen for ln in lines)
