"""The circle read model (dispatch's locker sites and promises, fed by linli.circle) and what
orders itself knows about each shop's standing: its open orders and its shoppers' ratings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from services.orders.domain.discovery import OPEN_STATUSES, LockerSite, Quote, quote_of
from shared.events.contracts import LockerSiteUpdated, PromiseQuoted
from shared.vocabulary.geo import Point


class CircleReadModel:
    """Latest state per site and per shop. Each write keeps the newer of what is stored and what
    arrived, so a redelivered or late event never takes the read model back in time."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def upsert_locker_site(self, e: LockerSiteUpdated, reported_at: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO circle_lockers (site_id, name, lat, lon, active, free, updated_at) "
            "VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7) ON CONFLICT (site_id) DO UPDATE SET name = excluded.name, "
            "lat = excluded.lat, lon = excluded.lon, active = excluded.active, free = excluded.free, "
            "updated_at = excluded.updated_at WHERE circle_lockers.updated_at <= excluded.updated_at",
            e.site_id,
            e.name,
            e.lat,
            e.lon,
            e.active,
            e.free,
            reported_at,
        )

    async def record_promise(self, e: PromiseQuoted) -> None:
        await self.conn.execute(
            "INSERT INTO circle_promises (location_id, ready_minutes, rider_to_shop_minutes, riders_available, "
            "quoted_at, pickups, slack_minutes, orders_ahead) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8) "
            "ON CONFLICT (location_id) DO UPDATE SET "
            "ready_minutes = excluded.ready_minutes, rider_to_shop_minutes = excluded.rider_to_shop_minutes, "
            "riders_available = excluded.riders_available, quoted_at = excluded.quoted_at, "
            "pickups = excluded.pickups, slack_minutes = excluded.slack_minutes, orders_ahead = excluded.orders_ahead "
            "WHERE circle_promises.quoted_at <= excluded.quoted_at",
            e.location_id,
            e.ready_minutes,
            e.rider_to_shop_minutes,
            e.riders_available,
            e.quoted_at,
            [p.model_dump() for p in e.pickups],
            e.slack_minutes,
            e.orders_ahead,
        )

    async def locker_sites(self) -> list[LockerSite]:
        rows = await self.conn.fetch("SELECT * FROM circle_lockers WHERE active")
        return [locker_site_of(r) for r in rows]

    async def locker_site(self, site_id: str) -> LockerSite | None:
        row = await self.conn.fetchrow("SELECT * FROM circle_lockers WHERE site_id = $1", site_id)
        return None if row is None else locker_site_of(row)

    async def quotes(self, location_ids: list[str]) -> dict[str, Quote]:
        rows = await self.conn.fetch("SELECT * FROM circle_promises WHERE location_id = any($1::text[])", location_ids)
        return {r["location_id"]: quote_of(r) for r in rows}

    async def counts(self) -> dict[str, Any]:
        row = await self.conn.fetchrow(
            "SELECT (SELECT count(*) FROM circle_lockers) AS locker_sites, "
            "(SELECT count(*) FROM circle_promises) AS promises"
        )
        assert row is not None
        return {"locker_sites": row["locker_sites"], "promises": row["promises"]}


def locker_site_of(r: Mapping[str, Any]) -> LockerSite:
    """A circle_lockers row (a record, or its JSON)."""
    return LockerSite(r["site_id"], r["name"], Point(r["lat"], r["lon"]), r["active"], dict(r["free"]))


class ShopStanding:
    """How busy each shop is and how its shoppers rated it, from orders' own tables."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def open_orders(self, store_ids: list[str]) -> dict[str, int]:
        rows = await self.conn.fetch(
            "SELECT store_id, count(*) AS n FROM orders WHERE store_id = any($1::text[]) "
            "AND status = any($2::text[]) GROUP BY store_id",
            store_ids,
            list(OPEN_STATUSES),
        )
        return {r["store_id"]: r["n"] for r in rows}

    async def ratings(self, store_ids: list[str]) -> dict[str, tuple[float, int]]:
        """Average shop stars (one decimal) and how many ratings gave them."""
        rows = await self.conn.fetch(
            "SELECT store_id, round(avg(shop_stars)::numeric, 1)::float8 AS stars, count(shop_stars) AS n "
            "FROM order_ratings WHERE store_id = any($1::text[]) AND shop_stars IS NOT NULL GROUP BY store_id",
            store_ids,
        )
        return {r["store_id"]: (r["stars"], r["n"]) for r in rows}
