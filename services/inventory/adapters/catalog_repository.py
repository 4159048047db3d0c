"""Locations and products in PostgreSQL (their stock is `StockRepository`'s)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from services.inventory.domain.catalog import Location, Product, Stocked
from services.inventory.domain.shop_hours import closures_of, windows_of
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit


def _location(r: asyncpg.Record) -> Location:
    return Location(
        id=r["id"],
        kind=LocationKind(r["kind"]),
        parent_id=r["parent_id"],
        category=r["category"],
        name_zh=r["name_zh"],
        name_en=r["name_en"],
        lat=r["lat"],
        lon=r["lon"],
        active=r["active"],
        accept_limit_s=r["accept_limit_s"],
        windows=windows_of(r["windows"]),
        closures=closures_of(r["closures"]),
        paused=r["paused"],
        delivery_radius_m=r["delivery_radius_m"],
        picking_minutes=r["picking_minutes"],
        weight_tolerance_pct=r["weight_tolerance_pct"],
        delivery_fee_fen=r["delivery_fee_fen"],
    )


class LocationRepository:
    """Shops, markets and stalls."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, location_id: str) -> Location | None:
        row = await self.conn.fetchrow("SELECT * FROM locations WHERE id = $1", location_id)
        return _location(row) if row is not None else None

    async def get_many(self, location_ids: Sequence[str]) -> dict[str, Location]:
        """These locations and the markets of the stalls among them, in one statement."""
        rows = await self.conn.fetch(
            "SELECT * FROM locations WHERE id = any($1::text[]) "
            "OR id IN (SELECT parent_id FROM locations WHERE id = any($1::text[]))",
            sorted(set(location_ids)),
        )
        return {r["id"]: _location(r) for r in rows}

    async def stores(self) -> list[Location]:
        """Every location, shops and markets before stalls."""
        return [_location(r) for r in await self.conn.fetch("SELECT * FROM locations ORDER BY kind = 'stall', id")]

    async def stalls_of(self, market_id: str) -> list[Location]:
        rows = await self.conn.fetch("SELECT * FROM locations WHERE parent_id = $1 ORDER BY id", market_id)
        return [_location(r) for r in rows]

    async def save(self, location: Location) -> None:
        """Insert or replace the location (a PUT of the same location twice is one location)."""
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
            location.id,
            location.kind.value,
            location.parent_id,
            location.category,
            location.name_zh,
            location.name_en,
            location.lat,
            location.lon,
            location.active,
            location.accept_limit_s,
            [w.model_dump(mode="json") for w in location.windows] if location.windows else None,
            [c.model_dump(mode="json") for c in location.closures],
            location.paused,
            location.delivery_radius_m,
            location.picking_minutes,
            location.weight_tolerance_pct,
            location.delivery_fee_fen,
        )


def _product(r: asyncpg.Record) -> Product:
    return Product(
        id=r["id"],
        location_id=r["location_id"],
        store_id=r["store_id"],
        name_zh=r["name_zh"],
        name_en=r["name_en"],
        category=r["category"],
        unit=StockUnit(r["unit"]),
        price_fen=r["price_fen"],
        grams_per_piece=r["grams_per_piece"],
        active=r["active"],
        barcode=r["barcode"],
        low_stock_threshold=r["low_stock_threshold"],
    )


def _stocked(r: asyncpg.Record) -> Stocked:
    return Stocked(_product(r), r["on_hand"], r["reserved"])


STOCKED = "SELECT p.*, s.on_hand, s.reserved FROM products p JOIN stock s ON s.product_id = p.id "
PRODUCT_COLUMNS = (
    "id, location_id, store_id, name_zh, name_en, category, unit, price_fen, grams_per_piece, active, barcode, "
    "low_stock_threshold"
)


def _product_values(p: Product) -> tuple[Any, ...]:
    return (
        p.id,
        p.location_id,
        p.store_id,
        p.name_zh,
        p.name_en,
        p.category,
        p.unit.value,
        p.price_fen,
        p.grams_per_piece,
        p.active,
        p.barcode,
        p.low_stock_threshold,
    )


