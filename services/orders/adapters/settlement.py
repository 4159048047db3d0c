"""The journal in PostgreSQL: entries kept for the commit, periods that close, and what statements read.

Entries are written by the unit of work's last statement (adapters/commit.py), with the ledger
postings and order changes that caused them, so the books and the orders' ledgers commit
together or not at all. The database keeps each entry balanced, the journal append-only, and
an entry dated inside a closed period booked after it (migrations/015_settlement.sql).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.orders.adapters.commit import AtCommit
from services.orders.domain.settlement import Book, JournalEntry


@dataclass(frozen=True)
class Period:
    id: int
    starts_at: datetime
    ends_at: datetime
    closed_at: datetime
    closed_by: str


@dataclass(frozen=True)
class BookedLine:
    """One journal line with its entry, as statements read them."""

    entry_id: str
    event: str
    at: datetime
    booked_at: datetime
    store_id: str | None
    order_id: str | None
    group_buy_id: str | None
    holder: str | None
    rider: str | None
    desk: str | None
    corrects_period: int | None
    note: str
    by: str
    book: Book
    party: str
    amount_fen: int
    what: str

    @property
    def late(self) -> bool:
        """Booked after the period it happened in had closed, or a correction of a closed period."""
        return self.booked_at > self.at or self.corrects_period is not None


def _period(r: asyncpg.Record) -> Period:
    return Period(r["id"], r["starts_at"], r["ends_at"], r["closed_at"], r["closed_by"])


def _line(r: asyncpg.Record) -> BookedLine:
    return BookedLine(
        entry_id=str(r["entry_id"]),
        event=r["event"],
        at=r["at"],
        booked_at=r["booked_at"],
        store_id=r["store_id"],
        order_id=r["order_id"],
        group_buy_id=r["group_buy_id"],
        holder=r["holder"],
        rider=r["rider"],
        desk=r["desk"],
        corrects_period=r["corrects_period"],
        note=r["note"],
        by=r["by"],
        book=Book(r["book"]),
        party=r["party"],
        amount_fen=r["amount_fen"],
        what=r["what"],
    )


LINES = """
SELECT l.entry_id, e.event, e.at, e.booked_at, e.store_id, e.order_id, e.group_buy_id, e.holder, e.rider, e.desk,
    e.corrects_period, e.note, e.by, l.book, l.party, l.amount_fen, l.what
FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
"""


class Journal:
    def __init__(self, conn: asyncpg.Connection, at_commit: AtCommit) -> None:
        self.conn = conn
        self.at_commit = at_commit

    def add(self, entries: Iterable[JournalEntry | None]) -> None:
        """Keep the entries for the commit (an entry with a `once` key already booked is skipped there)."""
        self.at_commit.journal.extend(e for e in entries if e is not None)

    async def periods(self) -> list[Period]:
        rows = await self.conn.fetch("SELECT * FROM settlement_periods ORDER BY ends_at")
        return [_period(r) for r in rows]

    async def period(self, period_id: int) -> Period | None:
        row = await self.conn.fetchrow("SELECT * FROM settlement_periods WHERE id = $1", period_id)
        return _period(row) if row else None

    async def first_booked(self) -> datetime | None:
        value: datetime | None = await self.conn.fetchval("SELECT min(booked_at) FROM journal_entries")
        return value

    async def lock_for_close(self) -> None:
        """Wait for every transaction writing the journal, and hold new ones until this close commits."""
        await self.conn.execute("LOCK TABLE journal_entries IN SHARE MODE")
        await self.conn.execute("LOCK TABLE settlement_periods IN EXCLUSIVE MODE")

    async def close(self, starts_at: datetime, ends_at: datetime, by: str, at: datetime) -> Period:
        row = await self.conn.fetchrow(
            "INSERT INTO settlement_periods (starts_at, ends_at, closed_at, closed_by) VALUES ($1, $2, $3, $4) "
            "RETURNING *",
            starts_at,
            ends_at,
            at,
            by,
        )
        return _period(row)

    async def lines(
        self,
        *,
        book: Book | None = None,
        parties: list[str] | None = None,
        store_ids: list[str] | None = None,
        events: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[BookedLine]:
        """Journal lines booked in [since, until), of a book (for some parties), of entries about
        some shops or of some events, in booking order."""
        where = ["true"]
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if book is not None:
            where.append(f"l.book = {arg(book.value)}")
        if parties is not None:
            where.append(f"l.party = any({arg(parties)}::text[])")
        if store_ids is not None:
            where.append(f"e.store_id = any({arg(store_ids)}::text[])")
        if events is not None:
            where.append(f"e.event = any({arg(events)}::text[])")
        if since is not None:
            where.append(f"e.booked_at >= {arg(since)}")
        if until is not None:
            where.append(f"e.booked_at < {arg(until)}")
        rows = await self.conn.fetch(
            LINES + " WHERE " + " AND ".join(where) + " ORDER BY e.booked_at, e.at, l.entry_id, l.n", *args
        )
        return [_line(r) for r in rows]

    async def stalls_of(self, location_id: str) -> list[str]:
        """The stalls of a market, as orders has heard of them from the catalog."""
        rows = await self.conn.fetch(
            "SELECT location_id FROM catalog_locations WHERE parent_id = $1 ORDER BY location_id", location_id
        )
        return [r["location_id"] for r in rows]

    async def of_orders(self, order_ids: list[str]) -> list[BookedLine]:
        rows = await self.conn.fetch(
            LINES + " WHERE e.order_id = any($1::text[]) ORDER BY e.booked_at, l.entry_id, l.n", order_ids
        )
        return [_line(r) for r in rows]

    async def balance(self, book: Book, parties: list[str], *, until: datetime | None = None) -> int:
        """The sum of some accounts' lines (a debit is positive), booked before `until` if given."""
        value = await self.conn.fetchval(
            "SELECT coalesce(sum(l.amount_fen), 0) FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id "
            "WHERE l.book = $1 AND l.party = any($2::text[]) AND ($3::timestamptz IS NULL OR e.booked_at < $3)",
            book.value,
            parties,
            until,
        )
        return int(value)

    async def balances(self, *, until: datetime | None = None) -> list[tuple[Book, str, int]]:
        """Every account's balance (the trial balance: they add up to zero)."""
        rows = await self.conn.fetch(
            "SELECT l.book, l.party, sum(l.amount_fen) AS fen FROM journal_lines l "
            "JOIN journal_entries e ON e.id = l.entry_id WHERE $1::timestamptz IS NULL OR e.booked_at < $1 "
            "GROUP BY l.book, l.party ORDER BY l.book, l.party",
            until,
        )
        return [(Book(r["book"]), r["party"], int(r["fen"])) for r in rows]

    async def unbalanced_entries(self) -> int:
        """How many entries do not add up to zero (none, ever: the database refuses them)."""
        value = await self.conn.fetchval(
            "SELECT count(*) FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id "
            "HAVING sum(amount_fen) <> 0) AS t"
        )
        return int(value)

    async def sale_period(self, order_id: str) -> int | None:
        """The closed period an order's sale was booked in, if it was booked in one."""
        value: int | None = await self.conn.fetchval(
            "SELECT p.id FROM journal_entries e JOIN settlement_periods p "
            "ON e.booked_at >= p.starts_at AND e.booked_at < p.ends_at "
            "WHERE e.order_id = $1 AND e.event = 'settled'",
            order_id,
        )
        return value
