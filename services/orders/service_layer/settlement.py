"""Use cases of settlement: statements per shop, stall and rider, closing periods, payouts, hand-ins, corrections.

The journal is written by the money use cases themselves (payments, placing, group buys), so
what these read is always what the orders' ledgers say, to the fen. A statement is for any
window of booking time, or for one closed period; a closed period never changes, because an
entry is never edited and one dated inside a closed period is booked after it (the database
does both, migrations/015_settlement.sql).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.orders.adapters.settlement import BookedLine, Period
from services.orders.domain import settlement
from services.orders.domain.basket import CatalogLocation
from services.orders.domain.order import Order
from services.orders.domain.settlement import Book, Event
from services.orders.service_layer.reading import check_registered
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.audit import only, summary
from shared.auth import Principal
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.vocabulary.money import format_yuan
from shared.vocabulary.roles import Role

MAX_MOVE_FEN = 100_000_000  # ¥1,000,000 at once: more is a typo


@dataclass(frozen=True)
class Window:
    """The booking time a statement covers: [since, until), one closed period's or any other."""

    since: datetime | None
    until: datetime
    period: Period | None
    closed: bool  # every entry in it is in closed periods: the statement will never change


@dataclass(frozen=True)
class StatementLine:
    """One order line as settled: the goods at their final price, the substitute and weight as packed."""

    line_no: int
    location_id: str
    product_id: str
    name_zh: str
    name_en: str
    unit: str
    quantity: int
    final_quantity: int | None
    unit_price_fen: int
    estimated_fen: int
    final_fen: int | None
    status: str
    substitute: dict[str, Any] | None


@dataclass
class OrderOnStatement:
    order_id: str
    status: str
    payment: str
    booked_at: datetime
    lines: list[StatementLine] = field(default_factory=list)
    goods_fen: int = 0
    delivery_fee_fen: int = 0
    platform_fee_fen: int = 0
    cash_taken_fen: int = 0
    refund_fen: int = 0
    returned_fen: int = 0
    owed_fen: int = 0  # what this order adds to what the platform owes the shop, in this window
    late: bool = False


@dataclass
class DealOnStatement:
    group_buy_id: str
    bags: int = 0
    goods_fen: int = 0
    commission_fen: int = 0
    cash_taken_fen: int = 0
    owed_fen: int = 0


@dataclass(frozen=True)
class Movement:
    """A payout, a correction or another entry on the shop's account, as the statement lists it."""

    entry_id: str
    event: str
    location_id: str
    amount_fen: int  # what it adds to what the platform owes the shop
    note: str
    by: str
    at: datetime
    booked_at: datetime
    order_id: str | None
    corrects_period: int | None
    late: bool


@dataclass(frozen=True)
class ShopStatement:
    location: CatalogLocation
    accounts: list[str]  # the location's own account, and its stalls' for a market
    window: Window
    opening_owed_fen: int
    orders: list[OrderOnStatement]
    group_buys: list[DealOnStatement]
    payouts: list[Movement]
    corrections: list[Movement]
    totals: dict[str, int]
    closing_owed_fen: int

    @property
    def conclusion(self) -> str:
        name = self.location.name_en
        if self.closing_owed_fen > 0:
            return f"the platform owes {name} {format_yuan(self.closing_owed_fen)}"
        if self.closing_owed_fen < 0:
            return f"{name} owes the platform {format_yuan(-self.closing_owed_fen)}"
        return f"nothing is owed either way: {name} and the platform are square"


@dataclass(frozen=True)
class CashMove:
    entry_id: str
    event: str
    amount_fen: int  # signed as it changes the rider's cash outstanding
    order_id: str | None
    desk: str | None
    note: str
    by: str
    at: datetime
    booked_at: datetime
    late: bool


