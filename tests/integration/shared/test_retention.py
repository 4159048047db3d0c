"""Housekeeping removes only what can no longer matter."""

from __future__ import annotations

import uuid

from shared import outbox
from shared.events.envelope import envelope
from shared.retention import Retention, sweep
from tests.integration.conftest import ParcelNoted


async def test_sweep_keeps_pending_and_recent_rows(pool) -> None:
    for pid in ("old-sent", "new-sent", "old-pending"):
        async with pool.acquire() as conn, conn.transaction():
            await outbox.record(conn, envelope(ParcelNoted(parcel_id=pid)), "itest")
    await pool.execute("UPDATE outbox SET created_at = now() - interval '10 days'")
    await pool.execute("UPDATE outbox SET published_at = now() - interval '5 days' WHERE key = 'old-sent'")
    await pool.execute("UPDATE outbox SET published_at = now() WHERE key = 'new-sent'")
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, topic, event_type, received_at) VALUES "
        "('c', $1, 't', 'X', now() - interval '30 days'), ('c', $2, 't', 'X', now())",
        uuid.uuid4(),
        uuid.uuid4(),
    )
    removed = await sweep(pool, Retention(outbox_h=72, inbox_h=24 * 14))
    assert removed["outbox"] == 1
    assert removed["inbox"] == 1
    left = {r["key"] for r in await pool.fetch("SELECT key FROM outbox")}
    assert left == {"new-sent", "old-pending"}, "an unpublished event is never swept, however old"
    assert await pool.fetchval("SELECT count(*) FROM inbox") == 1
