"""Orders and the catalog read model in PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.orders.adapters.ledger import Ledger
from services.orders.domain.basket import CatalogLocation, CatalogProduct
from services.orders.domain.discovery import Storefront
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import LineStatus, PendingApproval, Substitute, SubstitutionChoice
from services.orders.domain.order import Order, OrderLine, Packed, TimelineEntry, Tracking
from services.orders.domain.search import AVAILABILITY_ORDER, Hit, pinyin_of
from shared.events.contracts import HandlingFlags, LocationUpserted, ProductUpserted, StockLevelChanged
from shared.notifications import notify
from shared.vocabulary.geo import Point
from shared.vocabulary.opening_hours import Closure, Window
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.units import StockUnit

ORDER_CHANNEL = "linli_order"  # NOTIFY on every saved order: GET /orders/{id}/stream follows it


class OrderRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, order: Order) -> None:
        await self.conn.execute(
            "INSERT INTO orders (id, store_id, placed_by, placed_by_role, placed_for, contact_phone, fulfilment, "
            "note, status, total_fen, version, created_at, flags, delivery_code, delivery, payment, delivery_fee_fen, "
            "platform_fee_fen, slot, release_at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7::jsonb,$8,$9,$10,$11,$12,$13::jsonb,$14,$15::jsonb,$16,$17,$18,"
            "$19::jsonb,$20)",
            order.id,
            order.store_id,
            order.placed_by,
            order.placed_by_role,
            order.placed_for,
            order.contact_phone,
            order.fulfilment.as_dict(),
            order.note,
            order.status.value,
            order.total_fen,
            order.version,
            order.created_at,
            order.flags.model_dump(),
            order.delivery_code,
            order.tracking.as_dict(),
            order.payment,
            order.delivery_fee_fen,
            order.platform_fee_fen,
            order.slot,
            order.release_at,
        )
        await self.conn.executemany(
            "INSERT INTO order_lines (order_id, line_no, product_id, location_id, name_zh, name_en, unit, quantity, "
            "stock_quantity, unit_price_fen, estimated_fen, substitution) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12::jsonb)",
            [
                (
                    order.id,
                    ln.line_no,
                    ln.product_id,
                    ln.location_id,
                    ln.name_zh,
                    ln.name_en,
                    ln.unit,
                    ln.quantity,
                    ln.stock_quantity,
                    ln.unit_price_fen,
                    ln.estimated_fen,
                    ln.substitution.as_dict(),
                )
                for ln in order.lines
            ],
        )
        await self._flush_timeline(order)
        await self._notify(order)

    async def save(self, order: Order) -> None:
        """Write changes, refusing if someone else changed the order since we read it."""
        packed = order.packed
        result = await self.conn.execute(
            "UPDATE orders SET status = $2, reject_reason = $3, reject_details = $4::jsonb, version = $5, "
            "final_fen = $7, difference_fen = $8, bags = $9, weight_g = $10, pickup_point = $11::jsonb, "
            "handover_code = $12, return_refund_fen = $13, fulfilment = $14::jsonb, cancel_reason = $15, "
            "delivery = $16::jsonb, updated_at = now() WHERE id = $1 AND version = $6",
            order.id,
            order.status.value,
            order.reject_reason,
            order.reject_details,
            order.version,
            order.version - _moves(order),
            packed.final_fen if packed else None,
            packed.difference_fen if packed else None,
            packed.bags if packed else None,
            packed.weight_g if packed else None,
            packed.pickup_point if packed else None,
            packed.handover_code if packed else None,
            order.return_refund_fen,
            order.fulfilment.as_dict(),
            order.cancel_reason,
            order.tracking.as_dict(),
        )
        if result != "UPDATE 1":
            raise ConcurrentUpdate(f"order {order.id} changed while we were updating it")
        await self._flush_lines(order)
        await self._flush_timeline(order)
        await self._notify(order)

    async def _notify(self, order: Order) -> None:
        """Followers of the order (GET /orders/{id}/stream) hear of it when this transaction commits."""
        await notify(self.conn, ORDER_CHANNEL, order.id)

    async def _flush_lines(self, order: Order) -> None:
        changed = [ln for ln in order.lines if ln.line_no in order.changed_lines]
        if changed:
            await self.conn.executemany(
                "UPDATE order_lines SET status = $3, final_quantity = $4, final_fen = $5, refund_fen = $6, "
                "substitute = $7::jsonb, pending = $8::jsonb WHERE order_id = $1 AND line_no = $2",
                [
                    (
                        order.id,
                        ln.line_no,
                        ln.status.value,
                        ln.final_quantity,
                        ln.final_fen,
                        ln.refund_fen,
                        ln.substitute.as_dict() if ln.substitute else None,
                        ln.pending.as_dict() if ln.pending else None,
                    )
                    for ln in changed
                ],
            )
            order.changed_lines.clear()

    async def _flush_timeline(self, order: Order) -> None:
        if order.new_entries:
            await self.conn.executemany(
                "INSERT INTO order_timeline (order_id, at, status, cause, detail) VALUES ($1,$2,$3,$4,$5::jsonb)",
                [(order.id, e.at, e.status.value if e.status else None, e.cause, e.detail) for e in order.new_entries],
            )
            order.new_entries.clear()

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM orders WHERE id = $1" + (" FOR UPDATE" if for_update else ""), order_id
        )
        if row is None:
            return None
        lines = await self.conn.fetch("SELECT * FROM order_lines WHERE order_id = $1 ORDER BY line_no", order_id)
        timeline = await self.conn.fetch("SELECT * FROM order_timeline WHERE order_id = $1 ORDER BY seq", order_id)
        order = _order(row, lines, timeline)
        order.postings = await Ledger(self.conn).for_order(order_id)
        return order

    async def list_for(self, subject: str, limit: int = 50) -> list[Order]:
        rows = await self.conn.fetch(
            "SELECT id FROM orders WHERE placed_by = $1 OR placed_for = $1 ORDER BY created_at DESC LIMIT $2",
            subject,
            limit,
        )
        orders = [await self.get(r["id"]) for r in rows]
        return [o for o in orders if o is not None]


class ConcurrentUpdate(Exception):
    """Retryable: the consumer's retry policy will read the order again."""