@dataclass(frozen=True)
class RiderStatement:
    rider_id: str
    window: Window
    opening_outstanding_fen: int
    collected: list[CashMove]
    handed_in: list[CashMove]
    collected_fen: int
    handed_in_fen: int
    outstanding_fen: int


@dataclass(frozen=True)
class TrialBalance:
    until: datetime | None
    accounts: list[tuple[Book, str, int]]

    @property
    def total_fen(self) -> int:
        return sum(fen for _, _, fen in self.accounts)


# --- who may see what ---------------------------------------------------------------------


def require_admin(principal: Principal, what: str) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden(f"only an operator (admin) {what}")


async def _location(uow: OrdersUnitOfWork, location_id: str) -> CatalogLocation:
    found = await uow.catalog.location(location_id)
    if found is None:
        raise NotFound(f"no shop, market or stall {location_id!r}")
    return found


async def _check_shop_reader(uow: OrdersUnitOfWork, principal: Principal, location: CatalogLocation) -> None:
    """An admin reads every statement; a shop's staff their own shop's, and a market's staff its stalls' too."""
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.STORE_STAFF or principal.store is None:
        raise Forbidden("statements are for operators (admin) and the shop's own staff")
    await check_registered(uow, principal)
    if principal.store not in (location.location_id, location.parent_id):
        raise Forbidden(
            f"staff of {principal.store} see {principal.store}'s statements (and its stalls'), "
            f"not {location.location_id}'s"
        )


# --- windows and periods ------------------------------------------------------------------


