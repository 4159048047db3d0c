"""Rider positions in real Redis: GEO with a last-seen time."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from services.dispatch.adapters import repository
from services.dispatch.adapters.repository import RiderPositions


async def test_positions_are_stored_and_read_back(infra, monkeypatch) -> None:
    suffix = uuid.uuid4().hex[:6]
    monkeypatch.setattr(repository, "POSITIONS", f"test:geo:{suffix}")
    monkeypatch.setattr(repository, "LAST_SEEN", f"test:seen:{suffix}")
    client = aioredis.from_url(infra.redis_url, decode_responses=True)
    try:
        positions = RiderPositions(client)
        await positions.update("rider-a", 32.0440, 118.7900, at=1000.0)
        found = await positions.positions(["rider-a", "rider-nobody"])
        assert found["rider-nobody"] is None
        a = found["rider-a"]
        assert a is not None
        assert abs(a.lat - 32.0440) < 1e-4
        assert abs(a.lon - 118.79) < 1e-4
        assert a.seen_at == 1000.0
    finally:
        await client.aclose()
