"""Shops (the catalog's read model) with their promise quotes, locker sites, and alerts in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.dispatch.domain.delivery import DeliveryStatus
from services.dispatch.domain.eta import PER_QUEUED_MINUTES
from services.dispatch.domain.lockers import SIZES, Compartment, CompartmentState, LockerSite
from services.dispatch.domain.promises import Free, LoadQuote
from shared.vocabulary.geo import DETOUR
from shared.vocabulary.locations import LocationKind

_FOREVER_S = 1e12  # a rider with no shift end known
_QUEUED = [
    s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.OPEN, DeliveryStatus.ASSIGNED, DeliveryStatus.AT_SHOP)
]


@dataclass(frozen=True)
class Shop:
    location_id: str
    parent_id: str | None
    name_zh: str
    name_en: str
    lat: float
    lon: float
    picking_minutes: int = 10
    no_rider_limit_s: float | None = None
    kind: LocationKind | None = None
    active: bool = True


@dataclass(frozen=True)
class QuoteInputs:
    """One shop's inputs to a promise quote, and the quote last published for it."""

    location_id: str
    picking_minutes: int
    queued: int
    pickups: dict[str, float]  # vehicle -> seconds until its earliest rider is at the shop
    last: LoadQuote | None
    last_quoted_at: datetime | None


def _shop(row: asyncpg.Record) -> Shop:
    return Shop(
        row["location_id"], row["parent_id"], row["name_zh"], row["name_en"], row["lat"], row["lon"],
        row["picking_minutes"], row["no_rider_limit_s"], LocationKind(row["kind"]) if row["kind"] else None,
        row["active"],
    )  # fmt: skip


class ShopRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def put(self, shop: Shop) -> None:
        await self.conn.execute(
            "INSERT INTO shops (location_id, parent_id, name_zh, name_en, lat, lon, picking_minutes, no_rider_limit_s, "
            "kind, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (location_id) DO UPDATE SET "
            "parent_id = excluded.parent_id, name_zh = excluded.name_zh, name_en = excluded.name_en, "
            "lat = excluded.lat, lon = excluded.lon, picking_minutes = excluded.picking_minutes, "
            "no_rider_limit_s = excluded.no_rider_limit_s, kind = excluded.kind, active = excluded.active, "
            "updated_at = now()",
            shop.location_id,
            shop.parent_id,
            shop.name_zh,
            shop.name_en,
            shop.lat,
            shop.lon,
            shop.picking_minutes,
            shop.no_rider_limit_s,
            shop.kind.value if shop.kind else None,
            shop.active,
        )

    async def get(self, location_id: str) -> Shop | None:
        row = await self.conn.fetchrow("SELECT * FROM shops WHERE location_id = $1", location_id)
        return _shop(row) if row else None

    async def nearest(self, lat: float, lon: float) -> tuple[Shop, float] | None:
        """The active shop or market nearest to a point, with its straight-line metres (None: no shop known)."""
        row = await self.conn.fetchrow(
            "SELECT *, 2 * 6371000.0 * asin(sqrt(power(sin(radians(lat - $1) / 2), 2) "
            "+ cos(radians($1)) * cos(radians(lat)) * power(sin(radians(lon - $2) / 2), 2))) AS metres "
            "FROM shops WHERE active AND parent_id IS NULL ORDER BY metres LIMIT 1",
            lat,
            lon,
        )
        return (_shop(row), float(row["metres"])) if row else None

    async def get_many(self, location_ids: Sequence[str]) -> dict[str, Shop]:
        """The shops known among `location_ids`, by id, in one query."""
        rows = await self.conn.fetch("SELECT * FROM shops WHERE location_id = any($1::text[])", list(location_ids))
        return {r["location_id"]: _shop(r) for r in rows}

    async def quote_inputs(self, free: Sequence[Free], now: datetime) -> list[QuoteInputs]:
        """Per active shop or market, in one query: picking time, queue, per vehicle the earliest rider of
        the forecast (`free`: after the orders ahead) at the shop, and the last quote published.

        The same rule as domain/promises.py `quote_shop`: a rider free at `at_s` rides from where they
        are free, and counts only if the bag could be picked up before their shift ends."""
        rows = await self.conn.fetch(
            "WITH r AS (SELECT * FROM unnest($1::float8[], $2::float8[], $3::float8[], $4::float8[], "
            "$5::float8[], $6::text[]) AS r(lat, lon, speed, at_s, ends_s, vehicle)), "
            "q AS (SELECT store_id, count(*) AS n FROM deliveries WHERE packed_at IS NULL "
            "AND status = any($7::text[]) AND (release_at IS NULL OR release_at <= $8) GROUP BY store_id), "
            "s AS (SELECT s.*, coalesce(q.n, 0) AS queued, (s.picking_minutes + $9 * coalesce(q.n, 0)) * 60.0 "
            "AS ready_s FROM shops s LEFT JOIN q ON q.store_id = s.location_id "
            "WHERE s.parent_id IS NULL AND s.active) "
            "SELECT s.location_id, s.picking_minutes, s.queued, "
            "(SELECT jsonb_object_agg(v.vehicle, v.t) FROM (SELECT r.vehicle, min(x.t) AS t FROM r "
            # equirectangular metres: within a few metres of the great circle at a neighbourhood's scale,
            # and one square root per rider instead of five trigonometric functions
            "CROSS JOIN LATERAL (SELECT r.at_s + sqrt(power(r.lat - s.lat, 2) "
            "+ power(cos(radians(s.lat)) * (r.lon - s.lon), 2)) / r.speed * radians(6371000.0) AS t) x "
            "WHERE greatest(x.t, s.ready_s) <= r.ends_s GROUP BY r.vehicle) v) AS pickups, "
            "p.ready_s AS last_ready_s, p.pickups AS last_pickups, p.slack_s AS last_slack_s, "
            "p.riders_available AS last_riders, p.orders_ahead AS last_ahead, p.quoted_at AS last_quoted_at "
            "FROM s LEFT JOIN promise_quotes p ON p.location_id = s.location_id ORDER BY s.location_id",
            [f.place.lat for f in free],
            [f.place.lon for f in free],
            [f.speed / DETOUR for f in free],
            [f.at_s for f in free],
            [min(f.ends_s, _FOREVER_S) for f in free],
            [f.vehicle for f in free],
            _QUEUED,
            now,
            PER_QUEUED_MINUTES,
        )
        return [
            QuoteInputs(
                r["location_id"],
                r["picking_minutes"],
                r["queued"],
                {k: float(v) for k, v in (r["pickups"] or {}).items()},
                LoadQuote(
                    r["last_ready_s"],
                    tuple(sorted((k, float(v)) for k, v in (r["last_pickups"] or {}).items())),
                    r["last_riders"],
                    r["last_ahead"],
                    r["last_slack_s"],
                )
                if r["last_quoted_at"] is not None
                else None,
                r["last_quoted_at"],
            )
            for r in rows
        ]

    async def save_quotes(self, quotes: list[tuple[str, LoadQuote, datetime]]) -> None:
        await self.conn.executemany(
            "INSERT INTO promise_quotes (location_id, ready_s, rider_to_shop_s, riders_available, quoted_at, "
            "pickups, slack_s, orders_ahead) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8) "
            "ON CONFLICT (location_id) DO UPDATE SET ready_s = excluded.ready_s, "
            "rider_to_shop_s = excluded.rider_to_shop_s, riders_available = excluded.riders_available, "
            "quoted_at = excluded.quoted_at, pickups = excluded.pickups, slack_s = excluded.slack_s, "
            "orders_ahead = excluded.orders_ahead",
            [
                (loc, q.ready_s, q.rider_to_shop_s, q.riders, at, dict(q.pickups), q.slack_s, q.ahead)
                for loc, q, at in quotes
            ],
        )


