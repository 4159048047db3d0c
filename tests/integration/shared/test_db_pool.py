"""The services' pool: how PostgreSQL plans the statements the hot paths run on every order."""

from __future__ import annotations

import asyncpg

# The shape of the batch handlers' reads: one bind value, an array of keys.
BY_KEYS = "SELECT count(*) FROM outbox WHERE key = any($1::text[])"


async def test_a_pooled_connection_plans_a_repeated_statement_once_not_on_every_run(pool: asyncpg.Pool) -> None:
    """PostgreSQL's default plans each of the first five runs afresh, and goes on doing so while
    it guesses the generic plan costlier; the pool asks for the generic plan from the first run."""
    async with pool.acquire() as conn:
        for n in range(8):
            await conn.fetchval(BY_KEYS, [f"order-{n}", "order-x"])
        planned = await conn.fetchrow(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1", BY_KEYS
        )
    assert planned is not None, "the statement was not kept prepared on the connection"
    assert (planned["custom_plans"], planned["generic_plans"]) == (0, 8)
