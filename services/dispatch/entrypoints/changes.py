"""Running dispatch use cases from HTTP: once per Idempotency-Key, in one transaction with their
events; refusals become 4xx answers; live notes go to the Redis streams after the commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from services.dispatch.adapters.live import LiveNote, append
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.domain.delivery import Forbidden, Missing, NotFound, Refused, WrongCode
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of

ERRORS: dict[type[Exception], int] = {
    NotFound: 404,
    Forbidden: 403,
    Refused: 409,
    WrongCode: 422,
    Missing: 422,
    ValueError: 422,
    asyncpg.exceptions.UniqueViolationError: 409,
}

UseCase = Callable[[UnitOfWork], Awaitable[Any]]


def uow_for(request: Request, conn: asyncpg.Connection) -> UnitOfWork:
    runtime = runtime_of(request)
    return UnitOfWork(conn, runtime.settings, positions=RiderPositions(runtime.redis))


async def run_change(
    request: Request, principal: Principal, key: str | None, body: Any, use_case: UseCase, status: int = 200
) -> JSONResponse:
    notes: list[LiveNote] = []

    async def change(conn: asyncpg.Connection) -> Any:
        uow = uow_for(request, conn)
        result = await use_case(uow)
        notes.extend(uow.live)
        return result if result is not None else {"ok": True}

    code, response = await change_once(
        runtime_of(request).pool,
        principal.key,
        check_key(key, required=False),
        request_hash(request.method, request.url.path, body),
        change,
        ERRORS,
        status,
    )
    await append(runtime_of(request).redis, notes)
    return JSONResponse(response, status_code=code)


async def read(request: Request, use_case: UseCase) -> Any:
    async with runtime_of(request).pool.acquire() as conn:
        try:
            return await use_case(uow_for(request, conn))
        except tuple(ERRORS) as e:
            raise HTTPException(next(c for cls, c in ERRORS.items() if isinstance(e, cls)), str(e)) from e
