"""What following an order stores: its rating; and what a reorder asks of the catalog read model."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class Rating:
    order_id: str
    store_id: str
    placed_for: str
    shop_stars: int | None
    rider_id: str | None
    rider_stars: int | None
    comment: str | None
    rated_at: datetime


class Ratings:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, r: Rating) -> bool:
        """False if the order was rated already (an order is rated once)."""
        added = await self.conn.fetchval(
            "INSERT INTO order_ratings (order_id, store_id, placed_for, shop_stars, rider_id, rider_stars, comment, "
            "rated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (order_id) DO NOTHING RETURNING true",
            r.order_id,
            r.store_id,
            r.placed_for,
            r.shop_stars,
            r.rider_id,
            r.rider_stars,
            r.comment,
            r.rated_at,
        )
        return bool(added)

    async def get(self, order_id: str) -> Rating | None:
        row = await self.conn.fetchrow("SELECT * FROM order_ratings WHERE order_id = $1", order_id)
        return Rating(**dict(row)) if row else None


async def catalog_availability(conn: asyncpg.Connection, product_ids: list[str]) -> dict[str, str]:
    """Each product's availability in the read model ('in_stock', 'low', 'out', 'unknown').

    Read through to_jsonb so that a read model without the column answers "unknown" rather than
    failing the caller's transaction.
    """
    rows = await conn.fetch(
        "SELECT product_id, to_jsonb(p) ->> 'availability' AS availability "
        "FROM catalog_products p WHERE product_id = any($1::text[])",
        product_ids,
    )
    return {r["product_id"]: r["availability"] or "unknown" for r in rows}
