"""What following an order stores: its rating."""

from __future__ import annotations

import asyncpg

from services.orders.domain.rating import Rating


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
