"""Locations, products and the whole-basket stock reservation in PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from services.inventory.domain.stock import StockLevel


class InventoryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock_levels(self, product_ids: list[str]) -> dict[str, StockLevel]:
        """Lock the rows in a fixed order, so two baskets sharing products cannot deadlock."""
        rows = await self.conn.fetch(
            "SELECT s.product_id, p.location_id, p.unit, s.on_hand, s.reserved FROM stock s "
            "JOIN products p ON p.id = s.product_id WHERE s.product_id = any($1::text[]) "
            "ORDER BY s.product_id FOR UPDATE OF s",
            sorted(set(product_ids)),
        )
        return {
            r["product_id"]: StockLevel(r["product_id"], r["location_id"], r["unit"], r["on_hand"], r["reserved"])
            for r in rows
        }

    async def save_levels(
        self, before: dict[str, int], levels: dict[str, StockLevel], reason: str, order_id: str | None, actor: str
    ) -> None:
        changed = [
            (lvl.product_id, lvl.reserved, lvl.reserved - before[lvl.product_id])
            for lvl in levels.values()
            if lvl.reserved != before[lvl.product_id]
        ]
        if not changed:
            return
        await self.conn.executemany(
            "UPDATE stock SET reserved = $2 WHERE product_id = $1", [(pid, reserved) for pid, reserved, _ in changed]
        )
        await self.conn.executemany(
            "INSERT INTO stock_movements (product_id, reserved_delta, reason, order_id, actor) "
            "VALUES ($1, $2, $3, $4, $5)",
            [(pid, delta, reason, order_id, actor) for pid, _, delta in changed],
        )

    async def location(self, location_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow("SELECT * FROM locations WHERE id = $1", location_id)

    async def stores(self) -> list[asyncpg.Record]:
        return list(await self.conn.fetch("SELECT * FROM locations ORDER BY kind = 'stall', id"))

    async def products_of(self, store_id: str) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT p.*, s.on_hand, s.reserved, s.on_hand - s.reserved AS available FROM products p "
                "JOIN stock s ON s.product_id = p.id WHERE p.store_id = $1 ORDER BY p.location_id, p.id",
                store_id,
            )
        )

    async def upsert_location(self, values: dict[str, Any]) -> None:
        """Insert or replace a location; the operating fields (hours, pause, ...) are written in full."""
        await self.conn.execute(
            "INSERT INTO locations (id, kind, parent_id, category, name_zh, name_en, lat, lon, active, accept_limit_s, "
            "windows, closures, paused, delivery_radius_m, picking_minutes, weight_tolerance_pct, delivery_fee_fen) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12::jsonb,$13,$14,$15,$16,$17) "
            "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
            "parent_id = excluded.parent_id, category = excluded.category, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, lat = excluded.lat, lon = excluded.lon, active = excluded.active, "
            "accept_limit_s = excluded.accept_limit_s, windows = excluded.windows, closures = excluded.closures, "
            "paused = excluded.paused, delivery_radius_m = excluded.delivery_radius_m, "
            "picking_minutes = excluded.picking_minutes, weight_tolerance_pct = excluded.weight_tolerance_pct, "
            "delivery_fee_fen = excluded.delivery_fee_fen",
            values["id"],
            values["kind"],
            values.get("parent_id"),
            values["category"],
            values["name_zh"],
            values["name_en"],
            values["lat"],
            values["lon"],
            values.get("active", True),
            values.get("accept_limit_s"),
            values.get("windows"),
            values.get("closures") or [],
            bool(values.get("paused", False)),
            values.get("delivery_radius_m", 1500),
            values.get("picking_minutes", 10),
            values.get("weight_tolerance_pct"),
            values.get("delivery_fee_fen") or 0,
        )

    async def stalls_of(self, market_id: str) -> list[asyncpg.Record]:
        return list(await self.conn.fetch("SELECT * FROM locations WHERE parent_id = $1 ORDER BY id", market_id))

    async def product(self, product_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT p.*, s.on_hand, s.reserved, s.on_hand - s.reserved AS available FROM products p "
            "LEFT JOIN stock s ON s.product_id = p.id WHERE p.id = $1" + (" FOR UPDATE OF p" if for_update else ""),
            product_id,
        )

    async def stock_of(self, location_ids: list[str]) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT p.*, s.on_hand, s.reserved, s.on_hand - s.reserved AS available FROM products p "
                "JOIN stock s ON s.product_id = p.id WHERE p.location_id = any($1::text[]) "
                "ORDER BY p.location_id, p.id",
                location_ids,
            )
        )

    async def upsert_product(self, values: dict[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO products (id, location_id, store_id, name_zh, name_en, category, unit, price_fen, "
            "grams_per_piece, active, barcode, low_stock_threshold) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) "
            "ON CONFLICT (id) DO UPDATE SET "
            "location_id = excluded.location_id, store_id = excluded.store_id, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, category = excluded.category, unit = excluded.unit, "
            "price_fen = excluded.price_fen, grams_per_piece = excluded.grams_per_piece, active = excluded.active, "
            "barcode = excluded.barcode, low_stock_threshold = excluded.low_stock_threshold",
            values["id"],
            values["location_id"],
            values["store_id"],
            values["name_zh"],
            values["name_en"],
            values["category"],
            values["unit"],
            values["price_fen"],
            values.get("grams_per_piece"),
            values.get("active", True),
            values.get("barcode"),
            values.get("low_stock_threshold"),
        )

    async def record_product_change(self, product_id: str, actor: str, change: str, details: dict[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO product_changes (product_id, actor, change, details) VALUES ($1, $2, $3, $4::jsonb)",
            product_id,
            actor,
            change,
            json.loads(json.dumps(details, default=str)),
        )

    async def product_changes(self, product_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT actor, at, change, details FROM product_changes WHERE product_id = $1 ORDER BY at, id", product_id
        )
        return [dict(r) for r in rows]

    async def set_on_hand(self, product_id: str, on_hand: int, reason: str, actor: str) -> None:
        """Count the shelf: never below what is already promised to orders."""
        row = await self.conn.fetchrow(
            "SELECT on_hand, reserved FROM stock WHERE product_id = $1 FOR UPDATE", product_id
        )
        if row is None:
            await self.conn.execute("INSERT INTO stock (product_id, on_hand) VALUES ($1, $2)", product_id, on_hand)
            delta = on_hand
        else:
            if on_hand < row["reserved"]:
                raise ValueError(f"on_hand {on_hand} is below the {row['reserved']} already reserved for orders")
            await self.conn.execute("UPDATE stock SET on_hand = $2 WHERE product_id = $1", product_id, on_hand)
            delta = on_hand - row["on_hand"]
        if delta:
            await self.conn.execute(
                "INSERT INTO stock_movements (product_id, on_hand_delta, reason, actor) VALUES ($1, $2, $3, $4)",
                product_id,
                delta,
                reason,
                actor,
            )

    async def ensure_stock_row(self, product_id: str) -> None:
        await self.conn.execute(
            "INSERT INTO stock (product_id, on_hand) VALUES ($1, 0) ON CONFLICT DO NOTHING", product_id
        )
