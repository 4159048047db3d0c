"""Idempotency-Key: a retried request gets the first answer instead of a second effect.

The key is claimed in the same transaction as the request's effects. A concurrent duplicate
blocks on the claim until the first commits, then reads its answer; if the first failed and
rolled back, the duplicate simply runs. The same key with a different body is a client bug
and gets 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from fastapi import HTTPException

Action = Callable[[asyncpg.Connection], Awaitable[tuple[int, Any]]]

MAX_KEY_LENGTH = 200


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps({"m": method, "p": path, "b": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None, required: bool) -> str | None:
    if key is None:
        if required:
            raise HTTPException(
                400, "send an Idempotency-Key header (for example a UUID) so that a retried request cannot act twice"
            )
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise HTTPException(400, f"the Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    return key


async def run_once(
    pool: asyncpg.Pool, principal: str, key: str | None, fingerprint: str, action: Action
) -> tuple[int, Any]:
    """Run `action` in a transaction at most once per (principal, key); replay its answer after."""
    async with pool.acquire() as conn, conn.transaction():
        if key is None:
            return await action(conn)
        claimed = await conn.fetchval(
            "INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING true",
            principal,
            key,
            fingerprint,
        )
        if not claimed:
            row = await conn.fetchrow(
                "SELECT request_hash, status_code, response FROM idempotency_keys WHERE principal = $1 AND key = $2",
                principal,
                key,
            )
            assert row is not None
            if row["request_hash"] != fingerprint:
                raise HTTPException(
                    409,
                    "this Idempotency-Key was already used for a different request; use a new key for a new request",
                )
            return int(row["status_code"]), row["response"]
        status, response = await action(conn)
        await conn.execute(
            "UPDATE idempotency_keys SET status_code = $3, response = $4::jsonb WHERE principal = $1 AND key = $2",
            principal,
            key,
            status,
            response,
        )
        return status, response


Change = Callable[[asyncpg.Connection], Awaitable[Any]]


async def change_once(
    pool: asyncpg.Pool,
    principal: str,
    key: str | None,
    fingerprint: str,
    change: Change,
    errors: Mapping[type[Exception], int],
    status: int = 200,
) -> tuple[int, Any]:
    """`run_once` for a use case: its refusals become HTTP errors that roll back and free the key."""

    async def action(conn: asyncpg.Connection) -> tuple[int, Any]:
        try:
            return status, await change(conn)
        except tuple(errors) as e:
            code = next(code for cls, code in errors.items() if isinstance(e, cls))
            raise HTTPException(code, str(e)) from e

    return await run_once(pool, principal, key, fingerprint, action)
