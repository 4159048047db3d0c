"""Leadership among a service's instances: a PostgreSQL session advisory lock on a connection of its own.

The lock is held as long as the connection lives, so an instance that dies (even by SIGKILL) frees
it as soon as PostgreSQL sees the connection go; another instance takes it on its next try. The
outbox relay leads the same way (shared/outbox.py).
"""

from __future__ import annotations

import contextlib
import logging
import time
import zlib

import asyncpg

log = logging.getLogger(__name__)


def lock_id(name: str) -> int:
    return zlib.crc32(f"linli-leader:{name}".encode())


class Leadership:
    """`await leads()` is True while this instance holds the lock; it tries again at most every `retry_s`,
    on the same connection (no new PostgreSQL session per try)."""

    def __init__(self, database_url: str, name: str, *, retry_s: float = 2.0) -> None:
        self.database_url = database_url
        self.name = name
        self.retry_s = retry_s
        self._conn: asyncpg.Connection | None = None
        self._held = False
        self._tried_at: float | None = None

    @property
    def is_leader(self) -> bool:
        return self._held and self._conn is not None and not self._conn.is_closed()

    async def leads(self) -> bool:
        if self.is_leader:
            return True
        if self._held:  # the connection went, and the lock with it
            log.warning("%s: lost the leader's lock", self.name)
            await self.release()
        now = time.monotonic()
        if self._tried_at is not None and now - self._tried_at < self.retry_s:
            return False
        self._tried_at = now
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.database_url)
        try:
            self._held = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_id(self.name)))
        except Exception:
            await self.release()
            raise
        if self._held:
            log.info("%s: this instance leads", self.name)
        return self._held

    async def release(self) -> None:
        """Give the lock up (closing the connection frees it)."""
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
