"""A group buy's trip as orders follows it, in PostgreSQL (migration 020)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg


@dataclass
class DealTrip:
    """How the bags reach the pickup point: dispatch's one trip, a compartment each, or the leader at the counter."""

    deal_id: str
    kind: str  # 'delivery', 'locker' or 'counter'
    status: str  # planned, open, at_pickup, arrived, refused (then collected at the counter), counter
    bags: int | None = None
    weight_g: int | None = None
    vehicle: str | None = None
    reason: str | None = None
    rider_id: str | None = None
    site_id: str | None = None
    counter_code: str | None = None
    compartments: dict[int, dict[str, Any]] = field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def on_its_way(self) -> bool:
        """Dispatch carries the bags and its rider has not reached the pickup point yet."""
        return self.kind in ("delivery", "locker") and self.status in ("planned", "open")


class GroupBuyTrips:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, deal_id: str, *, lock: bool = False) -> DealTrip | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM group_buy_trips WHERE deal_id = $1" + (" FOR UPDATE" if lock else ""), deal_id
        )
        if row is None:
            return None
        values = dict(row)
        values["compartments"] = {int(n): c for n, c in values["compartments"].items()}
        return DealTrip(**values)

    async def put(self, trip: DealTrip, now: datetime) -> None:
        await self.conn.execute(
            "INSERT INTO group_buy_trips (deal_id, kind, status, bags, weight_g, vehicle, reason, rider_id, site_id, "
            "counter_code, compartments, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12) "
            "ON CONFLICT (deal_id) DO UPDATE SET kind = excluded.kind, status = excluded.status, bags = excluded.bags, "
            "weight_g = excluded.weight_g, vehicle = excluded.vehicle, reason = excluded.reason, "
            "rider_id = excluded.rider_id, site_id = excluded.site_id, counter_code = excluded.counter_code, "
            "compartments = excluded.compartments, updated_at = excluded.updated_at",
            trip.deal_id,
            trip.kind,
            trip.status,
            trip.bags,
            trip.weight_g,
            trip.vehicle,
            trip.reason,
            trip.rider_id,
            trip.site_id,
            trip.counter_code,
            {str(n): c for n, c in trip.compartments.items()},
            now,
        )
        trip.updated_at = now

    async def is_deal(self, order_id: str) -> bool:
        """Whether an order id is a group buy's consolidated order (its id is the deal's)."""
        return bool(await self.conn.fetchval("SELECT true FROM group_buys WHERE id = $1", order_id))
