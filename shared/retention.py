"""Housekeeping: the outbox, inbox, deadlines and idempotency tables would otherwise grow forever.

Each row is kept as long as it can still matter. A published outbox row only helps someone
reading history. An inbox row must outlive every redelivery of its event, so keep it longer
than the topics retain messages (Kafka's default is 7 days) and longer than any dead letter
waits for replay: a duplicate that arrives after its inbox row is gone would apply again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import asyncpg

from shared.background import BackgroundLoop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retention:
    outbox_h: float = 72
    inbox_h: float = 24 * 14
    deadlines_h: float = 72
    idempotency_h: float = 48


async def sweep(pool: asyncpg.Pool, keep: Retention) -> dict[str, int]:
    """Delete what has outlived its use; returns how many rows went from each table."""
    statements = {
        "outbox": ("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)", keep.outbox_h),
        "inbox": ("DELETE FROM inbox WHERE received_at < now() - make_interval(secs => $1)", keep.inbox_h),
        "deadlines": (
            "DELETE FROM deadlines WHERE coalesce(fired_at, cancelled_at) < now() - make_interval(secs => $1)",
            keep.deadlines_h,
        ),
        "idempotency_keys": (
            "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
            keep.idempotency_h,
        ),
    }
    removed = {}
    for table, (sql, hours) in statements.items():
        result = await pool.execute(sql, hours * 3600)
        removed[table] = int(result.split()[-1])
    return removed


class Housekeeper(BackgroundLoop):
    name = "housekeeping"

    def __init__(self, pool: asyncpg.Pool, keep: Retention, interval_s: float) -> None:
        super().__init__(interval_s)
        self.pool, self.keep = pool, keep

    async def round(self) -> None:
        removed = await sweep(self.pool, self.keep)
        if any(removed.values()):
            log.info("housekeeping removed %s", removed)
