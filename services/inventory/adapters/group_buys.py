"""The stock behind group buys and their packing lists, in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.inventory.domain.bag_packing import PackedBag
from services.inventory.domain.group_buys import DealStock, DealStockStatus, HeldLine
from shared.errors import Conflict
from shared.events.contracts import DealBag


class DealStockRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, deal_id: str, *, for_update: bool = False) -> DealStock | None:
        r = await self.conn.fetchrow(
            "SELECT * FROM deal_stock WHERE deal_id = $1" + (" FOR UPDATE" if for_update else ""), deal_id
        )
        if r is None:
            return None
        return DealStock(
            deal_id=r["deal_id"],
            store_id=r["store_id"],
            status=DealStockStatus(r["status"]),
            lines=[HeldLine(**ln) for ln in r["lines"]],
            created_at=r["created_at"],
            reason=r["reason"],
            version=r["version"],
        )

    async def add(self, stock: DealStock) -> None:
        await self.conn.execute(
            "INSERT INTO deal_stock (deal_id, store_id, status, lines, reason, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $6)",
            stock.deal_id,
            stock.store_id,
            stock.status.value,
            [vars(ln) for ln in stock.lines],
            stock.reason,
            stock.created_at,
        )

    async def save(self, stock: DealStock) -> None:
        done = await self.conn.fetchval(
            "UPDATE deal_stock SET status = $3, reason = $4, updated_at = now(), version = version + 1 "
            "WHERE deal_id = $1 AND version = $2 RETURNING version",
            stock.deal_id,
            stock.version,
            stock.status.value,
            stock.reason,
        )
        if done is None:
            raise Conflict(f"the stock of group buy {stock.deal_id} changed meanwhile; try again")
        stock.version = done

    async def add_bags(self, deal_id: str, bags: Sequence[DealBag]) -> None:
        await self.conn.executemany(
            "INSERT INTO deal_bags (deal_id, number, holder, name, joined_by, items, goods_fen) "
            "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
            [
                (deal_id, b.number, b.holder, b.name, b.joined_by, [i.model_dump() for i in b.items], b.goods_fen)
                for b in bags
            ],
        )

    async def bags(self, deal_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch("SELECT * FROM deal_bags WHERE deal_id = $1 ORDER BY number", deal_id)
        return [dict(r) for r in rows]

    async def mark_returned(self, deal_id: str, numbers: Sequence[int], at: datetime) -> list[int]:
        """Mark these bags back at the shop; returns the numbers not marked before (locked until the commit)."""
        rows = await self.conn.fetch(
            "UPDATE deal_bags SET returned_at = $3 WHERE deal_id = $1 AND number = any($2::int[]) "
            "AND returned_at IS NULL RETURNING number",
            deal_id,
            list(numbers),
            at,
        )
        return sorted(r["number"] for r in rows)

    async def bag(self, deal_id: str, number: int, *, for_update: bool = False) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM deal_bags WHERE deal_id = $1 AND number = $2" + (" FOR UPDATE" if for_update else ""),
            deal_id,
            number,
        )
        return dict(row) if row is not None else None

    async def save_packed(self, deal_id: str, number: int, packed: PackedBag, by: str, at: datetime) -> None:
        await self.conn.execute(
            "UPDATE deal_bags SET packed = $3::jsonb, packed_fen = $4, weight_g = $5, packed_by = $6, packed_at = $7 "
            "WHERE deal_id = $1 AND number = $2",
            deal_id,
            number,
            [i.as_dict() for i in packed.items],
            packed.goods_fen,
            packed.weight_g,
            by,
            at,
        )

    async def ordered_at(self, store_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The closed deals whose consolidated order this shop packs, newest first, with how many bags are packed."""
        rows = await self.conn.fetch(
            "SELECT s.deal_id, s.status, r.note, count(b.number) AS bags, count(b.packed_at) AS packed "
            "FROM deal_stock s LEFT JOIN reservations r ON r.order_id = s.deal_id "
            "LEFT JOIN deal_bags b ON b.deal_id = s.deal_id WHERE s.store_id = $1 AND s.status = 'ordered' "
            "GROUP BY s.deal_id, s.status, r.note, s.updated_at ORDER BY s.updated_at DESC LIMIT $2",
            store_id,
            limit,
        )
        return [dict(r) for r in rows]
