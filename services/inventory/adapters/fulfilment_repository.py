"""Orders as the shops fulfil them: the order, its parts, its lines and their history, in PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from services.inventory.domain.fulfilment import Part, PartStatus
from services.inventory.domain.picking import LineState

# Told, in the changing transaction, which shops, markets and stalls' queues changed (live consoles).
QUEUE_CHANNEL = "linli_queue"


class FulfilmentRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def _queue_changed(self, order_id: str) -> None:
        """NOTIFY the order's shop or market and each stall with a part; sent only if the transaction commits."""
        await self.conn.execute(
            "SELECT pg_notify($2, loc) FROM (SELECT store_id AS loc FROM reservations WHERE order_id = $1 "
            "UNION SELECT location_id FROM fulfilment_parts WHERE order_id = $1) AS touched",
            order_id,
            QUEUE_CHANNEL,
        )

    async def order(self, order_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
        """The order (the `reservations` row); lock it to serialise everything done to one order."""
        return await self.conn.fetchrow(
            "SELECT * FROM reservations WHERE order_id = $1" + (" FOR UPDATE" if for_update else ""), order_id
        )

    async def add_order(
        self,
        order_id: str,
        store_id: str,
        status: str,
        deadline: datetime,
        *,
        placed_by: str,
        placed_for: str,
        fulfilment_mode: str,
        flags: dict[str, Any],
        shown_fen: int,
        note: str | None = None,
        slot: tuple[datetime, datetime] | None = None,
        release_at: datetime | None = None,
    ) -> None:
        await self.conn.execute(
            "INSERT INTO reservations (order_id, store_id, status, accept_deadline, placed_by, placed_for, "
            "fulfilment_mode, flags, shown_fen, note, slot_start, slot_end, release_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13)",
            order_id,
            store_id,
            status,
            deadline,
            placed_by,
            placed_for,
            fulfilment_mode,
            flags,
            shown_fen,
            note,
            slot[0] if slot else None,
            slot[1] if slot else None,
            release_at,
        )

    async def add_lines(self, order_id: str, lines: list[dict[str, Any]]) -> None:
        await self.conn.executemany(
            "INSERT INTO reservation_lines (order_id, line_no, product_id, location_id, quantity, unit, "
            "ordered_pieces, unit_price_fen, estimated_fen, substitution) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
            [
                (
                    order_id,
                    ln["line_no"],
                    ln["product_id"],
                    ln["location_id"],
                    ln["quantity"],
                    ln["unit"],
                    ln["ordered_pieces"],
                    ln["unit_price_fen"],
                    ln["estimated_fen"],
                    ln["substitution"],
                )
                for ln in lines
            ],
        )

    async def set_status(self, order_id: str, status: str, reason: str | None = None) -> None:
        await self.conn.execute(
            "UPDATE reservations SET status = $2, release_reason = coalesce($3, release_reason), "
            "updated_at = now() WHERE order_id = $1",
            order_id,
            status,
            reason,
        )
        await self._queue_changed(order_id)

    async def update_order(self, order_id: str, **fields: Any) -> None:
        names = list(fields)
        sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(names, 2))
        await self.conn.execute(
            f"UPDATE reservations SET {sets}, updated_at = now() WHERE order_id = $1",
            order_id,
            *(fields[n] for n in names),
        )
        await self._queue_changed(order_id)

    # Parts

    async def add_parts(self, order_id: str, parts: list[tuple[str, datetime]]) -> None:
        await self.conn.executemany(
            "INSERT INTO fulfilment_parts (order_id, location_id, status, accept_deadline) VALUES ($1, $2, $3, $4)",
            [(order_id, loc, PartStatus.WAITING.value, deadline) for loc, deadline in parts],
        )
        await self._queue_changed(order_id)

    async def parts(self, order_id: str) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch("SELECT * FROM fulfilment_parts WHERE order_id = $1 ORDER BY location_id", order_id)
        )

    async def part_states(self, order_id: str) -> list[Part]:
        return [Part(r["location_id"], PartStatus(r["status"])) for r in await self.parts(order_id)]

    async def set_part(self, order_id: str, location_id: str, status: PartStatus, **fields: Any) -> None:
        names = list(fields)
        sets = "".join(f", {name} = ${i}" for i, name in enumerate(names, 4))
        await self.conn.execute(
            f"UPDATE fulfilment_parts SET status = $3{sets} WHERE order_id = $1 AND location_id = $2",
            order_id,
            location_id,
            status.value,
            *(fields[n] for n in names),
        )
        await self._queue_changed(order_id)

    # Lines

    async def lines(self, order_id: str, location_id: str | None = None) -> list[asyncpg.Record]:
        if location_id is None:
            return list(
                await self.conn.fetch("SELECT * FROM reservation_lines WHERE order_id = $1 ORDER BY line_no", order_id)
            )
        return list(
            await self.conn.fetch(
                "SELECT * FROM reservation_lines WHERE order_id = $1 AND location_id = $2 ORDER BY line_no",
                order_id,
                location_id,
            )
        )

    async def line(self, order_id: str, line_no: int) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT * FROM reservation_lines WHERE order_id = $1 AND line_no = $2", order_id, line_no
        )

    async def set_line(self, order_id: str, line_no: int, state: LineState, **fields: Any) -> None:
        names = list(fields)
        sets = "".join(
            f", {name} = ${i}" + ("::jsonb" if name == "substitute" else "") for i, name in enumerate(names, 4)
        )
        await self.conn.execute(
            f"UPDATE reservation_lines SET state = $3{sets} WHERE order_id = $1 AND line_no = $2",
            order_id,
            line_no,
            state.value,
            *(fields[n] for n in names),
        )
        await self._queue_changed(order_id)

    async def set_lines_of_part(self, order_id: str, location_id: str, state: LineState) -> None:
        await self.conn.execute(
            "UPDATE reservation_lines SET state = $3, charged_fen = 0 WHERE order_id = $1 AND location_id = $2",
            order_id,
            location_id,
            state.value,
        )
        await self._queue_changed(order_id)

    async def record(self, order_id: str, line_no: int, actor: str, action: str, details: dict[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO line_history (order_id, line_no, actor, action, details) VALUES ($1, $2, $3, $4, $5::jsonb)",
            order_id,
            line_no,
            actor,
            action,
            json.loads(json.dumps(details, default=str)),
        )

    async def history(self, order_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT line_no, actor, at, action, details FROM line_history WHERE order_id = $1 ORDER BY at, id", order_id
        )
        return [dict(r) for r in rows]

    # The queue

    async def queue(self, location_ids: list[str]) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT p.*, r.store_id, r.status AS order_status, r.fulfilment_mode, r.flags, "
                "r.created_at AS placed_at, "
                "r.handover_code, r.note, r.slot_start, r.slot_end, r.release_at "
                "FROM fulfilment_parts p JOIN reservations r USING (order_id) "
                "WHERE p.location_id = any($1::text[]) AND p.status IN ('waiting', 'accepted', 'picking', 'packed') "
                "AND r.status NOT IN ('released', 'committed', 'returned') "
                "ORDER BY p.accept_deadline, p.order_id",
                location_ids,
            )
        )
