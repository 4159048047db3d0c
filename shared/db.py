"""PostgreSQL access through asyncpg: the pool, JSON codecs and per-service SQL migrations."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import asyncpg

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 7_351_001


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_as_is(conn: asyncpg.Connection) -> None:
    """Nothing to reset when a connection goes back to the pool (asyncpg's default costs a round trip).

    Linli leaves no session state on pooled connections: transactions end with their unit of
    work, session advisory locks taken on a pooled connection are released before it is given
    back (migrations, on_start), and what holds a lock or a LISTEN for long has a connection of
    its own (the relay, the live listeners, the simulator's leadership).
    """


# PostgreSQL plans a prepared statement afresh for its first five runs, then keeps a custom plan
# per run for as long as it estimates the generic one costlier. Linli's hot statements (placing's
# one read, the batch handlers' `= any($1)` reads) stayed custom, so the server planned them on
# every order: 0.5 ms of planning for placing's read, about 0.8 ms of PostgreSQL CPU per order in
# all (pg_stat_statements, 3 Dec 2026). A generic plan is made once per connection and statement;
# the same statements' execution times did not grow with it, and Linli's data per shop is small
# enough that no bind value needs a plan of its own.
SERVER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


async def create_pool(url: str, min_size: int = 2, max_size: int = 20) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_as_is,
        server_settings=SERVER_SETTINGS,
    )
    assert pool is not None
    return pool


async def connect(url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(url)
    await _init_connection(conn)
    return conn


async def migrate(conn: asyncpg.Connection, folders: Iterable[Path]) -> list[str]:
    """Apply every `*.sql` file not yet applied, in name order, once, under an advisory lock.

    The shared tables (outbox, inbox, deadlines, idempotency) come first, then the service's own.
    """
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for folder in folders:
            for path in sorted(folder.glob("*.sql")):
                name = f"{folder.parent.name}/{path.name}"
                if name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text())
                    await conn.execute("INSERT INTO schema_migrations(name) VALUES ($1)", name)
                applied.append(name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)
    return applied
