"""The embedded stack, started once per test session and shared by every level of test.

PostgreSQL, Redis and the broker come from wheels (or from DATABASE_URL, REDIS_URL and
KAFKA_BOOTSTRAP_SERVERS when set). Integration tests get a fresh database each and their own
topics; end-to-end tests get the three services as processes on free ports.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from shared import db
from shared.stack import Infrastructure, start_infrastructure

# Every cluster the tests start (the session's, the drills', --keep's) is thrown away afterwards:
# no disk flush per commit, per CREATE DATABASE or at the stop. A PostgreSQL crashed by a drill
# still recovers everything it committed (process crashes leave the WAL in the kernel's cache).
os.environ.setdefault("LINLI_PG_FSYNC", "off")


@pytest.fixture(scope="session")
def stack_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="linli-test-") as home:
        yield Path(home)


@pytest.fixture(scope="session")
def infra(stack_home: Path) -> Iterator[Infrastructure]:
    infrastructure = start_infrastructure(stack_home)
    try:
        yield infrastructure
    finally:
        infrastructure.stop()


SERVICES = Path(__file__).parents[1] / "services"
# A test of tests/integration/<service>/ asking for that service's fixture here gets a database
# already migrated for the service (the fixture's own migrate then finds nothing to do). Other
# tests, among them those that migrate from an older schema on purpose, get the shared tables
# only, as before.
MIGRATED_FOR = {"orders": "orders_pool", "inventory": "inv", "dispatch": "dispatch"}


@pytest.fixture(scope="session")
def templates() -> dict[tuple[str, ...], str]:
    """Migrated databases to copy, one per set of migration folders, made on first use."""
    return {}


async def _template(admin: asyncpg.Connection, base: str, folders: list[Path], made: dict[tuple[str, ...], str]) -> str:
    key = tuple(str(f) for f in folders)
    if key not in made:
        name = f"template_{uuid.uuid4().hex[:12]}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await db.connect(f"{base}/{name}")
        try:
            await db.migrate(conn, folders)
        finally:
            await conn.close()
        made[key] = name
    return made[key]


@pytest.fixture
async def database_url(
    infra: Infrastructure, templates: dict[tuple[str, ...], str], request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """A new, migrated database for one test, dropped afterwards: a copy of a template migrated once per
    session (CREATE DATABASE ... TEMPLATE copies files, where migrating runs every script again)."""
    folders = [db.SHARED_MIGRATIONS]
    service = request.path.parent.name
    if MIGRATED_FOR.get(service) in request.fixturenames:
        folders.append(SERVICES / service / "migrations")
    name = f"test_{uuid.uuid4().hex[:12]}"
    base = infra.database_url.rsplit("/", 1)[0]
    admin = await asyncpg.connect(infra.database_url)
    template = await _template(admin, base, folders, templates)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await db.create_pool(database_url, 1, 10)
    try:
        yield p
    finally:
        await p.close()