def _moves(order: Order) -> int:
    return sum(1 for e in order.new_entries if e.status is not None)


def _order(row: asyncpg.Record, lines: list[asyncpg.Record], timeline: list[asyncpg.Record]) -> Order:
    return Order(
        id=row["id"],
        store_id=row["store_id"],
        placed_by=row["placed_by"],
        placed_for=row["placed_for"],
        placed_by_role=row["placed_by_role"],
        fulfilment=Fulfilment.from_dict(row["fulfilment"]),
        contact_phone=row["contact_phone"],
        note=row["note"],
        flags=HandlingFlags.model_validate(row["flags"] or {}),
        status=OrderStatus(row["status"]),
        reject_reason=row["reject_reason"],
        reject_details=row["reject_details"],
        created_at=row["created_at"],
        version=row["version"],
        packed=_packed(row),
        return_refund_fen=row["return_refund_fen"],
        delivery_code=row["delivery_code"],
        cancel_reason=row["cancel_reason"],
        tracking=Tracking.from_dict(row["delivery"]),
        payment=row["payment"],
        delivery_fee_fen=row["delivery_fee_fen"],
        platform_fee_fen=row["platform_fee_fen"],
        slot=row["slot"],
        release_at=row["release_at"],
        lines=[_line(r) for r in lines],
        timeline=[
            TimelineEntry(
                at=r["at"],
                cause=r["cause"],
                detail=r["detail"],
                status=OrderStatus(r["status"]) if r["status"] else None,
            )
            for r in timeline
        ],
    )


def _line(r: asyncpg.Record) -> OrderLine:
    return OrderLine(
        line_no=r["line_no"],
        product_id=r["product_id"],
        location_id=r["location_id"],
        name_zh=r["name_zh"],
        name_en=r["name_en"],
        unit=r["unit"],
        quantity=r["quantity"],
        stock_quantity=r["stock_quantity"],
        unit_price_fen=r["unit_price_fen"],
        estimated_fen=r["estimated_fen"],
        substitution=SubstitutionChoice.from_dict(r["substitution"]),
        status=LineStatus(r["status"]),
        final_quantity=r["final_quantity"],
        final_fen=r["final_fen"],
        refund_fen=r["refund_fen"],
        substitute=Substitute.from_dict(r["substitute"]),
        pending=PendingApproval.from_dict(r["pending"]),
    )


def _packed(row: asyncpg.Record) -> Packed | None:
    if row["final_fen"] is None:
        return None
    return Packed(
        final_fen=row["final_fen"],
        difference_fen=row["difference_fen"],
        bags=row["bags"],
        weight_g=row["weight_g"],
        pickup_point=row["pickup_point"] or {},
        handover_code=row["handover_code"] or "",
    )