async def window(
    uow: OrdersUnitOfWork,
    *,
    period_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Window:
    """One closed period's window, or [since, until): until defaults to now, since to the open period's start."""
    periods = await uow.journal.periods()
    closed_until = periods[-1].ends_at if periods else None
    if period_id is not None:
        if since is not None or until is not None:
            raise Invalid("ask for a period, or for since/until, not both")
        period = next((p for p in periods if p.id == period_id), None)
        if period is None:
            raise NotFound(f"no settlement period {period_id}; GET /settlement/periods lists them")
        return Window(period.starts_at, period.ends_at, period, True)
    until = until or uow.now()
    since = since if since is not None else closed_until
    if since is not None and since >= until:
        raise Invalid(f"a statement's since ({since.isoformat()}) is before its until ({until.isoformat()})")
    return Window(since, until, None, closed_until is not None and until <= closed_until)


async def periods(uow: OrdersUnitOfWork, principal: Principal) -> tuple[list[Period], datetime | None]:
    """The closed periods, oldest first, and where the open one starts."""
    if principal.role not in (Role.ADMIN, Role.STORE_STAFF):
        raise Forbidden("settlement periods are for operators (admin) and shop staff")
    found = await uow.journal.periods()
    return found, found[-1].ends_at if found else None


async def close_period(uow: OrdersUnitOfWork, principal: Principal, ends_at: datetime | None) -> Period:
    """Close the open period at `ends_at` (now if not given). A closed period never changes: closing one
    again, or a moment inside one, is refused (409) with the period that is in the way."""
    require_admin(principal, "closes a settlement period")
    now = uow.now()
    ends_at = ends_at or now
    if ends_at > now:
        raise Invalid(f"a period closes at a moment that has passed; {ends_at.isoformat()} is after now")
    await uow.journal.lock_for_close()
    found = await uow.journal.periods()
    for p in found:
        if p.ends_at == ends_at:
            raise Conflict(
                f"the period ending {ends_at.isoformat()} is already closed (period {p.id}, closed at "
                f"{p.closed_at.isoformat()} by {p.closed_by}); a closed period never changes",
                period_id=p.id,
            )
    last = found[-1] if found else None
    if last is not None and ends_at < last.ends_at:
        raise Conflict(
            f"{ends_at.isoformat()} falls inside period {last.id} ({last.starts_at.isoformat()} to "
            f"{last.ends_at.isoformat()}), closed at {last.closed_at.isoformat()} by {last.closed_by}; "
            "a closed period never changes: post a correction, which goes into the open period",
            period_id=last.id,
        )
    if last is not None:
        starts_at = last.ends_at
    else:
        first = await uow.journal.first_booked()
        starts_at = first if first is not None and first < ends_at else ends_at - timedelta(days=7)
    closed = await uow.journal.close(starts_at, ends_at, principal.subject, now)
    await uow.audit.record(
        principal, "settlement_period", str(closed.id), "closed", after=only(summary(closed), "starts_at", "ends_at")
    )
    return closed


# --- statements ---------------------------------------------------------------------------


def _statement_line(order: Order, accounts: set[str]) -> list[StatementLine]:
    return [
        StatementLine(
            line_no=ln.line_no,
            location_id=ln.location_id,
            product_id=ln.product_id,
            name_zh=ln.name_zh,
            name_en=ln.name_en,
            unit=ln.unit,
            quantity=ln.quantity,
            final_quantity=ln.final_quantity,
            unit_price_fen=ln.unit_price_fen,
            estimated_fen=ln.estimated_fen,
            final_fen=ln.final_fen,
            status=ln.status.value,
            substitute=ln.substitute.as_dict() if ln.substitute else None,
        )
        for ln in order.lines
        if ln.location_id in accounts or order.store_id in accounts
    ]


def _movement(ln: BookedLine) -> Movement:
    return Movement(
        entry_id=ln.entry_id,
        event=ln.event,
        location_id=ln.party,
        amount_fen=-ln.amount_fen,
        note=ln.note,
        by=ln.by,
        at=ln.at,
        booked_at=ln.booked_at,
        order_id=ln.order_id,
        corrects_period=ln.corrects_period,
        late=ln.late,
    )


@dataclass
class _Tally:
    """A statement as its lines are read: each order's, each deal's, the payouts and corrections."""

    loaded: dict[str, Order]
    accounts: set[str]
    stall: bool
    orders: dict[str, OrderOnStatement] = field(default_factory=dict)
    deals: dict[str, DealOnStatement] = field(default_factory=dict)
    payouts: list[Movement] = field(default_factory=list)
    corrections: list[Movement] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    stall_refunds_seen: set[tuple[str, bool]] = field(default_factory=set)

    def order(self, ln: BookedLine) -> OrderOnStatement | None:
        order = self.loaded.get(ln.order_id or "")
        if order is None:
            return None
        if order.id not in self.orders:
            lines_here = _statement_line(order, self.accounts)
            if not lines_here:
                return None  # a stall's statement: an order of its market with nothing from this stall
            self.orders[order.id] = OrderOnStatement(
                order.id, order.status.value, order.payment, ln.booked_at, lines_here
            )
        return self.orders[order.id]

    def shop_line(self, ln: BookedLine) -> None:
        owed = -ln.amount_fen
        self.totals[ln.what or ln.event] += owed
        if ln.event == Event.PAYOUT:
            self.payouts.append(_movement(ln))
        elif ln.event == Event.CORRECTION:
            self.corrections.append(_movement(ln))
        elif ln.group_buy_id is not None:
            self.deal_line(ln, owed)
        elif (entry := self.order(ln)) is not None:
            entry.owed_fen += owed
            entry.late = entry.late or ln.late
            if ln.what == "goods":
                entry.goods_fen += owed
            elif ln.what == "delivery_fee":
                entry.delivery_fee_fen += owed
            elif ln.what == "cash":
                entry.cash_taken_fen -= owed

    def deal_line(self, ln: BookedLine, owed: int) -> None:
        deal = self.deals.setdefault(ln.group_buy_id or "", DealOnStatement(ln.group_buy_id or ""))
        deal.owed_fen += owed
        if ln.what == "goods":
            deal.goods_fen += owed
            deal.bags += 1
        elif ln.what == "commission":
            deal.commission_fen -= owed
        elif ln.what == "cash":
            deal.cash_taken_fen -= owed

    def money_back(self, ln: BookedLine) -> None:
        if (entry := self.order(ln)) is None:
            return
        if self.stall:
            self.stall_money_back(ln, entry)
        elif ln.event == Event.RETURN:
            entry.returned_fen -= ln.amount_fen
        else:
            entry.refund_fen -= ln.amount_fen

    def stall_money_back(self, ln: BookedLine, entry: OrderOnStatement) -> None:
        """A refund is posted for the whole order, so a stall shows only its own lines' part of it:
        what each of its lines gave back, or, for a bag returned, what its lines had come to.
        Counted once per order and kind, however many refund postings the order had in the window."""
        key = (ln.order_id or "", ln.event == Event.RETURN)
        if key in self.stall_refunds_seen:
            return
        self.stall_refunds_seen.add(key)
        order = self.loaded[entry.order_id]
        mine = [line for line in order.lines if line.location_id in self.accounts]
        if ln.event == Event.RETURN:
            entry.returned_fen = sum(line.final_fen or 0 for line in mine)
        else:
            entry.refund_fen = sum(line.refund_fen for line in mine)

    def fee(self, ln: BookedLine) -> None:
        if ln.order_id in self.orders and not self.stall:
            self.orders[ln.order_id].platform_fee_fen -= ln.amount_fen


async def shop_statement(uow: OrdersUnitOfWork, principal: Principal, location_id: str, win: Window) -> ShopStatement:
    """A shop's, market's or stall's statement: every order handed over in the window with its goods as
    settled, refunds and returns, fees, cash taken, group-buy bags, payouts and corrections, and what
    the platform owes the shop (or the shop owes the platform) at the window's end."""
    location = await _location(uow, location_id)
    await _check_shop_reader(uow, principal, location)
    stall = location.kind == "stall"
    accounts = [location_id] if stall else [location_id, *await uow.journal.stalls_of(location_id)]
    opening = -await uow.journal.balance(Book.SHOP, accounts, until=win.since) if win.since else 0
    lines = await uow.journal.lines(book=Book.SHOP, parties=accounts, since=win.since, until=win.until)
    store_ids = [location.parent_id] if stall and location.parent_id else [location_id]
    during = {"store_ids": store_ids, "since": win.since, "until": win.until}
    money_back = await uow.journal.lines(book=Book.RESIDENT, events=[Event.REFUND, Event.RETURN], **during)  # type: ignore[arg-type]
    fees = await uow.journal.lines(book=Book.PLATFORM_FEES, events=[Event.SETTLED], **during)  # type: ignore[arg-type]
    order_ids = sorted({ln.order_id for ln in [*lines, *money_back] if ln.order_id})
    tally = _Tally(await uow.orders.get_many(order_ids) if order_ids else {}, set(accounts), stall)
    for ln in lines:
        tally.shop_line(ln)
    for ln in money_back:
        tally.money_back(ln)
    for ln in fees:
        tally.fee(ln)
    period_owed = -sum(ln.amount_fen for ln in lines)
    listed = sorted(tally.orders.values(), key=lambda o: (o.booked_at, o.order_id))
    totals = dict(tally.totals)
    totals["refunds"] = sum(o.refund_fen for o in listed)
    totals["returns"] = sum(o.returned_fen for o in listed)
    totals["platform_fees"] = sum(o.platform_fee_fen for o in listed)
    totals["owed_in_window"] = period_owed
    return ShopStatement(
        location=location,
        accounts=accounts,
        window=win,
        opening_owed_fen=opening,
        orders=listed,
        group_buys=sorted(tally.deals.values(), key=lambda d: d.group_buy_id),
        payouts=tally.payouts,
        corrections=tally.corrections,
        totals=totals,
        closing_owed_fen=opening + period_owed,
    )


def _cash_move(ln: BookedLine) -> CashMove:
    return CashMove(
        entry_id=ln.entry_id,
        event=ln.event,
        amount_fen=ln.amount_fen,
        order_id=ln.order_id,
        desk=ln.desk,
        note=ln.note,
        by=ln.by,
        at=ln.at,
        booked_at=ln.booked_at,
        late=ln.late,
    )


async def rider_statement(uow: OrdersUnitOfWork, principal: Principal, rider_id: str, win: Window) -> RiderStatement:
    """A rider's cash: collected at doors, handed in, and outstanding at the window's end."""
    if principal.role is Role.RIDER and principal.subject != rider_id:
        raise Forbidden(f"a rider sees their own cash statement, not {rider_id}'s")
    if principal.role not in (Role.ADMIN, Role.RIDER):
        raise Forbidden("a rider's cash statement is for operators (admin) and the rider")
    opening = await uow.journal.balance(Book.RIDER_CASH, [rider_id], until=win.since) if win.since else 0
    lines = await uow.journal.lines(book=Book.RIDER_CASH, parties=[rider_id], since=win.since, until=win.until)
    collected = [_cash_move(ln) for ln in lines if ln.amount_fen > 0]
    handed_in = [_cash_move(ln) for ln in lines if ln.amount_fen < 0]
    collected_fen = sum(m.amount_fen for m in collected)
    handed_in_fen = -sum(m.amount_fen for m in handed_in)
    return RiderStatement(
        rider_id=rider_id,
        window=win,
        opening_outstanding_fen=opening,
        collected=collected,
        handed_in=handed_in,
        collected_fen=collected_fen,
        handed_in_fen=handed_in_fen,
        outstanding_fen=opening + collected_fen - handed_in_fen,
    )


async def trial_balance(uow: OrdersUnitOfWork, principal: Principal, until: datetime | None) -> TrialBalance:
    """Every account's balance; they add up to zero."""
    require_admin(principal, "reads the whole books")
    return TrialBalance(until, await uow.journal.balances(until=until))


# --- money the operator moves -------------------------------------------------------------


def _amount(amount_fen: int, what: str) -> None:
    if not 0 < amount_fen <= MAX_MOVE_FEN:
        raise Invalid(f"{what} is between ¥0.01 and {format_yuan(MAX_MOVE_FEN)}; got {amount_fen} fen")


async def pay_shop(
    uow: OrdersUnitOfWork, principal: Principal, location_id: str, amount_fen: int, note: str | None
) -> settlement.JournalEntry:
    """The platform pays a shop (or stall) from the bank, at most what it owes that account now."""
    require_admin(principal, "pays a shop")
    _amount(amount_fen, "a payout")
    await _location(uow, location_id)
    owed = -await uow.journal.balance(Book.SHOP, [location_id])
    if amount_fen > owed:
        raise Conflict(
            f"the platform owes {location_id} {format_yuan(owed)} now; a payout of {format_yuan(amount_fen)} "
            "would pay more than that",
            owed_fen=owed,
        )
    entry = settlement.payout(location_id, amount_fen, principal.subject, uow.now(), note or "")
    uow.journal.add([entry])
    return entry


async def hand_in(
    uow: OrdersUnitOfWork, principal: Principal, rider_id: str, amount_fen: int, desk: str | None, note: str | None
) -> settlement.JournalEntry:
    """A rider hands in cash taken at doors: at a desk, or banked; at most what the rider holds."""
    require_admin(principal, "takes a rider's cash in")
    await _cash_held(uow, Book.RIDER_CASH, rider_id, amount_fen, desk, "of cash taken at doors")
    entry = settlement.hand_in(rider_id, amount_fen, desk, principal.subject, uow.now(), note or "")
    uow.journal.add([entry])
    return entry


async def hand_in_pickup_cash(
    uow: OrdersUnitOfWork, principal: Principal, holder: str, amount_fen: int, desk: str | None, note: str | None
) -> settlement.JournalEntry:
    """Cash taken for group-buy bags at their pickup is handed in, at a desk or banked; at most what is held."""
    require_admin(principal, "takes in the cash taken at a group buy's pickup")
    await _cash_held(uow, Book.PICKUP_CASH, holder, amount_fen, desk, "of cash taken at group-buy pickups")
    entry = settlement.pickup_hand_in(holder, amount_fen, desk, principal.subject, uow.now(), note or "")
    uow.journal.add([entry])
    return entry


async def _cash_held(
    uow: OrdersUnitOfWork, book: Book, party: str, amount_fen: int, desk: str | None, what: str
) -> None:
    """A hand-in takes at most what the party holds. The desk's row is locked as its day's close locks
    it, so a hand-in is in a day's close or after it."""
    _amount(amount_fen, "a hand-in")
    if desk is not None and await uow.cash_desks.get(desk, for_update=True) is None:
        raise NotFound(f"no cash desk {desk!r}; GET /desks lists them (leave desk out for cash banked)")
    held = await uow.journal.balance(book, [party])
    if amount_fen > held:
        raise Conflict(
            f"{party} holds {format_yuan(held)} {what}; a hand-in of {format_yuan(amount_fen)} is more than that",
            held_fen=held,
        )


async def pay_leader(
    uow: OrdersUnitOfWork, principal: Principal, leader: str, amount_fen: int, note: str | None
) -> settlement.JournalEntry:
    """The platform pays a leader's commission from the bank, at most what it owes the leader now."""
    require_admin(principal, "pays a group-buy leader")
    _amount(amount_fen, "a payout")
    owed = -await uow.journal.balance(Book.LEADER, [leader])
    if amount_fen > owed:
        raise Conflict(
            f"the platform owes {leader} {format_yuan(owed)} of commission now; a payout of "
            f"{format_yuan(amount_fen)} would pay more than that",
            owed_fen=owed,
        )
    entry = settlement.leader_payout(leader, amount_fen, principal.subject, uow.now(), note or "")
    uow.journal.add([entry])
    return entry


async def correct(  # noqa: PLR0917 (a correction says all of these)
    uow: OrdersUnitOfWork,
    principal: Principal,
    location_id: str,
    amount_fen: int,
    reason: str,
    order_id: str | None = None,
    corrects_period: int | None = None,
) -> settlement.JournalEntry:
    """Correct what a shop is owed. It is booked now, in the open period; when it corrects a closed
    period (named, or the one the order's sale was booked in) it says so and statements mark it late."""
    require_admin(principal, "corrects what a shop is owed")
    if not 0 < abs(amount_fen) <= MAX_MOVE_FEN:
        raise Invalid(
            f"a correction is between ¥0.01 and {format_yuan(MAX_MOVE_FEN)} either way "
            f"(positive: the shop is owed more); got {amount_fen} fen"
        )
    location = await _location(uow, location_id)
    store_id = location.parent_id if location.kind == "stall" and location.parent_id else location_id
    if order_id is not None:
        order = await uow.orders.get(order_id)
        if order is None or (
            order.store_id != location_id and all(ln.location_id != location_id for ln in order.lines)
        ):
            raise NotFound(f"no order {order_id} of {location_id}")
    if corrects_period is not None:
        if await uow.journal.period(corrects_period) is None:
            raise NotFound(f"no closed settlement period {corrects_period}; GET /settlement/periods lists them")
    elif order_id is not None:
        corrects_period = await uow.journal.sale_period(order_id)
    note = reason.strip()
    if corrects_period is not None:
        note = f"{note} (late: corrects closed period {corrects_period})"
    entry = settlement.correction(
        location_id,
        amount_fen,
        note if reason.strip() else "",
        principal.subject,
        uow.now(),
        store_id=store_id,
        order_id=order_id,
        corrects_period=corrects_period,
    )
    uow.journal.add([entry])
    return entry
