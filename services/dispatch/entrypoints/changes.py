"""Running dispatch use cases from HTTP: a change once per Idempotency-Key, in one unit of work with
its events (live notes follow the commit); a read in a read-only one. Refusals are mapped to HTTP by
build_app's one handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.auth import Principal
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of

T = TypeVar("T")
A = TypeVar("A", bound=BaseModel)
Answer = BaseModel | list[BaseModel]


def _json(answer: Answer) -> Any:
    if isinstance(answer, list):
        return [a.model_dump(mode="json") for a in answer]
    return answer.model_dump(mode="json")


async def run_change(  # the request, who asks, their key and body, the change
    request: Request,
    principal: Principal,
    key: str | None,
    body: Any,
    change: Callable[[DispatchUnitOfWork], Awaitable[Answer]],
    status: int = 200,
) -> JSONResponse:
    runtime = runtime_of(request)

    async def once(uow: Any) -> Any:
        return _json(await change(cast(DispatchUnitOfWork, uow)))

    code, response = await change_once(
        runtime.unit_of_work,
        principal.key,
        check_key(key, required=False),
        request_hash(request.method, request.url.path, body),
        once,
        status,
    )
    return JSONResponse(response, status_code=code)


async def read(request: Request, use_case: Callable[[DispatchUnitOfWork], Awaitable[T]]) -> T:
    async with runtime_of(request).unit_of_work(readonly=True) as uow:
        return await use_case(cast(DispatchUnitOfWork, uow))


async def then(result: Awaitable[T], shape: Callable[[T], A]) -> A:
    """The use case's result shaped into its answer."""
    return shape(await result)
