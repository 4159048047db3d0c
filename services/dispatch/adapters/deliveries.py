"""Deliveries, offers, shifts, the shops read model, lockers and alerts in PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import asyncpg

from services.dispatch.domain.delivery import WITH_RIDER

_WITH_RIDER = [s.value for s in WITH_RIDER]
_COLUMNS = frozenset(
    {
        "status",
        "address",
        "contact_phone",
        "note",
        "delivery_code",
        "locker_site_id",
        "compartment_id",
        "call_first",
        "pay_on_delivery",
        "bags",
        "weight_g",
        "handover_code",
        "pickup_location",
        "packed_at",
        "ready_at",
        "promised_at",
        "opened_at",
        "rider_id",
        "assigned_at",
        "eta_shop_at",
        "eta_door_at",
        "late_risk",
        "at_shop_at",
        "picked_up_at",
        "at_door_at",
        "finished_at",
        "answer_by",
        "final_fen",
        "due_at_door_fen",
        "cash_collected_fen",
        "pickup_name_zh",
        "pickup_name_en",
    }
)
_QUEUED = ("pending", "open", "assigned", "at_shop")
# Where the rider rides to (the pickup point, else the store) and what the store is called.
_PLACES = (
    "LEFT JOIN shops s ON s.location_id = coalesce(d.pickup_location, d.store_id) "
    "LEFT JOIN shops st ON st.location_id = d.store_id"
)
_PLACE_COLUMNS = (
    "s.lat AS shop_lat, s.lon AS shop_lon, s.name_zh AS shop_name_zh, s.name_en AS shop_name_en, "
    "st.name_zh AS store_name_zh, st.name_en AS store_name_en"
)


class DeliveryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    # deliveries -------------------------------------------------------------------------
    async def add(self, values: dict[str, Any]) -> bool:
        cols = list(values)
        params = list(values.values())
        placeholders = ", ".join(f"${i}{'::jsonb' if c == 'address' else ''}" for i, c in enumerate(cols, 1))
        done = await self.conn.fetchval(
            f"INSERT INTO deliveries ({', '.join(cols)}) VALUES ({placeholders}) "
            "ON CONFLICT (order_id) DO NOTHING RETURNING true",
            *params,
        )
        return bool(done)

    async def get(self, order_id: str, *, lock: bool = False) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT * FROM deliveries WHERE order_id = $1" + (" FOR UPDATE" if lock else ""), order_id
        )

    async def update(self, order_id: str, **values: Any) -> None:
        unknown = set(values) - _COLUMNS
        if unknown:
            raise ValueError(f"not delivery columns: {unknown}")
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(values, 2))
        await self.conn.execute(
            f"UPDATE deliveries SET {sets}, updated_at = now() WHERE order_id = $1", order_id, *values.values()
        )

    async def in_status(self, statuses: Iterable[str]) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT d.*, s.lat AS shop_lat, s.lon AS shop_lon FROM deliveries d "
                "LEFT JOIN shops s ON s.location_id = coalesce(d.pickup_location, d.store_id) "
                "WHERE d.status = any($1::text[]) ORDER BY d.opened_at NULLS LAST, d.created_at",
                list(statuses),
            )
        )

    async def of_rider(self, rider_id: str, statuses: Iterable[str] = _WITH_RIDER) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                f"SELECT d.*, {_PLACE_COLUMNS} FROM deliveries d {_PLACES} "
                "WHERE d.rider_id = $1 AND d.status = any($2::text[]) ORDER BY d.assigned_at",
                rider_id,
                list(statuses),
            )
        )

    async def carrying(self) -> dict[str, int]:
        rows = await self.conn.fetch(
            "SELECT rider_id, count(*) AS n FROM deliveries WHERE rider_id IS NOT NULL "
            "AND status = any($1::text[]) GROUP BY rider_id",
            _WITH_RIDER,
        )
        return {r["rider_id"]: r["n"] for r in rows}

    async def queued_at(self, store_id: str, now: datetime) -> int:
        """Bags the shop still has to pack; slot orders count only once released into its queue."""
        return int(
            await self.conn.fetchval(
                "SELECT count(*) FROM deliveries WHERE store_id = $1 AND packed_at IS NULL "
                "AND status = any($2::text[]) AND (release_at IS NULL OR release_at <= $3)",
                store_id,
                list(_QUEUED),
                now,
            )
        )

    # offers -----------------------------------------------------------------------------
    async def add_offer(
        self,
        order_id: str,
        rider_id: str,
        eta_shop_at: datetime,
        eta_door_at: datetime,
        now: datetime,
        expires_at: datetime,
    ) -> str:
        offer_id = uuid.uuid4()
        await self.conn.execute(
            "INSERT INTO offers (id, order_id, rider_id, eta_shop_at, eta_door_at, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            offer_id,
            order_id,
            rider_id,
            eta_shop_at,
            eta_door_at,
            now,
            expires_at,
        )
        return str(offer_id)

    async def offer(self, offer_id: str, *, lock: bool = False) -> asyncpg.Record | None:
        try:
            key = uuid.UUID(offer_id)
        except ValueError:
            return None
        return await self.conn.fetchrow("SELECT * FROM offers WHERE id = $1" + (" FOR UPDATE" if lock else ""), key)

    async def answer_offer(self, offer_id: Any, status: str, now: datetime, reason: str | None = None) -> None:
        await self.conn.execute(
            "UPDATE offers SET status = $2, answered_at = $3, reason = $4 WHERE id = $1", offer_id, status, now, reason
        )

    async def pending_offers(
        self, *, rider_id: str | None = None, order_id: str | None = None, lapsed_at: datetime | None = None
    ) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT o.*, d.store_id, d.status AS delivery_status, d.bags, d.weight_g, d.packed_at, d.call_first, "
                "d.pay_on_delivery, d.due_at_door_fen, d.mode, d.address, d.pickup_location, d.pickup_name_zh, "
                f"d.pickup_name_en, d.locker_site_id, {_PLACE_COLUMNS} "
                "FROM offers o JOIN deliveries d USING (order_id) "
                f"{_PLACES} WHERE o.status = 'pending' AND ($1::text IS NULL OR o.rider_id = $1) "
                "AND ($2::text IS NULL OR o.order_id = $2) AND ($3::timestamptz IS NULL OR o.expires_at <= $3) "
                "ORDER BY o.created_at",
                rider_id,
                order_id,
                lapsed_at,
            )
        )

    async def withdraw_offers(
        self, now: datetime, reason: str, *, rider_id: str | None = None, order_id: str | None = None
    ) -> int:
        result = await self.conn.execute(
            "UPDATE offers SET status = 'withdrawn', answered_at = $1, reason = $2 WHERE status = 'pending' "
            "AND ($3::text IS NULL OR rider_id = $3) AND ($4::text IS NULL OR order_id = $4)",
            now,
            reason,
            rider_id,
            order_id,
        )
        return int(result.split()[-1])

    async def exclude(self, order_id: str, rider_id: str, reason: str) -> None:
        await self.conn.execute(
            "INSERT INTO offer_exclusions (order_id, rider_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            order_id,
            rider_id,
            reason,
        )

    async def exclusions(self, order_ids: list[str]) -> dict[str, frozenset[str]]:
        rows = await self.conn.fetch(
            "SELECT order_id, rider_id FROM offer_exclusions WHERE order_id = any($1)", order_ids
        )
        found: dict[str, set[str]] = {}
        for r in rows:
            found.setdefault(r["order_id"], set()).add(r["rider_id"])
        return {k: frozenset(v) for k, v in found.items()}

    # riders -----------------------------------------------------------------------------
    async def rider(self, rider_id: str, *, lock: bool = False) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT * FROM riders WHERE id = $1" + (" FOR UPDATE" if lock else ""), rider_id
        )

    async def set_rider_state(self, rider_id: str, state: str) -> None:
        await self.conn.execute("UPDATE riders SET state = $2, state_at = now() WHERE id = $1", rider_id, state)

    async def shifts(self, rider_ids: list[str], start: datetime, end: datetime) -> dict[str, list[dict[str, str]]]:
        rows = await self.conn.fetch(
            "SELECT * FROM rider_shifts WHERE rider_id = any($1) AND starts_at < $3 "
            "AND ends_at > $2 ORDER BY starts_at",
            rider_ids,
            start,
            end,
        )
        found: dict[str, list[dict[str, str]]] = {}
        for r in rows:
            found.setdefault(r["rider_id"], []).append(
                {"starts_at": r["starts_at"].isoformat(), "ends_at": r["ends_at"].isoformat()}
            )
        return found

    async def replace_shifts(
        self, rider_id: str, shifts: list[tuple[datetime, datetime]], window: tuple[datetime, datetime] | None = None
    ) -> None:
        if window is None:
            await self.conn.execute("DELETE FROM rider_shifts WHERE rider_id = $1", rider_id)
        else:
            await self.conn.execute(
                "DELETE FROM rider_shifts WHERE rider_id = $1 AND starts_at < $3 AND ends_at > $2", rider_id, *window
            )
        await self.conn.executemany(
            "INSERT INTO rider_shifts (rider_id, starts_at, ends_at) VALUES ($1, $2, $3)",
            [(rider_id, s, e) for s, e in shifts],
        )

    # shops ------------------------------------------------------------------------------
    async def upsert_shop(self, values: dict[str, Any]) -> None:
        await self.conn.execute(
            "INSERT INTO shops (location_id, parent_id, name_zh, name_en, lat, lon, picking_minutes, no_rider_limit_s, "
            "kind, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (location_id) DO UPDATE SET "
            "parent_id = excluded.parent_id, name_zh = excluded.name_zh, name_en = excluded.name_en, "
            "lat = excluded.lat, lon = excluded.lon, picking_minutes = excluded.picking_minutes, "
            "no_rider_limit_s = excluded.no_rider_limit_s, kind = excluded.kind, active = excluded.active, "
            "updated_at = now()",
            values["location_id"],
            values.get("parent_id"),
            values["name_zh"],
            values["name_en"],
            values["lat"],
            values["lon"],
            values.get("picking_minutes", 10),
            values.get("no_rider_limit_s"),
            values.get("kind"),
            values.get("active", True),
        )

    async def shop(self, location_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow("SELECT * FROM shops WHERE location_id = $1", location_id)

    async def quote_inputs(self, riders: list[tuple[float, float, float]], now: datetime) -> list[asyncpg.Record]:
        """Per active shop or market, in one query: picking time, queue, the nearest free rider's ride in
        seconds (`riders`: lat, lon, straight-line metres per second, i.e. speed / DETOUR), and the last
        quote published."""
        lats, lons, speeds = ([r[i] for r in riders] for i in range(3))
        return list(
            await self.conn.fetch(
                "WITH r AS (SELECT * FROM unnest($1::float8[], $2::float8[], $3::float8[]) AS r(lat, lon, speed)), "
                "q AS (SELECT store_id, count(*) AS n FROM deliveries WHERE packed_at IS NULL "
                "AND status = any($4::text[]) AND (release_at IS NULL OR release_at <= $5) GROUP BY store_id) "
                "SELECT s.location_id, s.picking_minutes, coalesce(q.n, 0) AS queued, "
                # equirectangular metres: within a few metres of the great circle at a neighbourhood's scale,
                # and one square root per rider instead of five trigonometric functions
                "(SELECT min(sqrt(power(r.lat - s.lat, 2) "
                "+ power(cos(radians(s.lat)) * (r.lon - s.lon), 2)) / r.speed) "
                "* radians(6371000.0) FROM r) AS rider_to_shop_s, "
                "p.ready_s AS last_ready_s, p.rider_to_shop_s AS last_rider_to_shop_s, "
                "p.riders_available AS last_riders_available, p.quoted_at AS last_quoted_at "
                "FROM shops s LEFT JOIN q ON q.store_id = s.location_id "
                "LEFT JOIN promise_quotes p ON p.location_id = s.location_id "
                "WHERE s.parent_id IS NULL AND s.active ORDER BY s.location_id",
                lats,
                lons,
                speeds,
                list(_QUEUED),
                now,
            )
        )

    async def save_quotes(self, quotes: list[tuple[str, float, float | None, int, datetime]]) -> None:
        await self.conn.executemany(
            "INSERT INTO promise_quotes (location_id, ready_s, rider_to_shop_s, riders_available, quoted_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (location_id) DO UPDATE SET ready_s = excluded.ready_s, "
            "rider_to_shop_s = excluded.rider_to_shop_s, riders_available = excluded.riders_available, "
            "quoted_at = excluded.quoted_at",
            quotes,
        )

    # ratings ----------------------------------------------------------------------------
    async def rate_rider(self, order_id: str, rider_id: str, stars: int, at: datetime) -> bool:
        """Count one order's rating once; False when it was already counted."""
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

    # lockers ----------------------------------------------------------------------------
    async def upsert_site(self, site_id: str, name: str, lat: float, lon: float) -> None:
        await self.conn.execute(
            "INSERT INTO locker_sites (id, name, lat, lon) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, lat = excluded.lat, "
            "lon = excluded.lon",
            site_id,
            name,
            lat,
            lon,
        )

    async def compartments(self, site_id: str, *, lock: bool = False) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT * FROM locker_compartments WHERE site_id = $1 ORDER BY id" + (" FOR UPDATE" if lock else ""),
                site_id,
            )
        )

    async def upsert_compartment(self, site_id: str, compartment_id: str, size: str) -> None:
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

    async def sites(self, site_id: str | None = None) -> list[asyncpg.Record]:
        """Sites (all, or one) with their free compartments by size."""
        return list(
            await self.conn.fetch(
                "SELECT s.id, s.name, s.lat, s.lon, "
                "coalesce(jsonb_object_agg(c.size, c.n) FILTER (WHERE c.size IS NOT NULL), '{}'::jsonb) AS free "
                "FROM locker_sites s LEFT JOIN (SELECT site_id, size, count(*) AS n FROM locker_compartments "
                "WHERE state = 'free' AND ($1::text IS NULL OR site_id = $1) GROUP BY site_id, size) c "
                "ON c.site_id = s.id WHERE $1::text IS NULL OR s.id = $1 GROUP BY s.id ORDER BY s.id",
                site_id,
            )
        )

    async def lock_site(self, site_id: str) -> bool:
        """Changes to one site's compartments queue here, so each counts the free ones after the last commit.

        NO KEY UPDATE leaves compartments' foreign keys (KEY SHARE) unblocked. Lock order everywhere:
        delivery, then site, then compartment.
        """
        return bool(await self.conn.fetchval("SELECT true FROM locker_sites WHERE id = $1 FOR NO KEY UPDATE", site_id))

    async def site(self, site_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow("SELECT * FROM locker_sites WHERE id = $1", site_id)

    async def reserve_compartment(self, site_id: str, sizes: list[str], order_id: str) -> asyncpg.Record | None:
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
        return row

    async def compartment_of(self, order_id: str, *, lock: bool = False) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT * FROM locker_compartments WHERE order_id = $1" + (" FOR UPDATE" if lock else ""), order_id
        )

    async def compartment_by_code(self, site_id: str, code: str, *, lock: bool = False) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "SELECT * FROM locker_compartments WHERE site_id = $1 AND code = $2 "
            "AND state = 'occupied'" + (" FOR UPDATE" if lock else ""),
            site_id,
            code,
        )

    async def occupy(self, site_id: str, compartment_id: str, code: str, collect_by: datetime) -> None:
        await self.conn.execute(
            "UPDATE locker_compartments SET state = 'occupied', code = $3, collect_by = $4 "
            "WHERE site_id = $1 AND id = $2",
            site_id,
            compartment_id,
            code,
            collect_by,
        )

    async def free_compartment(self, order_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow(
            "UPDATE locker_compartments SET state = 'free', order_id = NULL, code = NULL, collect_by = NULL "
            "WHERE order_id = $1 RETURNING site_id, id",
            order_id,
        )

    # alerts -----------------------------------------------------------------------------
    async def alert(self, kind: str, message: str, order_id: str | None = None, rider_id: str | None = None) -> None:
        await self.conn.execute(
            "INSERT INTO alerts (order_id, rider_id, kind, message) VALUES ($1, $2, $3, $4)",
            order_id,
            rider_id,
            kind,
            message,
        )

    async def alerts(self, limit: int = 100) -> list[asyncpg.Record]:
        return list(
            await self.conn.fetch(
                "SELECT * FROM alerts WHERE resolved_at IS NULL ORDER BY created_at DESC LIMIT $1", limit
            )
        )
