"""Group buys' trips in PostgreSQL (migration 011): one row per closed deal dispatch carries."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.dispatch.domain.group_trips import GroupTrip, TripBag, TripStatus


def _trip(r: asyncpg.Record) -> GroupTrip:
    return GroupTrip(
        deal_id=r["deal_id"],
        store_id=r["store_id"],
        leader=r["leader"],
        kind=r["kind"],
        status=TripStatus(r["status"]),
        bags=[TripBag(b["number"], b["holder"], b["joined_by"]) for b in r["bags"]],
        pickup_name=r["pickup_name"],
        lat=r["lat"],
        lon=r["lon"],
        site_id=r["site_id"],
        window_start=r["window_start"],
        window_end=r["window_end"],
        weight_g=r["weight_g"],
        vehicle=r["vehicle"],
        reason=r["reason"],
        rider_id=r["rider_id"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        compartments={int(n): c for n, c in r["compartments"].items()},
    )


class GroupTripRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, deal_id: str, *, lock: bool = False) -> GroupTrip | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM group_trips WHERE deal_id = $1" + (" FOR UPDATE" if lock else ""), deal_id
        )
        return _trip(row) if row else None

    async def add(self, trip: GroupTrip, now: datetime) -> bool:
        """False when the deal has its trip already (a redelivered GroupBuyClosed)."""
        added = await self.conn.fetchval(
            "INSERT INTO group_trips (deal_id, store_id, leader, kind, status, bags, compartments, pickup_name, "
            "lat, lon, site_id, window_start, window_end, weight_g, vehicle, reason, rider_id, created_at, "
            "updated_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7::jsonb,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$18) "
            "ON CONFLICT (deal_id) DO NOTHING RETURNING true",
            trip.deal_id,
            trip.store_id,
            trip.leader,
            trip.kind,
            trip.status.value,
            [{"number": b.number, "holder": b.holder, "joined_by": b.joined_by} for b in trip.bags],
            {str(n): c for n, c in trip.compartments.items()},
            trip.pickup_name,
            trip.lat,
            trip.lon,
            trip.site_id,
            trip.window_start,
            trip.window_end,
            trip.weight_g,
            trip.vehicle,
            trip.reason,
            trip.rider_id,
            now,
        )
        trip.created_at = trip.updated_at = now
        return bool(added)

    async def save(self, trip: GroupTrip, now: datetime) -> None:
        await self.conn.execute(
            "UPDATE group_trips SET status = $2, compartments = $3::jsonb, weight_g = $4, vehicle = $5, "
            "reason = $6, rider_id = $7, updated_at = $8 WHERE deal_id = $1",
            trip.deal_id,
            trip.status.value,
            {str(n): c for n, c in trip.compartments.items()},
            trip.weight_g,
            trip.vehicle,
            trip.reason,
            trip.rider_id,
            now,
        )
        trip.updated_at = now
