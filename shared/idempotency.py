"""Idempotency-Key: a retried request gets the first answer instead of a second effect.

The key is claimed in the same transaction as the request's effects. A concurrent duplicate
blocks on the claim until the first commits, then reads its answer; if the first failed and
rolled back, the duplicate simply runs. The same key with a different body is a client bug
and gets 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from shared.errors import Conflict, Invalid, Refusal

if TYPE_CHECKING:
    from shared.unit_of_work import UnitOfWork

MAX_KEY_LENGTH = 200


class BadIdempotencyKey(Invalid):
    """A missing or unusable Idempotency-Key header: a request-level mistake, answered 400."""

    status_code = 400


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps({"m": method, "p": path, "b": body}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str | None, required: bool) -> str | None:
    if key is None:
        if required:
            raise BadIdempotencyKey(
                "send an Idempotency-Key header (for example a UUID) so that a retried request cannot act twice"
            )
        return None
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH:
        raise BadIdempotencyKey(f"the Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    return key


class IdempotencyKeys(Protocol):
    async def claim(self, principal: str, key: str, fingerprint: str) -> bool: ...
    async def answer(self, principal: str, key: str) -> tuple[str, int, Any]: ...
    async def remember(self, principal: str, key: str, status: int, response: Any) -> None: ...


class PostgresIdempotencyKeys:
    """The keys repository of one unit of work."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def claim(self, principal: str, key: str, fingerprint: str) -> bool:
        """Claim the key; a concurrent claimer waits here until the first one's transaction ends."""
        claimed = await self.conn.fetchval(
            "INSERT INTO idempotency_keys (principal, key, request_hash) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING true",
            principal,
            key,
            fingerprint,
        )
        return bool(claimed)

    async def answer(self, principal: str, key: str) -> tuple[str, int, Any]:
        row = await self.conn.fetchrow(
            "SELECT request_hash, status_code, response FROM idempotency_keys WHERE principal = $1 AND key = $2",
            principal,
            key,
        )
        assert row is not None
        return row["request_hash"], int(row["status_code"]), row["response"]

    async def remember(self, principal: str, key: str, status: int, response: Any) -> None:
        await self.conn.execute(
            "UPDATE idempotency_keys SET status_code = $3, response = $4::jsonb WHERE principal = $1 AND key = $2",
            principal,
            key,
            status,
            response,
        )


Change = Callable[[Any], Awaitable[Any]]


async def change_once(
    unit_of_work: Callable[[], UnitOfWork],
    principal: str,
    key: str | None,
    fingerprint: str,
    change: Change,
    status: int = 200,
) -> tuple[int, Any]:
    """Run `change(uow)` at most once per (principal, key) and replay its JSON answer after.

    The key is claimed in the change's own unit of work: a refusal (any exception) rolls the
    claim back with the effects, so the key is free again for a corrected retry. A refusal that
    `commits` (a wrong code, counted) is kept as the key's answer instead.
    """
    async with unit_of_work() as uow:
        keys = uow.idempotency
        if key is not None and not await keys.claim(principal, key, fingerprint):
            first_hash, first_status, first_answer = await keys.answer(principal, key)
            if first_hash != fingerprint:
                raise Conflict(
                    "this Idempotency-Key was already used for a different request; use a new key for a new request"
                )
            return first_status, first_answer
        try:
            response = await change(uow)
        except Refusal as refusal:
            if refusal.commits and key is not None:
                await keys.remember(principal, key, refusal.status_code, refusal.body())
            raise
        if key is not None:
            await keys.remember(principal, key, status, response)
        return status, response
