"""Riders, their shifts and the orders dispatch follows in PostgreSQL; rider positions in Redis GEO
(and, at a low rate, in PostgreSQL for when Redis is away)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.dispatch.adapters.deliveries import Stale
from services.dispatch.adapters.redis_watch import ALIVE, RedisWatch
from services.dispatch.domain.riders import Position, Rider, RiderState, Shift, Vehicle
from shared.clock import Clock, SystemClock
from shared.dependencies import REDIS, REDIS_AWAY, Unavailable
from shared.errors import Conflict
from shared.vocabulary.fulfilment import FulfilmentMode

POSITIONS = "dispatch:riders:geo"
LAST_SEEN = "dispatch:riders:seen"
KEEP_EVERY_S = 30.0  # a rider's position goes to PostgreSQL at most this often


def _rider(row: asyncpg.Record) -> Rider:
    return Rider(
        row["id"], row["name"], Vehicle(row["vehicle"]), row["capacity"], RiderState(row["state"]),
        row["rating_sum"], row["rating_count"], row["version"],
    )  # fmt: skip


class RiderRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, rider_id: str, *, lock: bool = False) -> Rider | None:
        row = await self.conn.fetchrow("SELECT * FROM riders WHERE id = $1" + (" FOR UPDATE" if lock else ""), rider_id)
        return _rider(row) if row else None

    async def all(self) -> list[Rider]:
        return [_rider(r) for r in await self.conn.fetch("SELECT * FROM riders ORDER BY id")]

    async def put(self, rider: Rider) -> None:
        """A new rider, or a new profile (name, vehicle, capacity) for one; the state is kept."""
        await self.conn.execute(
            "INSERT INTO riders (id, name, vehicle, capacity, state) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, vehicle = excluded.vehicle, "
            "capacity = excluded.capacity, version = riders.version + 1",
            rider.id,
            rider.name,
            rider.vehicle.value,
            rider.capacity,
            rider.state.value,
        )

    async def save(self, rider: Rider) -> None:
        """The rider's state, if nobody saved the rider since it was loaded (else Stale)."""
        saved = await self.conn.fetchval(
            "UPDATE riders SET state = $3, state_at = now(), version = version + 1 "
            "WHERE id = $1 AND version = $2 RETURNING true",
            rider.id,
            rider.version,
            rider.state.value,
        )
        if not saved:
            raise Stale(f"rider {rider.id} changed while this was being decided: try again")
        rider.version += 1

    async def rate(self, order_id: str, rider_id: str, stars: int, at: datetime) -> bool:
        """Count one order's rating once (a counter, added in place); False when it was already counted."""
        added = await self.conn.fetchval(
            "INSERT INTO rider_ratings (order_id, rider_id, stars, rated_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (order_id) DO NOTHING RETURNING true",
            order_id,
            rider_id,
            stars,
            at,
        )
        if added:
            await self.conn.execute(
                "UPDATE riders SET rating_sum = rating_sum + $2, rating_count = rating_count + 1 WHERE id = $1",
                rider_id,
                stars,
            )
        return bool(added)


class ShiftRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def between(self, rider_ids: list[str], start: datetime, end: datetime) -> dict[str, list[Shift]]:
        rows = await self.conn.fetch(
            "SELECT * FROM rider_shifts WHERE rider_id = any($1) AND starts_at < $3 "
            "AND ends_at > $2 ORDER BY starts_at",
            rider_ids,
            start,
            end,
        )
        found: dict[str, list[Shift]] = {}
        for r in rows:
            found.setdefault(r["rider_id"], []).append(Shift(r["starts_at"], r["ends_at"]))
        return found

    async def replace(self, rider_id: str, shifts: list[Shift], window: tuple[datetime, datetime] | None) -> None:
        """All the rider's shifts, or with `window` only those touching it."""
        if window is None:
            await self.conn.execute("DELETE FROM rider_shifts WHERE rider_id = $1", rider_id)
        else:
            await self.conn.execute(
                "DELETE FROM rider_shifts WHERE rider_id = $1 AND starts_at < $3 AND ends_at > $2", rider_id, *window
            )
        try:
            await self.conn.executemany(
                "INSERT INTO rider_shifts (rider_id, starts_at, ends_at) VALUES ($1, $2, $3)",
                [(rider_id, s.starts_at, s.ends_at) for s in shifts],
            )
        except asyncpg.exceptions.UniqueViolationError as e:
            raise Conflict("a shift starts when one of the rider's other days' shifts does: edit that day too") from e


