"""What the reports read: one fact per order, line or rating of the orders placed in a period.

Nothing here is stored for the reports alone: the moments come from each order's timeline (the
first entry that moved it to ACCEPTED, DELIVERED, IN_LOCKER, READY_FOR_PICKUP or DELIVERY_FAILED,
and the first promise dispatch or the checkout gave), the rest from the order, its lines and its
rating. `scope` narrows to one shop, market or stall: the orders of it, or with a line at it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.orders.domain.reports import LineFact, OrderFact, RatingFact

ORDER_FACTS = """
SELECT o.id, o.store_id, o.fulfilment->>'mode' AS mode, o.status, o.created_at,
    o.placed_by_role = 'helper' AND o.placed_by <> o.placed_for AS by_helper,
    EXISTS (SELECT 1 FROM residents r WHERE r.resident_id = o.placed_for) AS for_resident,
    coalesce((o.flags->>'call_before_delivery')::boolean, false) AS call_before,
    coalesce((o.delivery->>'promised_at')::timestamptz, (o.slot->>'end')::timestamptz) AS promised_at,
    m.accepted_at, m.delivered_at, m.in_locker_at, m.ready_at, m.failed_at, m.first_promised_at
FROM orders o
CROSS JOIN LATERAL (
    SELECT min(t.at) FILTER (WHERE t.status = 'ACCEPTED') AS accepted_at,
        min(t.at) FILTER (WHERE t.status = 'DELIVERED') AS delivered_at,
        min(t.at) FILTER (WHERE t.status = 'IN_LOCKER') AS in_locker_at,
        min(t.at) FILTER (WHERE t.status = 'READY_FOR_PICKUP') AS ready_at,
        min(t.at) FILTER (WHERE t.status = 'DELIVERY_FAILED') AS failed_at,
        ((array_agg(t.detail->>'promised_at' ORDER BY t.seq)
            FILTER (WHERE t.detail->>'step' = 'delivery_promised' AND t.detail ? 'promised_at'))[1])::timestamptz
            AS first_promised_at
    FROM order_timeline t WHERE t.order_id = o.id
) m
WHERE o.created_at >= $1 AND o.created_at < $2
    AND ($3::text IS NULL OR o.store_id = $3
        OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.location_id = $3))
ORDER BY o.created_at, o.id
"""

LINE_FACTS = """
SELECT l.order_id, o.store_id, l.location_id, l.product_id, l.name_zh, l.name_en, l.quantity, l.estimated_fen,
    l.status, coalesce((l.substitute->>'accepted')::boolean = false, false) AS substitute_declined
FROM order_lines l JOIN orders o ON o.id = l.order_id
WHERE o.created_at >= $1 AND o.created_at < $2 AND ($3::text IS NULL OR o.store_id = $3 OR l.location_id = $3)
ORDER BY o.created_at, l.order_id, l.line_no
"""

RATING_FACTS = """
SELECT o.store_id, r.shop_stars, r.rider_stars
FROM order_ratings r JOIN orders o ON o.id = r.order_id
WHERE o.created_at >= $1 AND o.created_at < $2
    AND ($3::text IS NULL OR o.store_id = $3
        OR EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.id AND l.location_id = $3))
"""

# Where an order is at the shopper's disposal, by mode (domain.reports.DOOR).
_DOOR = {"delivery": "delivered_at", "locker": "in_locker_at", "pickup": "ready_at"}


class ReportFacts:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def orders(self, start: datetime, end: datetime, scope: str | None) -> list[OrderFact]:
        rows = await self.conn.fetch(ORDER_FACTS, start, end, scope)
        return [
            OrderFact(
                order_id=r["id"],
                store_id=r["store_id"],
                mode=r["mode"],
                status=r["status"],
                placed_at=r["created_at"],
                accepted_at=r["accepted_at"],
                door_at=r[_DOOR[r["mode"]]] if r["mode"] in _DOOR else None,
                failed_at=r["failed_at"],
                promised_at=r["promised_at"],
                first_promised_at=r["first_promised_at"],
                by_helper=r["by_helper"],
                for_resident=r["for_resident"],
                call_before=r["call_before"],
            )
            for r in rows
        ]

    async def lines(self, start: datetime, end: datetime, scope: str | None) -> list[LineFact]:
        rows = await self.conn.fetch(LINE_FACTS, start, end, scope)
        return [LineFact(**dict(r)) for r in rows]

    async def ratings(self, start: datetime, end: datetime, scope: str | None) -> list[RatingFact]:
        rows = await self.conn.fetch(RATING_FACTS, start, end, scope)
        return [RatingFact(**dict(r)) for r in rows]
