"""Every state-changing route runs its use case once per Idempotency-Key, in one transaction
with the events it publishes; the use case's refusals become 4xx answers that roll it all back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from fastapi import Request
from fastapi.responses import JSONResponse

from services.inventory.adapters.stock_repository import Shortage
from services.inventory.domain.fulfilment import BadRequest, FulfilmentRefused, NotFound
from services.inventory.domain.stock import ReservationRefused
from services.inventory.service_layer.catalog import AlreadyExists, CatalogProblem
from services.inventory.service_layer.policy import Policy
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of

ERRORS: dict[type[Exception], int] = {
    NotFound: 404,
    FulfilmentRefused: 409,
    ReservationRefused: 409,
    Shortage: 409,
    AlreadyExists: 409,
    BadRequest: 422,
    CatalogProblem: 422,
    ValueError: 422,
    asyncpg.exceptions.UniqueViolationError: 409,  # two requests creating the same thing at once
}

UseCase = Callable[[UnitOfWork], Awaitable[Any]]


def policy_of(request: Request) -> Policy:
    return Policy.from_settings(runtime_of(request).settings)


async def run_change(
    request: Request, principal: Principal, key: str | None, body: Any, use_case: UseCase, status: int = 200
) -> JSONResponse:
    """Run `use_case` once; its result (or {"ok": true}) is the answer, replayed for a retried key."""

    async def change(conn: Any) -> Any:
        result = await use_case(UnitOfWork(conn))
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
    return JSONResponse(response, status_code=code)
