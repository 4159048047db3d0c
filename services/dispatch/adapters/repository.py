"""Riders, tracked orders and the order log in PostgreSQL; rider positions in Redis GEO."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.dispatch.domain.delivery import Rider

POSITIONS = "dispatch:riders:geo"
LAST_SEEN = "dispatch:riders:seen"


class DispatchRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def log(
        self, event_id: Any, order_id: str, event_type: str, occurred_at: datetime, payload: dict[str, Any]
    ) -> None:
        await self.conn.execute(
            "INSERT INTO order_log (event_id, order_id, event_type, occurred_at, payload) "
            "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING",
            event_id,
            order_id,
            event_type,
            occurred_at,
            payload,
        )

    async def track(self, order_id: str, store_id: str, mode: str | None, status: str, awaits_rider: bool) -> None:
        await self.conn.execute(
            "INSERT INTO tracked_orders (order_id, store_id, fulfilment_mode, status, awaits_rider) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, "
            "fulfilment_mode = coalesce(excluded.fulfilment_mode, tracked_orders.fulfilment_mode), "
            "awaits_rider = excluded.awaits_rider, updated_at = now()",
            order_id,
            store_id,
            mode,
            status,
            awaits_rider,
        )

    async def tracked(self, order_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow("SELECT * FROM tracked_orders WHERE order_id = $1", order_id)

    async def open_orders(self, limit: int = 200) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT * FROM tracked_orders WHERE status NOT IN ('REJECTED', 'CANCELLED', 'DELIVERED', 'COLLECTED', "
                "'RETURNED') ORDER BY updated_at DESC LIMIT $1",
                limit,
            )
        )

    async def history(self, order_id: str) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT event_type, occurred_at, received_at, payload FROM order_log "
                "WHERE order_id = $1 ORDER BY occurred_at, received_at",
                order_id,
            )
        )

    async def upsert_rider(self, rider: Rider) -> None:
        await self.conn.execute(
            "INSERT INTO riders (id, name, vehicle, capacity, state) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, vehicle = excluded.vehicle, "
            "capacity = excluded.capacity",
            rider.id,
            rider.name,
            rider.vehicle.value,
            rider.capacity,
            rider.state.value,
        )

    async def riders(self) -> list[asyncpg.Record]:
        return list(await self.conn.fetch("SELECT * FROM riders ORDER BY id"))


class RiderPositions:
    """Where riders are: fast and disposable, so Redis; a lost position is resent in seconds."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def update(self, rider_id: str, lat: float, lon: float, at: float | None = None) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.geoadd(POSITIONS, [lon, lat, rider_id])
            pipe.zadd(LAST_SEEN, {rider_id: at if at is not None else time.time()})
            await pipe.execute()

    async def positions(self, rider_ids: list[str]) -> dict[str, dict[str, float] | None]:
        if not rider_ids:
            return {}
        coords = await self.redis.geopos(POSITIONS, *rider_ids)
        seen = await self.redis.zmscore(LAST_SEEN, rider_ids)
        result: dict[str, dict[str, float] | None] = {}
        for rider_id, pos, last in zip(rider_ids, coords, seen, strict=True):
            result[rider_id] = None if pos is None else {"lon": pos[0], "lat": pos[1], "seen_at": last or 0.0}
        return result

    async def seen(self) -> dict[str, float]:
        """Every rider's last-seen time (epoch seconds)."""
        found: Any = await self.redis.zrange(LAST_SEEN, 0, -1, withscores=True)
        return {str(rider): float(score) for rider, score in found}
