"""What the operator console reads and changes in inventory (admins only): every location with how it
works, and bringing a market onto Linli with its stalls in one step.

`PUT /admin/markets/{id}` writes the market and every stall it lists in one transaction (each stall
also through the rules `PUT /admin/locations` applies), so an onboarding either lands whole or is
refused with the reason and nothing written. Every location written goes on the record of changes.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import ConfigDict, Field, model_validator

from services.inventory.domain.catalog import OPERATING, LocationChanges
from services.inventory.entrypoints.answers import LocationAnswer, location_answer
from services.inventory.entrypoints.changes import location_changes, unit_of_work
from services.inventory.entrypoints.http import ID_PATTERN, LOCATION_FIELDS, LocationBody, check_id
from services.inventory.service_layer import catalog
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.audit import summary
from shared.auth import Principal, require
from shared.errors import Conflict, Invalid
from shared.requests import changed_once
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.roles import Role

router = APIRouter(tags=["operator console"])
Admin = Depends(require(Role.ADMIN))


class StallBody(LocationBody):
    """A stall of the market; its kind and parent are the market's to say."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN.pattern)
    kind: Literal["stall"] = "stall"


class MarketBody(LocationBody):
    """The market, and the stalls it has (stalls not listed are left as they are)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["market"] = "market"
    stalls: list[StallBody] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _each_stall_once(self) -> MarketBody:
        if self.parent_id is not None:
            raise ValueError("a market has no parent_id")
        ids = [s.id for s in self.stalls]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"stall ids listed twice: {', '.join(twice)}")
        for stall in self.stalls:
            if stall.parent_id is not None:
                raise ValueError(f"stall {stall.id}: leave out parent_id (it is a stall of this market)")
        return self


@router.get("/admin/locations")
async def every_location(request: Request, _: Principal = Admin) -> list[LocationAnswer]:
    """Every shop, market and stall with how it works (hours, fees, limits, position), active or not."""
    async with unit_of_work(request, readonly=True) as uow:
        return [location_answer(loc) for loc in await uow.locations.stores()]


def _changes(body: LocationBody, parent_id: str | None) -> LocationChanges:
    """What the body says; operating fields left out keep their value, as PUT /admin/locations does."""
    names = [n for n in LOCATION_FIELDS if n not in OPERATING or n in body.model_fields_set]
    return dataclasses.replace(location_changes(body, names), parent_id=parent_id)


async def _put(
    uow: InventoryUnitOfWork, principal: Principal, location_id: str, kind: LocationKind, changes: LocationChanges
) -> None:
    before = await uow.locations.get(location_id)
    if kind is LocationKind.STALL and before is not None and before.parent_id != changes.parent_id:
        raise Conflict(f"stall {location_id!r} belongs to {before.parent_id!r}, not to {changes.parent_id!r}")
    after = await catalog.upsert_location(uow, location_id, kind, changes)
    action = "created" if before is None else "updated"
    await uow.audit.record(principal, "location", location_id, action, summary(before), summary(after))


@router.put("/admin/markets/{market_id}", response_model=list[LocationAnswer])
async def put_market(
    market_id: str,
    body: MarketBody,
    request: Request,
    principal: Principal = Admin,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JSONResponse:
    """Create or update a market and its stalls in one transaction; any refusal writes nothing."""
    check_id(market_id, "location")
    if market_id in {s.id for s in body.stalls}:
        raise Invalid(f"a stall cannot have the market's id {market_id!r}")

    async def put(uow: InventoryUnitOfWork) -> list[LocationAnswer]:
        await _put(uow, principal, market_id, LocationKind.MARKET, _changes(body, None))
        for stall in body.stalls:
            await _put(uow, principal, stall.id, LocationKind.STALL, _changes(stall, market_id))
        written = await uow.locations.get_many([market_id, *(s.id for s in body.stalls)])
        return [location_answer(written[i]) for i in [market_id, *(s.id for s in body.stalls)]]

    return await changed_once(request, principal, idempotency_key, body.model_dump(mode="json"), put)
