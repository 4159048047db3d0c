"""What the assignment rounds remember between rounds, in PostgreSQL (migration 009): the held
orders with their hold clock and comparison, and the orders whose undeliverable alert was raised.

Kept in the database rather than in a process, so that a round on any instance (rounds take
turns at the round lock) sees the same hold clock, and an alert is raised once whichever instance
sees the order first, across restarts too.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import asyncpg

from services.dispatch.domain.assignment import Hold, KeptHold


class RoundMemoryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def holds(self) -> dict[str, KeptHold]:
        rows = await self.conn.fetch("SELECT * FROM round_holds")
        return {
            r["order_id"]: KeptHold(
                Hold(
                    r["order_id"],
                    r["reason"],
                    r["rider_id"],
                    r["leaves_at"],
                    r["eta_door_at"],
                    r["hold_cost"],
                    r["send_now_rider"],
                    r["send_now_cost"],
                ),
                r["busy_since"],
            )
            for r in rows
        }

    async def keep(self, holds: Sequence[KeptHold], at: datetime) -> None:
        """These are the holds now: every other is forgotten, these are written as they are."""
        ids = [k.hold.order_id for k in holds]
        await self.conn.execute("DELETE FROM round_holds WHERE NOT (order_id = ANY($1::text[]))", ids)
        if not holds:
            return
        await self.conn.execute(
            """
            INSERT INTO round_holds (order_id, reason, rider_id, busy_since, leaves_at, eta_door_at,
                                     hold_cost, send_now_rider, send_now_cost, noted_at)
            SELECT o, r, rd, b, l, e, c, s, sc, $10
            FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                        $6::timestamptz[], $7::float8[], $8::text[], $9::float8[]) AS t(o, r, rd, b, l, e, c, s, sc)
            ON CONFLICT (order_id) DO UPDATE SET
                reason = excluded.reason, rider_id = excluded.rider_id, busy_since = excluded.busy_since,
                leaves_at = excluded.leaves_at, eta_door_at = excluded.eta_door_at, hold_cost = excluded.hold_cost,
                send_now_rider = excluded.send_now_rider, send_now_cost = excluded.send_now_cost,
                noted_at = excluded.noted_at
            """,
            ids,
            [k.hold.reason for k in holds],
            [k.hold.rider_id for k in holds],
            [k.busy_since for k in holds],
            [k.hold.leaves_at for k in holds],
            [k.hold.eta_door_at for k in holds],
            [k.hold.hold_cost for k in holds],
            [k.hold.send_now_rider for k in holds],
            [k.hold.send_now_cost for k in holds],
            at,
        )

    async def forget_holds_except(self, order_ids: Collection[str]) -> None:
        await self.conn.execute("DELETE FROM round_holds WHERE NOT (order_id = ANY($1::text[]))", list(order_ids))

    async def first_alert(self, order_id: str, at: datetime) -> bool:
        """Record the order's undeliverable alert; True only the first time (then the alert is raised)."""
        got = await self.conn.fetchval(
            "INSERT INTO undeliverable_alerts (order_id, raised_at) VALUES ($1, $2)"
            " ON CONFLICT (order_id) DO NOTHING RETURNING true",
            order_id,
            at,
        )
        return bool(got)

    async def forget_alerts_except(self, order_ids: Collection[str]) -> None:
        """An order no longer open loses its mark (were it open again, its alert would be raised again)."""
        await self.conn.execute(
            "DELETE FROM undeliverable_alerts WHERE NOT (order_id = ANY($1::text[]))", list(order_ids)
        )
