"""Balances and ledger entries in PostgreSQL: a balance moves only together with the entry that says why.

Everything runs on the caller's connection, so entries commit with the order change that
caused them (placing, packing, a cancel) or not at all. A holder's balance row is locked
before it is read for a decision, so two orders placed at once cannot both spend the same money.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from services.orders.adapters.settlement import Journal
from services.orders.domain import settlement
from services.orders.domain.ledger import Account, Entry, Kind, Posting, Postings


class Ledger:
    def __init__(self, conn: asyncpg.Connection, journal: Journal | None = None) -> None:
        self.conn = conn
        self.journal = journal  # books the entries of money in or out with no order (top-ups, desk refunds)

    async def balance(self, holder: str, *, for_update: bool = False) -> int:
        """The holder's balance in fen (0 for someone never topped up); `for_update` locks it until commit."""
        if for_update:
            await self.conn.execute("INSERT INTO balances (holder) VALUES ($1) ON CONFLICT DO NOTHING", holder)
        value = await self.conn.fetchval(
            "SELECT balance_fen FROM balances WHERE holder = $1" + (" FOR UPDATE" if for_update else ""), holder
        )
        return int(value or 0)

    async def post(
        self, holder: str, order_id: str | None, postings: list[Posting], by: str, at: datetime
    ) -> int | None:
        """Write the entries and move the balance by the balance-account ones; returns the new balance.

        Entries of no order (a top-up, a refund paid out at a desk) are booked in the journal here,
        against the desk's cash or the bank; an order's are booked by the use case that knows the
        order (service_layer/payments.py)."""
        if self.journal is not None and order_id is None:
            self.journal.add(settlement.for_posting(p, holder=holder, by=by, at=at) for p in postings)
        balance: int | None = None
        for p in postings:
            if p.account is Account.BALANCE:
                balance = int(
                    await self.conn.fetchval(
                        "INSERT INTO balances (holder, balance_fen) VALUES ($1, $2) ON CONFLICT (holder) DO UPDATE "
                        "SET balance_fen = balances.balance_fen + excluded.balance_fen, updated_at = now() "
                        "RETURNING balance_fen",
                        holder,
                        p.amount_fen,
                    )
                )
            await self.conn.execute(
                "INSERT INTO ledger_entries (holder, order_id, kind, account, amount_fen, balance_after_fen, note, "
                "by, at, desk) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                holder,
                order_id,
                p.kind.value,
                p.account.value,
                p.amount_fen,
                balance if p.account is Account.BALANCE else None,
                p.note,
                by,
                at,
                p.desk,
            )
        return balance

    async def post_many(self, batches: Sequence[Postings]) -> None:
        """`post` for many orders at once, in one statement: each holder's balance moves once by
        the sum of its balance entries, and each entry records the balance just after it, as if
        they had been posted one after another in this order."""
        if self.journal is not None:  # as in `post`: the journal entries of money in or out with no order
            self.journal.add(
                settlement.for_posting(p, holder=b.holder, by=b.by, at=b.at)
                for b in batches
                if b.order_id is None
                for p in b.postings
            )
        rows = [(b.holder, b.order_id, p, b.by, b.at) for b in batches for p in b.postings]
        if not rows:
            return
        await self.conn.execute(
            """
            WITH t AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                    $7::text[], $8::timestamptz[], $10::text[]) WITH ORDINALITY
                    AS t(holder, order_id, kind, account, amount_fen, note, by, at, desk, n)
            ), moved AS (
                INSERT INTO balances (holder, balance_fen)
                SELECT holder, sum(amount_fen) FROM t WHERE account = $9 GROUP BY holder
                ON CONFLICT (holder) DO UPDATE SET balance_fen = balances.balance_fen + excluded.balance_fen,
                    updated_at = now()
                RETURNING holder, balance_fen
            ), later AS (
                SELECT n, coalesce(sum(amount_fen) FILTER (WHERE account = $9) OVER (PARTITION BY holder ORDER BY n
                    ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0) AS later_fen
                FROM t
            )
            INSERT INTO ledger_entries (holder, order_id, kind, account, amount_fen, balance_after_fen, note, by, at,
                desk)
            SELECT t.holder, t.order_id, t.kind, t.account, t.amount_fen,
                CASE WHEN t.account = $9 THEN moved.balance_fen - later.later_fen END, t.note, t.by, t.at, t.desk
            FROM t JOIN later USING (n) LEFT JOIN moved ON moved.holder = t.holder
            ORDER BY t.n
            """,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2].kind.value for r in rows],
            [r[2].account.value for r in rows],
            [r[2].amount_fen for r in rows],
            [r[2].note for r in rows],
            [r[3] for r in rows],
            [r[4] for r in rows],
            Account.BALANCE.value,
            [r[2].desk for r in rows],
        )

    async def entries(self, *, holder: str | None = None, order_id: str | None = None, limit: int = 100) -> list[Entry]:
        """Entries as the shopper reads them: of a holder newest first, or of an order oldest first."""
        if order_id is not None:
            rows = await self.conn.fetch(
                "SELECT * FROM ledger_entries WHERE order_id = $1 ORDER BY id LIMIT $2", order_id, limit
            )
        else:
            rows = await self.conn.fetch(
                "SELECT * FROM ledger_entries WHERE holder = $1 ORDER BY id DESC LIMIT $2", holder, limit
            )
        return [
            Entry(
                id=r["id"],
                holder=r["holder"],
                order_id=r["order_id"],
                kind=Kind(r["kind"]),
                account=Account(r["account"]),
                amount_fen=r["amount_fen"],
                balance_after_fen=r["balance_after_fen"],
                note=r["note"],
                by=r["by"],
                at=r["at"],
                desk=r["desk"],
            )
            for r in rows
        ]
