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


@pytest.fixture
async def database_url(infra: Infrastructure) -> AsyncIterator[str]:
    """A new, migrated database for one test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = infra.database_url.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    conn = await db.connect(url)
    await db.migrate(conn, [db.SHARED_MIGRATIONS])
    await conn.close()
    try:
        yield url
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