@dataclass(frozen=True)
class TrackedOrder:
    order_id: str
    store_id: str
    fulfilment_mode: FulfilmentMode | None
    status: str
    awaits_rider: bool
    updated_at: datetime


@dataclass(frozen=True)
class LoggedEvent:
    type: str
    occurred_at: datetime
    received_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True)
class TrackedRow:
    """What the order log keeps of an order after an event: its shop, mode (None: as known), status."""

    order_id: str
    store_id: str
    fulfilment_mode: FulfilmentMode | None
    status: str
    awaits_rider: bool


LogRow = tuple[uuid.UUID, str, str, datetime, dict[str, Any]]  # event id, order id, type, occurred at, payload


class OrderLog:
    """Every order event dispatch received, and the latest status of each order it follows."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def record_many(self, rows: Sequence[LogRow]) -> None:
        """Log many events in one statement (an event already logged is left as it is)."""
        if not rows:
            return
        await self.conn.execute(
            "INSERT INTO order_log (event_id, order_id, event_type, occurred_at, payload) "
            "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[]) "
            "ON CONFLICT DO NOTHING",
            *([r[i] for r in rows] for i in range(5)),
        )

    async def track_many(self, rows: Sequence[TrackedRow]) -> None:
        """Each order's latest status in one statement; one row per order (the caller keeps the last)."""
        if not rows:
            return
        await self.conn.execute(
            "INSERT INTO tracked_orders (order_id, store_id, fulfilment_mode, status, awaits_rider) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[]) "
            "ON CONFLICT (order_id) DO UPDATE SET status = excluded.status, "
            "fulfilment_mode = coalesce(excluded.fulfilment_mode, tracked_orders.fulfilment_mode), "
            "awaits_rider = excluded.awaits_rider, updated_at = now()",
            [r.order_id for r in rows],
            [r.store_id for r in rows],
            [r.fulfilment_mode.value if r.fulfilment_mode else None for r in rows],
            [r.status for r in rows],
            [r.awaits_rider for r in rows],
        )

    async def tracked_many(self, order_ids: Sequence[str]) -> list[TrackedOrder]:
        rows = await self.conn.fetch("SELECT * FROM tracked_orders WHERE order_id = any($1::text[])", list(order_ids))
        return [_tracked(r) for r in rows]

    async def open_orders(self, limit: int = 200) -> list[TrackedOrder]:
        rows = await self.conn.fetch(
            "SELECT * FROM tracked_orders WHERE status NOT IN ('REJECTED', 'CANCELLED', 'DELIVERED', 'COLLECTED', "
            "'RETURNED') ORDER BY updated_at DESC LIMIT $1",
            limit,
        )
        return [_tracked(r) for r in rows]

    async def history(self, order_id: str) -> list[LoggedEvent]:
        rows = await self.conn.fetch(
            "SELECT event_type, occurred_at, received_at, payload FROM order_log "
            "WHERE order_id = $1 ORDER BY occurred_at, received_at",
            order_id,
        )
        return [LoggedEvent(r["event_type"], r["occurred_at"], r["received_at"], r["payload"]) for r in rows]


def _tracked(row: asyncpg.Record) -> TrackedOrder:
    mode = FulfilmentMode(row["fulfilment_mode"]) if row["fulfilment_mode"] else None
    return TrackedOrder(row["order_id"], row["store_id"], mode, row["status"], row["awaits_rider"], row["updated_at"])


