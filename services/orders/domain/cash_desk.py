"""The service centre's cash desk: residents' cash in and out of their balance, receipts, and the day's count.

A desk takes cash for a top-up and pays cash out for a refund; the money itself moves on the
resident's ledger (domain/ledger.py), so the balance stays the one truth and the desk keeps only
what a cashier needs on top: a numbered receipt per transaction and, per business day, the
close that compares the drawer's counted cash with what the system expected.

A desk's business day is its local date, unless that day is already closed: then what comes in
belongs to the next day, so a closed day never changes. Days are closed only once they have begun.

Riders hand the cash they took at doors in at a desk too (settlement's hand-in, booked to the
desk's cash in the journal, domain/settlement.py). That cash is in the drawer, so it counts in the
day's expected cash beside the top-ups; a hand-in's day is chosen as a receipt's is, from the
days that were closed when it was made.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, Invalid
from shared.vocabulary.money import format_yuan

MAX_AMOUNT_FEN = 1_000_000  # ¥10,000 at once, as for any top-up: more is a typo at the desk


class Movement(StrEnum):
    TOP_UP = "top_up"  # cash in, onto the balance
    REFUND = "refund"  # cash out, off the balance


@dataclass(frozen=True)
class Desk:
    """A cash desk at a service centre; `float_fen` is the change the drawer starts each day with."""

    id: str
    name_zh: str
    name_en: str
    float_fen: int
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True)
class Receipt:
    """One transaction at a desk as the resident takes it home: numbered per desk, without gaps."""

    desk_id: str
    number: int
    movement: Movement
    holder: str
    amount_fen: int  # always positive; `cash_fen` gives the drawer's direction
    balance_after_fen: int
    business_day: date
    entry_id: int  # the ledger entry that moved the balance
    note: str
    operator: str
    at: datetime

    @property
    def code(self) -> str:
        """What is printed and read out: the desk and the number, e.g. 'centre-1-000042'."""
        return receipt_code(self.desk_id, self.number)

    @property
    def cash_fen(self) -> int:
        """How the drawer moved: in for a top-up, out for a refund."""
        return self.amount_fen if self.movement is Movement.TOP_UP else -self.amount_fen


def receipt_code(desk_id: str, number: int) -> str:
    return f"{desk_id}-{number:06d}"


@dataclass(frozen=True)
class HandIn:
    """Cash a rider handed in at the desk (a settlement journal entry): into the drawer, off the rider's cash."""

    entry_id: str
    rider: str
    amount_fen: int
    business_day: date | None  # None until chosen by hand_in_day, in the desk's zone
    note: str
    operator: str
    at: datetime


def hand_in_day(local_day: date, at: datetime, closed_at: Mapping[date, datetime]) -> date:
    """The business day a hand-in made at `at` (on the desk's local `local_day`) counts in: its local day,
    or the first day after it that had not been closed by then. A day closed later does not move it."""
    day = local_day
    while day in closed_at and closed_at[day] <= at:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class DayClose:
    """A desk's day as it was closed: what was expected in the drawer, what was counted, and the difference kept."""

    desk_id: str
    business_day: date
    float_fen: int
    in_fen: int
    out_fen: int
    transactions: int
    expected_fen: int
    counted_fen: int
    note: str
    closed_by: str
    closed_at: datetime

    @property
    def difference_fen(self) -> int:
        """Counted minus expected: positive is cash over, negative is cash short."""
        return self.counted_fen - self.expected_fen


@dataclass(frozen=True)
class DayReport:
    """Every transaction of a desk's day with its totals; closed once `closed` is set."""

    desk: Desk
    business_day: date
    receipts: Sequence[Receipt]
    closed: DayClose | None
    hand_ins: Sequence[HandIn] = ()

    @property
    def float_fen(self) -> int:
        """The float the day was closed with, or the desk's float while it is open."""
        return self.closed.float_fen if self.closed else self.desk.float_fen

    @property
    def top_up_fen(self) -> int:
        return sum(r.amount_fen for r in self.receipts if r.movement is Movement.TOP_UP)

    @property
    def hand_in_fen(self) -> int:
        return sum(h.amount_fen for h in self.hand_ins)

    @property
    def in_fen(self) -> int:
        """Cash taken in: residents' top-ups and riders' hand-ins."""
        return self.top_up_fen + self.hand_in_fen

    @property
    def out_fen(self) -> int:
        return sum(r.amount_fen for r in self.receipts if r.movement is Movement.REFUND)

    @property
    def expected_fen(self) -> int:
        """What the drawer should hold: the float, plus cash taken in (top-ups, hand-ins), minus cash paid out."""
        return self.float_fen + self.in_fen - self.out_fen


def business_day(today: date, closed: Collection[date]) -> date:
    """The day a transaction made `today` belongs to: today, or the first day after it not yet closed."""
    day = today
    while day in closed:
        day += timedelta(days=1)
    return day


def check_amount(movement: Movement, amount_fen: int) -> None:
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        what = "a top-up" if movement is Movement.TOP_UP else "a refund"
        raise Invalid(f"{what} is between ¥0.01 and {format_yuan(MAX_AMOUNT_FEN)}; got {amount_fen} fen")


def check_refund(holder: str, balance_fen: int, amount_fen: int) -> None:
    """A refund pays out at most what the balance holds: nothing is ever lent at the desk."""
    if amount_fen > balance_fen:
        raise Conflict(
            f"the balance of {holder} is {format_yuan(balance_fen)}; a refund of {format_yuan(amount_fen)} "
            "cannot exceed it",
            balance_fen=balance_fen,
        )


def close(report: DayReport, counted_fen: int, today: date, by: str, at: datetime, note: str = "") -> DayClose:
    """Close the report's day with the cash counted in the drawer; a closed day is never closed again."""
    if report.closed is not None:
        done = report.closed
        raise Conflict(
            f"desk {report.desk.id}'s day {report.business_day.isoformat()} was already closed by {done.closed_by} "
            f"at {done.closed_at.isoformat()}, counting {format_yuan(done.counted_fen)} against "
            f"{format_yuan(done.expected_fen)} expected; a closed day never changes, and later transactions "
            "go to the next day",
            closed_at=done.closed_at.isoformat(),
            difference_fen=done.difference_fen,
        )
    if report.business_day > today:
        raise Invalid(
            f"the day {report.business_day.isoformat()} has not begun (today is {today.isoformat()}); "
            "a day closes once its cash has been taken"
        )
    if counted_fen < 0:
        raise Invalid(f"the counted cash is never negative; got {counted_fen} fen")
    return DayClose(
        desk_id=report.desk.id,
        business_day=report.business_day,
        float_fen=report.float_fen,
        in_fen=report.in_fen,
        out_fen=report.out_fen,
        transactions=len(report.receipts) + len(report.hand_ins),
        expected_fen=report.expected_fen,
        counted_fen=counted_fen,
        note=note,
        closed_by=by,
        closed_at=at,
    )
