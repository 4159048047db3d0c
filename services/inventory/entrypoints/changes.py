"""Every state-changing route runs its use case once per Idempotency-Key, in one unit of work
with the events it publishes; a refusal rolls it all back (and frees the key for a retry)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.inventory.domain.catalog import LocationChanges, ProductChanges
from services.inventory.entrypoints.answers import Ok
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.auth import Principal
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of
from shared.vocabulary.units import StockUnit


def unit_of_work(request: Request, *, readonly: bool = False) -> InventoryUnitOfWork:
    """The request's unit of work: `async with unit_of_work(request) as uow:` around one use case."""
    return cast(InventoryUnitOfWork, runtime_of(request).unit_of_work(readonly=readonly))


def location_changes(body: BaseModel, names: Iterable[str]) -> LocationChanges:
    """The named fields of a request body as a change of a location (the others are kept)."""
    return LocationChanges(**{name: getattr(body, name) for name in names})


def product_changes(body: BaseModel, names: Iterable[str]) -> ProductChanges:
    """The named fields of a request body as a change of a product (the others are kept)."""
    values = {name: getattr(body, name) for name in names}
    if values.get("unit") is not None:
        values["unit"] = StockUnit(values["unit"])
    return ProductChanges(**values)


async def answered_ok(done: Awaitable[object]) -> None:
    """For a change whose route answers {"ok": true}, whatever its use case returns."""
    await done


Change = Callable[[InventoryUnitOfWork], Awaitable[BaseModel | None]]


async def run_change(
    request: Request, principal: Principal, key: str | None, body: Any, change: Change, status: int = 200
) -> JSONResponse:
    """Run `change` once; its answer (or {"ok": true}) is the JSON, replayed for a retried key."""
    runtime = runtime_of(request)

    async def once(uow: Any) -> Any:
        answer = await change(uow)
        return (answer or Ok()).model_dump(mode="json")

    code, response = await change_once(
        runtime.unit_of_work,
        principal.key,
        check_key(key, required=False),
        request_hash(request.method, request.url.path, body),
        once,
        status,
    )
    return JSONResponse(response, status_code=code)
