"""Cash desks, their receipts and day closes in PostgreSQL (migration 016).

Everything runs on the caller's connection, in the transaction that also posts the ledger
entry, so a receipt exists exactly when its money moved. A desk's row is locked before a
transaction or a close reads it: receipts are numbered without gaps, and a close cannot miss a
transaction committing beside it.
"""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from services.orders.domain.cash_desk import DayClose, Desk, HandIn, Movement, Receipt


def _desk(r: asyncpg.Record) -> Desk:
    return Desk(r["id"], r["name_zh"], r["name_en"], r["float_fen"], r["updated_by"], r["updated_at"])


def _receipt(r: asyncpg.Record) -> Receipt:
    return Receipt(
        desk_id=r["desk_id"],
        number=r["number"],
        movement=Movement(r["movement"]),
        holder=r["holder"],
        amount_fen=r["amount_fen"],
        balance_after_fen=r["balance_after_fen"],
        business_day=r["business_day"],
        entry_id=r["entry_id"],
        note=r["note"],
        operator=r["operator"],
        at=r["at"],
    )


def _close(r: asyncpg.Record) -> DayClose:
    return DayClose(
        desk_id=r["desk_id"],
        business_day=r["business_day"],
        float_fen=r["float_fen"],
        in_fen=r["in_fen"],
        out_fen=r["out_fen"],
        transactions=r["transactions"],
        expected_fen=r["expected_fen"],
        counted_fen=r["counted_fen"],
        note=r["note"],
        closed_by=r["closed_by"],
        closed_at=r["closed_at"],
    )


class CashDesks:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def put(self, desk: Desk) -> Desk:
        """Add the desk or change its names and float; its receipt numbering carries on."""
        row = await self.conn.fetchrow(
            "INSERT INTO cash_desks (id, name_zh, name_en, float_fen, updated_by, updated_at) "
            "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (id) DO UPDATE SET name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, float_fen = excluded.float_fen, updated_by = excluded.updated_by, "
            "updated_at = excluded.updated_at RETURNING *",
            desk.id,
            desk.name_zh,
            desk.name_en,
            desk.float_fen,
            desk.updated_by,
            desk.updated_at,
        )
        return _desk(row)

    async def get(self, desk_id: str, *, for_update: bool = False) -> Desk | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM cash_desks WHERE id = $1" + (" FOR UPDATE" if for_update else ""), desk_id
        )
        return _desk(row) if row else None

    async def listed(self) -> list[Desk]:
        return [_desk(r) for r in await self.conn.fetch("SELECT * FROM cash_desks ORDER BY id")]

    async def closed_days(self, desk_id: str, since: date) -> set[date]:
        """The desk's closed days from `since` on: where a transaction made that day may not go."""
        rows = await self.conn.fetch(
            "SELECT business_day FROM cash_desk_day_closes WHERE desk_id = $1 AND business_day >= $2", desk_id, since
        )
        return {r["business_day"] for r in rows}

    async def close_times(self, desk_id: str) -> dict[date, datetime]:
        """Every closed day of the desk and when it was closed: where a hand-in made after that may not go."""
        rows = await self.conn.fetch(
            "SELECT business_day, closed_at FROM cash_desk_day_closes WHERE desk_id = $1", desk_id
        )
        return {r["business_day"]: r["closed_at"] for r in rows}

    async def hand_ins(self, desk_id: str, since: datetime, until: datetime) -> list[HandIn]:
        """Riders' hand-ins at the desk made in [since, until), from settlement's journal (migration 015),
        with what went into the desk's cash; their business day is the caller's to choose (it knows the zone)."""
        rows = await self.conn.fetch(
            "SELECT e.id, coalesce(e.rider, e.holder) AS rider, e.at, e.by, e.note, sum(l.amount_fen) AS amount_fen"
            " FROM journal_entries e JOIN journal_lines l"
            "   ON l.entry_id = e.id AND l.book = 'desk_cash' AND l.party = e.desk"
            " WHERE e.event = 'hand_in' AND e.desk = $1 AND e.at >= $2 AND e.at < $3"
            " GROUP BY e.id ORDER BY e.at, e.id",
            desk_id,
            since,
            until,
        )
        return [
            HandIn(str(r["id"]), r["rider"] or "", int(r["amount_fen"]), None, r["note"], r["by"], r["at"])
            for r in rows
        ]

    async def last_balance_entry(self, holder: str) -> int:
        """The id of the holder's newest balance entry: the caller's own, while it holds the balance's lock."""
        return int(
            await self.conn.fetchval(
                "SELECT max(id) FROM ledger_entries WHERE holder = $1 AND account = 'balance'", holder
            )
        )

    async def add_receipt(self, unnumbered: Receipt) -> Receipt:
        """The receipt under the desk's next number (the desk is locked by the caller); its own number is ignored."""
        r = unnumbered
        row = await self.conn.fetchrow(
            "WITH numbered AS (UPDATE cash_desks SET last_receipt_no = last_receipt_no + 1 WHERE id = $1 "
            "RETURNING last_receipt_no) "
            "INSERT INTO cash_desk_receipts (desk_id, number, movement, holder, amount_fen, balance_after_fen, "
            "business_day, entry_id, note, operator, at) "
            "SELECT $1, last_receipt_no, $2, $3, $4, $5, $6, $7, $8, $9, $10 FROM numbered RETURNING *",
            r.desk_id,
            r.movement.value,
            r.holder,
            r.amount_fen,
            r.balance_after_fen,
            r.business_day,
            r.entry_id,
            r.note,
            r.operator,
            r.at,
        )
        return _receipt(row)

    async def receipt(self, desk_id: str, number: int) -> Receipt | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM cash_desk_receipts WHERE desk_id = $1 AND number = $2", desk_id, number
        )
        return _receipt(row) if row else None

    async def receipts_of_day(self, desk_id: str, business_day: date) -> list[Receipt]:
        rows = await self.conn.fetch(
            "SELECT * FROM cash_desk_receipts WHERE desk_id = $1 AND business_day = $2 ORDER BY number",
            desk_id,
            business_day,
        )
        return [_receipt(r) for r in rows]

    async def day_close(self, desk_id: str, business_day: date) -> DayClose | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM cash_desk_day_closes WHERE desk_id = $1 AND business_day = $2", desk_id, business_day
        )
        return _close(row) if row else None

    async def add_close(self, c: DayClose) -> None:
        await self.conn.execute(
            "INSERT INTO cash_desk_day_closes (desk_id, business_day, float_fen, in_fen, out_fen, transactions, "
            "expected_fen, counted_fen, note, closed_by, closed_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            c.desk_id,
            c.business_day,
            c.float_fen,
            c.in_fen,
            c.out_fen,
            c.transactions,
            c.expected_fen,
            c.counted_fen,
            c.note,
            c.closed_by,
            c.closed_at,
        )
