"""The staff registry in PostgreSQL: live entries, and revoked ones kept with who revoked them and when."""

from __future__ import annotations

import asyncpg

from services.inventory.domain.staff_registry import StaffEntry


def _entry(r: asyncpg.Record) -> StaffEntry:
    return StaffEntry(
        location_id=r["location_id"],
        subject=r["subject"],
        granted_by=r["granted_by"],
        granted_at=r["granted_at"],
        revoked_by=r["revoked_by"],
        revoked_at=r["revoked_at"],
    )


class StaffRegistryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock(self, location_id: str) -> None:
        """Changes of one location's registry wait for each other, so each publishes the list as it committed."""
        await self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('staff-registry:' || $1))", location_id)

    async def registered(self, location_id: str) -> set[str]:
        """The subjects with a live entry for this location (read at every request: a revocation counts at once)."""
        rows = await self.conn.fetch(
            "SELECT subject FROM staff_registry WHERE location_id = $1 AND revoked_at IS NULL", location_id
        )
        return {r["subject"] for r in rows}

    async def register(self, location_id: str, subject: str, actor: str) -> tuple[StaffEntry, bool]:
        """The live entry (created now unless there is one already) and whether it was created."""
        row = await self.conn.fetchrow(
            "INSERT INTO staff_registry (location_id, subject, granted_by) VALUES ($1, $2, $3) "
            "ON CONFLICT (location_id, subject) WHERE revoked_at IS NULL DO NOTHING RETURNING *",
            location_id,
            subject,
            actor,
        )
        if row is not None:
            return _entry(row), True
        row = await self.conn.fetchrow(
            "SELECT * FROM staff_registry WHERE location_id = $1 AND subject = $2 AND revoked_at IS NULL",
            location_id,
            subject,
        )
        return _entry(row), False

    async def revoke(self, location_id: str, subject: str, actor: str) -> StaffEntry | None:
        row = await self.conn.fetchrow(
            "UPDATE staff_registry SET revoked_by = $3, revoked_at = now() "
            "WHERE location_id = $1 AND subject = $2 AND revoked_at IS NULL RETURNING *",
            location_id,
            subject,
            actor,
        )
        return _entry(row) if row is not None else None

    async def entries(self, location_id: str | None, *, with_revoked: bool) -> list[StaffEntry]:
        rows = await self.conn.fetch(
            "SELECT * FROM staff_registry WHERE ($1::text IS NULL OR location_id = $1) "
            "AND ($2 OR revoked_at IS NULL) ORDER BY location_id, granted_at, id",
            location_id,
            with_revoked,
        )
        return [_entry(r) for r in rows]