def _compartment(row: asyncpg.Record) -> Compartment:
    return Compartment(
        row["site_id"], row["id"], row["size"], CompartmentState(row["state"]), row["order_id"], row["code"],
        row["collect_by"],
    )  # fmt: skip


class LockerRepository:
    """Locker sites and compartments. Lock order everywhere: delivery, then site, then compartment."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def put_site(self, site_id: str, name: str, lat: float, lon: float) -> None:
        await self.conn.execute(
            "INSERT INTO locker_sites (id, name, lat, lon) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat, "
            "lon = excluded.lon",
            site_id,
            name,
            lat,
            lon,
        )

    async def compartments(self, site_id: str, *, lock: bool = False) -> list[Compartment]:
        rows = await self.conn.fetch(
            "SELECT * FROM locker_compartments WHERE site_id = $1 ORDER BY id" + (" FOR UPDATE" if lock else ""),
            site_id,
        )
        return [_compartment(r) for r in rows]

    async def put_compartment(self, site_id: str, compartment_id: str, size: str) -> None:
        await self.conn.execute(
            "INSERT INTO locker_compartments (site_id, id, size) VALUES ($1, $2, $3) "
            "ON CONFLICT (site_id, id) DO UPDATE SET size = excluded.size",
            site_id,
            compartment_id,
            size,
        )

    async def remove_compartment(self, site_id: str, compartment_id: str) -> None:
        await self.conn.execute(
            "DELETE FROM locker_compartments WHERE site_id = $1 AND id = $2", site_id, compartment_id
        )

    async def sites(self, site_id: str | None = None) -> list[LockerSite]:
        """Sites (all, or one) with their free compartments by size."""
        rows = await self.conn.fetch(
            "SELECT s.id, s.name, s.lat, s.lon, "
            "coalesce(jsonb_object_agg(c.size, c.n) FILTER (WHERE c.size IS NOT NULL), '{}'::jsonb) AS free "
            "FROM locker_sites s LEFT JOIN (SELECT site_id, size, count(*) AS n FROM locker_compartments "
            "WHERE state = 'free' AND ($1::text IS NULL OR site_id = $1) GROUP BY site_id, size) c "
            "ON c.site_id = s.id WHERE $1::text IS NULL OR s.id = $1 GROUP BY s.id ORDER BY s.id",
            site_id,
        )
        return [
            LockerSite(r["id"], r["name"], r["lat"], r["lon"], {size: int(r["free"].get(size, 0)) for size in SIZES})
            for r in rows
        ]

    async def site(self, site_id: str) -> LockerSite | None:
        found = await self.sites(site_id)
        return found[0] if found else None

    async def lock_site(self, site_id: str) -> bool:
        """Changes to one site's compartments queue here, so each counts the free ones after the last commit.

        NO KEY UPDATE leaves compartments' foreign keys (KEY SHARE) unblocked.
        """
        return bool(await self.conn.fetchval("SELECT true FROM locker_sites WHERE id = $1 FOR NO KEY UPDATE", site_id))

    async def reserve(self, site_id: str, sizes: list[str], order_id: str) -> Compartment | None:
        """A free compartment of the first size that has one, locked so no one else books it."""
        row = await self.conn.fetchrow(
            "SELECT * FROM locker_compartments WHERE site_id = $1 AND state = 'free' AND size = any($2::text[]) "
            "ORDER BY array_position($2::text[], size), id LIMIT 1 FOR UPDATE SKIP LOCKED",
            site_id,
            sizes,
        )
        if row is None:
            return None
        await self.conn.execute(
            "UPDATE locker_compartments SET state = 'reserved', order_id = $3 WHERE site_id = $1 AND id = $2",
            site_id,
            row["id"],
            order_id,
        )
        return _compartment(row)

    async def of_order(self, order_id: str, *, lock: bool = False) -> Compartment | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM locker_compartments WHERE order_id = $1" + (" FOR UPDATE" if lock else ""), order_id
        )
        return _compartment(row) if row else None

    async def waiting_for(self, site_id: str, orderer: str) -> list[tuple[str, str]]:
        """(order id, store id) of the bags in this site's compartments that `orderer` may collect."""
        rows = await self.conn.fetch(
            "SELECT d.order_id, d.store_id FROM locker_compartments c JOIN deliveries d ON d.order_id = c.order_id "
            "WHERE c.site_id = $1 AND c.state = 'occupied' AND $2 IN (d.placed_by, d.placed_for) ORDER BY d.order_id",
            site_id,
            orderer,
        )
        return [(r["order_id"], r["store_id"]) for r in rows]

    async def by_code(self, site_id: str, code: str, *, lock: bool = False) -> Compartment | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM locker_compartments WHERE site_id = $1 AND code = $2 "
            "AND state = 'occupied'" + (" FOR UPDATE" if lock else ""),
            site_id,
            code,
        )
        return _compartment(row) if row else None

    async def occupy(self, site_id: str, compartment_id: str, code: str, collect_by: datetime) -> None:
        await self.conn.execute(
            "UPDATE locker_compartments SET state = 'occupied', code = $3, collect_by = $4 "
            "WHERE site_id = $1 AND id = $2",
            site_id,
            compartment_id,
            code,
            collect_by,
        )

    async def free(self, order_id: str) -> tuple[str, str] | None:
        """Empty the order's compartment; (site, compartment) when it had one."""
        row = await self.conn.fetchrow(
            "UPDATE locker_compartments SET state = 'free', order_id = NULL, code = NULL, collect_by = NULL "
            "WHERE order_id = $1 RETURNING site_id, id",
            order_id,
        )
        return (row["site_id"], row["id"]) if row else None


@dataclass(frozen=True)
class Alert:
    id: int
    order_id: str | None
    rider_id: str | None
    kind: str
    message: str
    created_at: datetime


class AlertRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def raise_(self, kind: str, message: str, order_id: str | None = None, rider_id: str | None = None) -> None:
        await self.conn.execute(
            "INSERT INTO alerts (order_id, rider_id, kind, message) VALUES ($1, $2, $3, $4)",
            order_id,
            rider_id,
            kind,
            message,
        )

    async def open(self, limit: int = 100) -> list[Alert]:
        rows = await self.conn.fetch(
            "SELECT * FROM alerts WHERE resolved_at IS NULL ORDER BY created_at DESC LIMIT $1", limit
        )
        return [Alert(r["id"], r["order_id"], r["rider_id"], r["kind"], r["message"], r["created_at"]) for r in rows]