class RiderPositions:
    """Where riders are: live in Redis (GEO and a last-seen time), kept in PostgreSQL at a low rate.

    `live()` is Redis's answer or `Unavailable` (the roster, the board: what shows where riders
    are now). `positions()` is what the rounds plan from: Redis's answer, or while Redis is away
    (and, for a rider it lost, shortly after it restarted empty) the last position kept in
    PostgreSQL, its silence not counting the time Redis was away.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        conn: asyncpg.Connection | None = None,
        *,
        clock: Clock | None = None,
        keep_every_s: float = KEEP_EVERY_S,
        silent_s: float = 60.0,
    ) -> None:
        self.redis = redis
        self.conn = conn
        self.clock = clock or SystemClock()
        self.keep_every_s = keep_every_s
        self.silent_s = silent_s
        self.watch = RedisWatch.of(redis)

    def _now(self) -> float:
        return self.clock.now().timestamp()

    async def update(self, rider_id: str, lat: float, lon: float, at: float | None = None) -> None:
        """Live in Redis (or `Unavailable`: a position is only worth something now); kept now and then."""
        at = at if at is not None else self._now()
        if not self.watch.worth_trying():
            raise Unavailable(REDIS, "positions cannot be taken while Redis is away; send it again shortly")
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.geoadd(POSITIONS, [lon, lat, rider_id])
                pipe.zadd(LAST_SEEN, {rider_id: at})
                await pipe.execute()
        except REDIS_AWAY as e:
            self.watch.failed(self._now(), repr(e))
            raise Unavailable(
                REDIS, "rider positions are unavailable while Redis is away; send it again shortly"
            ) from e
        self.watch.answered(self._now())
        if self.conn is not None and self.watch.keep_due(rider_id, at, self.keep_every_s):
            await self.conn.execute(
                "INSERT INTO rider_positions (rider_id, lat, lon, seen_at) VALUES ($1, $2, $3, to_timestamp($4)) "
                "ON CONFLICT (rider_id) DO UPDATE SET lat = EXCLUDED.lat, lon = EXCLUDED.lon, "
                "seen_at = EXCLUDED.seen_at "
                "WHERE rider_positions.seen_at < EXCLUDED.seen_at",
                rider_id,
                lat,
                lon,
                at,
            )

    async def live(self, rider_ids: list[str]) -> dict[str, Position | None]:
        """Redis's positions, or `Unavailable` while it is away."""
        if not self.watch.worth_trying():
            raise Unavailable(REDIS, "live positions are unavailable while Redis is away; try again shortly")
        try:
            return await self._from_redis(rider_ids)
        except REDIS_AWAY as e:
            self.watch.failed(self._now(), repr(e))
            raise Unavailable(
                REDIS, "live rider positions are unavailable while Redis is away; try again shortly"
            ) from e

    async def positions(self, rider_ids: list[str]) -> dict[str, Position | None]:
        """Live where Redis answers; else (and for riders Redis lost) the last kept in PostgreSQL."""
        if not rider_ids:
            return {}
        if not self.watch.worth_trying() and self.conn is not None:
            return await self.kept(rider_ids)
        try:
            found = await self._from_redis(rider_ids)
        except REDIS_AWAY as e:
            self.watch.failed(self._now(), repr(e))
            if self.conn is None:
                raise Unavailable(REDIS, "rider positions are unavailable while Redis is away") from e
            return await self.kept(rider_ids)
        missing = [rider_id for rider_id, pos in found.items() if pos is None]
        if missing and self.conn is not None and self.watch.back_within(self._now(), self.silent_s + self.keep_every_s):
            found.update({k: v for k, v in (await self.kept(missing)).items() if v is not None})
        return found

    async def kept(self, rider_ids: list[str]) -> dict[str, Position | None]:
        """The positions kept in PostgreSQL; the time Redis was away does not count towards silence, and a
        kept position may be up to `keep_every_s` older than the rider's last report."""
        assert self.conn is not None
        rows = await self.conn.fetch(
            "SELECT rider_id, lat, lon, extract(epoch FROM seen_at)::float8 AS seen_at FROM rider_positions "
            "WHERE rider_id = any($1::text[])",
            rider_ids,
        )
        now = self._now()
        found: dict[str, Position | None] = dict.fromkeys(rider_ids)
        for r in rows:
            seen = float(r["seen_at"])
            credited = min(now, seen + self.watch.away_between(seen, now) + self.keep_every_s)
            found[r["rider_id"]] = Position(lat=r["lat"], lon=r["lon"], seen_at=credited)
        return found

    async def _from_redis(self, rider_ids: list[str]) -> dict[str, Position | None]:
        if not rider_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.geopos(POSITIONS, *rider_ids)
            pipe.zmscore(LAST_SEEN, rider_ids)
            pipe.set(ALIVE, "1", nx=True)
            coords, seen, fresh = await pipe.execute()
        now = self._now()
        if fresh:
            self.watch.lost_data(now)
        else:
            self.watch.answered(now)
        result: dict[str, Position | None] = {}
        for rider_id, pos, last in zip(rider_ids, coords, seen, strict=True):
            result[rider_id] = None if pos is None else Position(lat=pos[1], lon=pos[0], seen_at=last or 0.0)
        return result