class CatalogReadModel:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def upsert_location(self, e: LocationUpserted) -> None:
        windows = [w.model_dump(mode="json") for w in e.windows] if e.windows is not None else None
        await self.conn.execute(
            "INSERT INTO catalog_locations (location_id, kind, parent_id, category, name_zh, name_en, lat, lon, "
            "active, windows, closures, paused, delivery_radius_m, picking_minutes, accept_limit_s, delivery_fee_fen) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10::jsonb,$11::jsonb,$12,$13,$14,$15,$16) "
            "ON CONFLICT (location_id) DO UPDATE SET kind = excluded.kind, "
            "parent_id = excluded.parent_id, category = excluded.category, name_zh = excluded.name_zh, "
            "name_en = excluded.name_en, lat = excluded.lat, lon = excluded.lon, active = excluded.active, "
            "windows = excluded.windows, closures = excluded.closures, paused = excluded.paused, "
            "delivery_radius_m = excluded.delivery_radius_m, picking_minutes = excluded.picking_minutes, "
            "accept_limit_s = excluded.accept_limit_s, delivery_fee_fen = excluded.delivery_fee_fen, "
            "updated_at = now()",
            e.location_id,
            e.kind.value,
            e.parent_id,
            e.category,
            e.name_zh,
            e.name_en,
            e.lat,
            e.lon,
            e.active,
            windows,
            [c.model_dump(mode="json") for c in e.closures],
            e.paused,
            e.delivery_radius_m,
            e.picking_minutes,
            e.accept_limit_s,
            e.delivery_fee_fen,
        )

    async def upsert_product(self, e: ProductUpserted) -> None:
        """Pinyin is computed here, once per change of the product, so a search only compares text."""
        spelled = pinyin_of(e.name_zh)
        await self.conn.execute(
            "INSERT INTO catalog_products (product_id, location_id, store_id, name_zh, name_en, category, unit, "
            "price_fen, grams_per_piece, active, pinyin, pinyin_initials, availability) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12, "
            "coalesce((SELECT level FROM catalog_stock_levels WHERE product_id = $1), 'unknown')) "
            "ON CONFLICT (product_id) DO UPDATE SET location_id = excluded.location_id, store_id = excluded.store_id, "
            "name_zh = excluded.name_zh, name_en = excluded.name_en, category = excluded.category, "
            "unit = excluded.unit, price_fen = excluded.price_fen, grams_per_piece = excluded.grams_per_piece, "
            "active = excluded.active, pinyin = excluded.pinyin, pinyin_initials = excluded.pinyin_initials, "
            "updated_at = now()",
            e.product_id,
            e.location_id,
            e.store_id,
            e.name_zh,
            e.name_en,
            e.category,
            e.unit.value,
            e.price_fen,
            e.grams_per_piece,
            e.active,
            spelled.full,
            spelled.initials,
        )

    async def record_stock_level(self, e: StockLevelChanged, changed_at: datetime) -> None:
        """Kept by product even before the product arrives; an older report never overwrites a newer one."""
        changed = await self.conn.fetchval(
            "INSERT INTO catalog_stock_levels (product_id, level, available, changed_at) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (product_id) DO UPDATE SET level = excluded.level, available = excluded.available, "
            "changed_at = excluded.changed_at WHERE catalog_stock_levels.changed_at <= excluded.changed_at "
            "RETURNING true",
            e.product_id,
            e.level.value,
            e.available,
            changed_at,
        )
        if changed:
            await self.conn.execute(
                "UPDATE catalog_products SET availability = $2 WHERE product_id = $1", e.product_id, e.level.value
            )

    async def fill_missing_pinyin(self, batch: int = 500) -> int:
        """Products that arrived before pinyin was kept get it now (at start-up); returns how many."""
        filled = 0
        while rows := await self.conn.fetch(
            "SELECT product_id, name_zh FROM catalog_products WHERE pinyin IS NULL LIMIT $1", batch
        ):
            spelled = [(r["product_id"], pinyin_of(r["name_zh"])) for r in rows]
            await self.conn.executemany(
                "UPDATE catalog_products SET pinyin = $2, pinyin_initials = $3 WHERE product_id = $1",
                [(pid, p.full, p.initials) for pid, p in spelled],
            )
            filled += len(rows)
        return filled

    async def location(self, location_id: str) -> CatalogLocation | None:
        found = await self.locations([location_id])
        return found.get(location_id)

    async def locations(self, location_ids: list[str]) -> dict[str, CatalogLocation]:
        rows = await self.conn.fetch(
            "SELECT * FROM catalog_locations WHERE location_id = any($1::text[])", location_ids
        )
        return {r["location_id"]: self._location(r) for r in rows}

    @staticmethod
    def _location(r: asyncpg.Record) -> CatalogLocation:
        return CatalogLocation(
            r["location_id"],
            r["kind"],
            r["parent_id"],
            r["name_zh"],
            r["name_en"],
            r["active"],
            windows=None if r["windows"] is None else tuple(Window.model_validate(w) for w in r["windows"]),
            closures=tuple(Closure.model_validate(c) for c in r["closures"]),
            paused=r["paused"],
            delivery_radius_m=r["delivery_radius_m"],
            picking_minutes=r["picking_minutes"],
            accept_limit_s=r["accept_limit_s"],
            delivery_fee_fen=r["delivery_fee_fen"],
            point=Point(r["lat"], r["lon"]),
        )

    async def storefronts(self) -> list[Storefront]:
        """Every active shop, market and stall with where it is.

        A circle holds hundreds of locations at most, so discovery measures them all in Python;
        products (thousands) are only ever filtered in SQL.
        """
        rows = await self.conn.fetch("SELECT * FROM catalog_locations WHERE active")
        return [Storefront(self._location(r), r["category"], Point(r["lat"], r["lon"])) for r in rows]

    async def search(
        self, query: str, stores: list[tuple[str, bool, int]], locations: list[tuple[str, bool]], limit: int
    ) -> list[Hit]:
        """Products matching `query` (normalised) sold by `stores` (id, open now, street metres) and
        fulfilled by `locations` (the shops themselves and the markets' stalls: id, open now).

        Matching is `domain.search.matches` in SQL; the order is `domain.search.rank_key`, so the
        limit keeps the best rows.
        """
        if not stores or not query:
            return []
        ids, open_now, distance = (list(column) for column in zip(*stores, strict=True))
        location_ids, location_open = (list(column) for column in zip(*locations, strict=True))
        rows = await self.conn.fetch(
            "SELECT p.product_id, p.location_id, p.store_id, p.name_zh, p.name_en, p.unit, p.price_fen, "
            "p.grams_per_piece, p.availability, s.distance_m, "
            "s.open_now AND l.open_now AS open_now "
            "FROM catalog_products p "
            "JOIN unnest($1::text[], $2::bool[], $3::int[]) AS s (store_id, open_now, distance_m) "
            "  ON s.store_id = p.store_id "
            "JOIN unnest($5::text[], $8::bool[]) AS l (location_id, open_now) ON l.location_id = p.location_id "
            "WHERE p.active AND (strpos(regexp_replace(lower(p.name_zh), '\\s', '', 'g'), $4) > 0 "
            "  OR strpos(regexp_replace(lower(p.name_en), '\\s', '', 'g'), $4) > 0 "
            "  OR strpos(p.pinyin, $4) > 0 OR strpos(p.pinyin_initials, $4) > 0) "
            "ORDER BY open_now DESC, array_position($6::text[], p.availability), s.distance_m, p.name_en, p.product_id "
            "LIMIT $7",
            ids,
            open_now,
            distance,
            query,
            location_ids,
            list(AVAILABILITY_ORDER),
            limit,
            location_open,
        )
        return [
            Hit(
                r["product_id"],
                r["location_id"],
                r["store_id"],
                r["name_zh"],
                r["name_en"],
                r["unit"],
                r["price_fen"],
                r["grams_per_piece"],
                r["availability"],
                r["open_now"],
                r["distance_m"],
            )
            for r in rows
        ]

    async def products(self, product_ids: list[str]) -> dict[str, CatalogProduct]:
        rows = await self.conn.fetch("SELECT * FROM catalog_products WHERE product_id = any($1::text[])", product_ids)
        return {
            r["product_id"]: CatalogProduct(
                r["product_id"],
                r["location_id"],
                r["store_id"],
                r["name_zh"],
                r["name_en"],
                StockUnit(r["unit"]),
                r["price_fen"],
                r["grams_per_piece"],
                r["active"],
            )
            for r in rows
        }

    async def availability(self, product_ids: list[str]) -> dict[str, str]:
        """Each product's availability in the read model ('in_stock', 'low', 'out', 'unknown').

        Read through to_jsonb so that a read model without the column answers "unknown" rather than
        failing the caller's transaction.
        """
        rows = await self.conn.fetch(
            "SELECT product_id, to_jsonb(p) ->> 'availability' AS availability "
            "FROM catalog_products p WHERE product_id = any($1::text[])",
            product_ids,
        )
        return {r["product_id"]: r["availability"] or "unknown" for r in rows}

    async def counts(self) -> dict[str, Any]:
        row = await self.conn.fetchrow(
            "SELECT (SELECT count(*) FROM catalog_locations) AS locations, "
            "(SELECT count(*) FROM catalog_products) AS products, "
            "(SELECT count(*) FROM catalog_stock_levels) AS stock_levels"
        )
        assert row is not None
        return {"locations": row["locations"], "products": row["products"], "stock_levels": row["stock_levels"]}
