"""Every state-changing route runs its use case once per Idempotency-Key, in one unit of work
with the events it publishes; a refusal rolls it all back (and frees the key for a retry)."""

from __future__ import annotations

from collections.abc import Awaitable, Iterable
from typing import cast

from fastapi import Request
from pydantic import BaseModel

from services.inventory.domain.catalog import LocationChanges, ProductChanges
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared import requests
from shared.vocabulary.units import StockUnit


def unit_of_work(request: Request, *, readonly: bool = False) -> InventoryUnitOfWork:
    """The request's unit of work: `async with unit_of_work(request) as uow:` around one use case."""
    return cast(InventoryUnitOfWork, requests.unit_of_work(request, readonly=readonly))


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
