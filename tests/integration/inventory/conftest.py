"""Inventory's integration fixtures, once: a seeded database, its runtime, and the routes over HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.inventory.entrypoints.app import SPEC
from services.inventory.entrypoints.catalog_http import router as catalog_router
from services.inventory.entrypoints.http import router
from services.inventory.entrypoints.staff_http import router as staff_router
from shared import db
from shared.service import Runtime, install_error_handlers
from shared.stack import Infrastructure
from tests.integration.inventory.support import SETTINGS, seed
from tests.runtime import runtime_for


@pytest.fixture
async def inv(pool: asyncpg.Pool) -> asyncpg.Pool:
    """A migrated inventory database with a shop and a market of two stalls, and their products."""
    await seed(pool)
    return pool


@pytest.fixture
async def twin(infra: Infrastructure) -> AsyncIterator[asyncpg.Pool]:
    """A second database seeded as `inv` is, to apply the same events another way and compare the two."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{infra.database_url.rsplit('/', 1)[0]}/{name}"
    conn = await db.connect(url)
    await db.migrate(conn, [db.SHARED_MIGRATIONS])
    await conn.close()
    pool = await db.create_pool(url, 1, 10)
    try:
        await seed(pool)
        yield pool
    finally:
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def runtime(inv: asyncpg.Pool) -> Runtime:
    return runtime_for(SPEC, SETTINGS, inv)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """Inventory's JSON routes in process (no broker, no lifespan)."""
    application = FastAPI()
    application.state.settings = SETTINGS
    application.state.runtime = runtime
    install_error_handlers(application)
    for r in (router, catalog_router, staff_router):
        application.include_router(r)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://inventory") as c:
        yield c
