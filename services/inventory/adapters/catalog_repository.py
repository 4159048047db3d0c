"""Locations and products in PostgreSQL (their stock is `StockRepository`'s)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


class LocationRepository:
    """Shops, markets and stalls."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, location_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow("SELECT * FROM locations WHERE id = $1", location_id)

    async def stores(self) -> list[asyncpg.Record]:
        return list(await self.conn.fetch("SELECT * FROM locations ORDER BY kind = 'stall', id"))

    async def upsert(self, values: dict[str, Any]) -> None:
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


class ProductRepository:
    """Products with their stock numbers, and every change of a product's catalog fields."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, product_id: str, *, for_update: bool = False) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT p.*, s.on_hand, s.reserved, s.on_hand - s.reserved AS available FROM products p "
            "LEFT JOIN stock s ON s.product_id = p.id WHERE p.id = $1" + (" FOR UPDATE OF p" if for_update else ""),
            product_id,
        )

    async def products_of(self, store_id: str) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT p.*, s.on_hand, s.reserved, s.on_hand - s.reserved AS available FROM products p "
                "JOIN stock s ON s.product_id = p.id WHERE p.store_id = $1 ORDER BY p.location_id, p.id",
                store_id,
            )
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

    async def upsert(self, values: dict[str, Any]) -> None:
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

    async def record_change(self, product_id: str, actor: str, change: str, details: dict[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO product_changes (product_id, actor, change, details) VALUES ($1, $2, $3, $4::jsonb)",
            product_id,
            actor,
            change,
            json.loads(json.dumps(details, default=str)),
        )

    async def changes(self, product_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT actor, at, change, details FROM product_changes WHERE product_id = $1 ORDER BY at, id", product_id
        )
        return [dict(r) for r in rows]

    async def names(self, product_ids: list[str]) -> dict[str, asyncpg.Record]:
        """What staff read on a pick list, for many products at once."""
        rows = await self.conn.fetch(
            "SELECT id, name_zh, name_en, category, barcode FROM products WHERE id = any($1::text[])", product_ids
        )
        return {r["id"]: r for r in rows}

    async def exists(self, product_id: str) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM products WHERE id = $1", product_id))
