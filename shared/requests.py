"""Running a use case for an HTTP request, the same way in every service.

A request's unit of work carries the caller's `X-Correlation-Id` into the events it publishes.
A change runs at most once per Idempotency-Key (`shared.idempotency.change_once`), its answer
stored with the key and replayed for a retry; the fingerprint is the method, the path and the
body, so the same key with another body is refused. Refusals are not caught here: the one
handler in `build_app` answers them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.auth import Principal
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of
from shared.unit_of_work import UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


def unit_of_work(request: Request, *, readonly: bool = False) -> UnitOfWork:
    """The running service's unit of work for one request."""
    return runtime_of(request).unit_of_work(correlation_id=request.headers.get("x-correlation-id"), readonly=readonly)


def as_json(answer: Any) -> Any:
    """An answer model (or a list of them) as JSON; None is `{"ok": true}`."""
    if answer is None:
        return {"ok": True}
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json")
    if isinstance(answer, list):
        return [as_json(a) for a in answer]
    return answer


async def changed_once(
    request: Request,
    principal: Principal,
    key: str | None,
    body: Any,
    change: Callable[[Any], Awaitable[Any]],
    status: int = 200,
    *,
    key_required: bool = False,
) -> JSONResponse:
    """Run `change(uow)` once per (caller, Idempotency-Key); a retry is answered what the first was."""

    async def once(uow: UnitOfWork) -> Any:
        return as_json(await change(uow))

    fingerprint = request_hash(request.method, request.url.path, body)
    answered, answer = await change_once(
        lambda: unit_of_work(request),
        principal.key,
        check_key(key, required=key_required),
        fingerprint,
        once,
        status,
    )
    return JSONResponse(answer, status_code=answered)