class ProductRepository:
    """Products (with their stock numbers when read for people), and every change of a product's catalog fields."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, product_id: str, *, for_update: bool = False) -> Product | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM products WHERE id = $1" + (" FOR UPDATE" if for_update else ""), product_id
        )
        return _product(row) if row is not None else None

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        rows = await self.conn.fetch("SELECT * FROM products WHERE id = any($1::text[])", list(product_ids))
        return {r["id"]: _product(r) for r in rows}

    async def stocked(self, product_id: str) -> Stocked | None:
        row = await self.conn.fetchrow(STOCKED + "WHERE p.id = $1", product_id)
        return _stocked(row) if row is not None else None

    async def products_of(self, store_id: str) -> list[Stocked]:
        """Everything a shop or market (all its stalls) sells."""
        rows = await self.conn.fetch(STOCKED + "WHERE p.store_id = $1 ORDER BY p.location_id, p.id", store_id)
        return [_stocked(r) for r in rows]

    async def stock_of(self, location_ids: Sequence[str]) -> list[Stocked]:
        rows = await self.conn.fetch(
            STOCKED + "WHERE p.location_id = any($1::text[]) ORDER BY p.location_id, p.id", list(location_ids)
        )
        return [_stocked(r) for r in rows]

    async def add(self, product: Product) -> bool:
        """A new product; False (and nothing written) when one with its id exists, even one added meanwhile."""
        added = await self.conn.fetchval(
            f"INSERT INTO products ({PRODUCT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) "
            "ON CONFLICT (id) DO NOTHING RETURNING true",
            *_product_values(product),
        )
        return bool(added)

    async def save(self, product: Product) -> None:
        """Insert or replace the product."""
        await self.conn.execute(
            f"INSERT INTO products ({PRODUCT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) "
            "ON CONFLICT (id) DO UPDATE SET "
            "location_id = excluded.location_id, store_id = excluded.store_id, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, category = excluded.category, unit = excluded.unit, "
            "price_fen = excluded.price_fen, grams_per_piece = excluded.grams_per_piece, active = excluded.active, "
            "barcode = excluded.barcode, low_stock_threshold = excluded.low_stock_threshold",
            *_product_values(product),
        )

    async def stocked_many(self, product_ids: Sequence[str], *, for_update: bool = False) -> dict[str, Stocked]:
        """These products with their stock, in one statement; `for_update` locks product and stock rows in id order."""
        rows = await self.conn.fetch(
            STOCKED + "WHERE p.id = any($1::text[]) ORDER BY p.id" + (" FOR UPDATE" if for_update else ""),
            sorted(set(product_ids)),
        )
        return {r["id"]: _stocked(r) for r in rows}

    async def save_many(self, products: Sequence[Product]) -> None:
        """Insert or replace these products in one statement."""
        if not products:
            return
        columns = list(zip(*(_product_values(p) for p in products), strict=True))
        await self.conn.execute(
            f"INSERT INTO products ({PRODUCT_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::int[], $10::boolean[], $11::text[], "
            "$12::bigint[]) "
            "ON CONFLICT (id) DO UPDATE SET "
            "location_id = excluded.location_id, store_id = excluded.store_id, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, category = excluded.category, unit = excluded.unit, "
            "price_fen = excluded.price_fen, grams_per_piece = excluded.grams_per_piece, active = excluded.active, "
            "barcode = excluded.barcode, low_stock_threshold = excluded.low_stock_threshold",
            *(list(c) for c in columns),
        )

    async def record_changes(self, actor: str, changes: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Many products' history entries (product id, "created" or "updated", what changed) in one statement."""
        if not changes:
            return
        await self.conn.execute(
            "INSERT INTO product_changes (product_id, actor, change, details) "
            "SELECT c.product_id, $1, c.change, c.details::jsonb "
            "FROM unnest($2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS c(product_id, change, details, n) "
            "ORDER BY c.n",
            actor,
            [c[0] for c in changes],
            [c[1] for c in changes],
            [json.dumps(c[2], default=str) for c in changes],
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

    async def exists(self, product_id: str) -> bool:
        return bool(await self.conn.fetchval("SELECT true FROM products WHERE id = $1", product_id))
