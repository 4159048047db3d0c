"""Orders and the catalog read model in PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.orders.domain.basket import CatalogLocation, CatalogProduct
from services.orders.domain.order import Order, OrderLine, TimelineEntry
from shared.events.contracts import LocationUpserted, ProductUpserted
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.units import StockUnit


class OrderRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, order: Order) -> None:
        await self.conn.execute(
            "INSERT INTO orders (id, store_id, placed_by, placed_by_role, placed_for, contact_phone, fulfilment, "
            "note, status, total_fen, version, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8,$9,$10,$11,$12)",
            order.id, order.store_id, order.placed_by, order.placed_by_role, order.placed_for, order.contact_phone,
            order.fulfilment, order.note, order.status.value, order.total_fen, order.version, order.created_at)
        await self.conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, product_id, location_id, name_zh, name_en, unit, quantity, "
            "stock_quantity, unit_price_fen, estimated_fen) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            [(order.id, ln.line_no, ln.product_id, ln.location_id, ln.name_zh, ln.name_en, ln.unit, ln.quantity,
              ln.stock_quantity, ln.unit_price_fen, ln.estimated_fen) for ln in order.lines])
        await self._flush_timeline(order)

    async def save(self, order: Order) -> None:
        """Write changes, refusing if someone else changed the order since we read it."""
        if order.version:
            result = await self.conn.execute(
                "UPDATE orders SET status = $2, reject_reason = $3, reject_details = $4::jsonb, version = $5, "
                "updated_at = now() WHERE id = $1 AND version = $6",
                order.id, order.status.value, order.reject_reason, order.reject_details, order.version,
                order.version - _moves(order))
            if result != "UPDATE 1" and _moves(order):
                raise ConcurrentUpdate(f"order {order.id} changed while we were updating it")
        await self._flush_timeline(order)

    async def _flush_timeline(self, order: Order) -> None:
        if order.new_entries:
            await self.conn.executemany(
                "INSERT INTO order_timeline (order_id, at, status, cause, detail) VALUES ($1,$2,$3,$4,$5::jsonb)",
                [(order.id, e.at, e.status.value if e.status else None, e.cause, e.detail)
                 for e in order.new_entries])
            order.new_entries.clear()

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        row = await self.conn.fetchrow("SELECT * FROM orders WHERE id = $1" + (" FOR UPDATE" if for_update else ""),
                                       order_id)
        if row is None:
            return None
        lines = await self.conn.fetch("SELECT * FROM order_lines WHERE order_id = $1 ORDER BY line_no", order_id)
        timeline = await self.conn.fetch("SELECT * FROM order_timeline WHERE order_id = $1 ORDER BY seq", order_id)
        return _order(row, lines, timeline)

    async def list_for(self, subject: str, limit: int = 50) -> list[Order]:
        rows = await self.conn.fetch("SELECT id FROM orders WHERE placed_by = $1 OR placed_for = $1 "
                                     "ORDER BY created_at DESC LIMIT $2", subject, limit)
        orders = [await self.get(r["id"]) for r in rows]
        return [o for o in orders if o is not None]


class ConcurrentUpdate(Exception):
    """Retryable: the consumer's retry policy will read the order again."""


def _moves(order: Order) -> int:
    return sum(1 for e in order.new_entries if e.status is not None)


def _order(row: asyncpg.Record, lines: list[asyncpg.Record], timeline: list[asyncpg.Record]) -> Order:
    return Order(
        id=row["id"], store_id=row["store_id"], placed_by=row["placed_by"], placed_for=row["placed_for"],
        placed_by_role=row["placed_by_role"], fulfilment=row["fulfilment"], contact_phone=row["contact_phone"],
        note=row["note"], status=OrderStatus(row["status"]), reject_reason=row["reject_reason"],
        reject_details=row["reject_details"], created_at=row["created_at"], version=row["version"],
        lines=[OrderLine(line_no=r["line_no"], product_id=r["product_id"], location_id=r["location_id"],
                         name_zh=r["name_zh"], name_en=r["name_en"], unit=r["unit"], quantity=r["quantity"],
                         stock_quantity=r["stock_quantity"], unit_price_fen=r["unit_price_fen"],
                         estimated_fen=r["estimated_fen"]) for r in lines],
        timeline=[TimelineEntry(at=r["at"], cause=r["cause"], detail=r["detail"],
                                status=OrderStatus(r["status"]) if r["status"] else None) for r in timeline])


class CatalogReadModel:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def upsert_location(self, e: LocationUpserted) -> None:
        await self.conn.execute(
            "INSERT INTO catalog_locations (location_id, kind, parent_id, category, name_zh, name_en, lat, lon, "
            "active) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT (location_id) DO UPDATE SET kind = excluded.kind, "
            "parent_id = excluded.parent_id, category = excluded.category, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, lat = excluded.lat, lon = excluded.lon, active = excluded.active, "
            "updated_at = now()",
            e.location_id, e.kind.value, e.parent_id, e.category, e.name_zh, e.name_en, e.lat, e.lon, e.active)

    async def upsert_product(self, e: ProductUpserted) -> None:
        await self.conn.execute(
            "INSERT INTO catalog_products (product_id, location_id, store_id, name_zh, name_en, category, unit, "
            "price_fen, grams_per_piece, active) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
            "ON CONFLICT (product_id) DO UPDATE SET location_id = excluded.location_id, store_id = excluded.store_id, "
            "name_zh = excluded.name_zh, name_en = excluded.name_en, category = excluded.category, "
            "unit = excluded.unit, price_fen = excluded.price_fen, grams_per_piece = excluded.grams_per_piece, "
            "active = excluded.active, updated_at = now()",
            e.product_id, e.location_id, e.store_id, e.name_zh, e.name_en, e.category, e.unit.value, e.price_fen,
            e.grams_per_piece, e.active)

    async def location(self, location_id: str) -> CatalogLocation | None:
        r = await self.conn.fetchrow("SELECT * FROM catalog_locations WHERE location_id = $1", location_id)
        if r is None:
            return None
        return CatalogLocation(r["location_id"], r["kind"], r["parent_id"], r["name_zh"], r["name_en"], r["active"])

    async def products(self, product_ids: list[str]) -> dict[str, CatalogProduct]:
        rows = await self.conn.fetch("SELECT * FROM catalog_products WHERE product_id = any($1::text[])",
                                     product_ids)
        return {r["product_id"]: CatalogProduct(
            r["product_id"], r["location_id"], r["store_id"], r["name_zh"], r["name_en"], StockUnit(r["unit"]),
            r["price_fen"], r["grams_per_piece"], r["active"]) for r in rows}

    async def counts(self) -> dict[str, Any]:
        row = await self.conn.fetchrow("SELECT (SELECT count(*) FROM catalog_locations) AS locations, "
                                       "(SELECT count(*) FROM catalog_products) AS products")
        assert row is not None
        return {"locations": row["locations"], "products": row["products"]}
