"""What the operator console reads and changes in orders (admins only): every resident and their helper,
every shopper's named helpers, and the live group-leader grants.

A helper registers the residents they order for under `POST /residents`; the service centre's
operator registers one for a helper here, names a family member as a shopper's helper, and lists
them all. Every change goes on the record of changes (`GET /admin/audit`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.orders.domain.helpers import Resident
from services.orders.entrypoints.answers import HelperNamed, ResidentAnswer
from services.orders.entrypoints.group_buys_http import LeaderGrantAnswer
from services.orders.entrypoints.http import unit_of_work
from services.orders.entrypoints.residents_http import ResidentDetails
from services.orders.service_layer import addresses
from services.orders.service_layer.group_buys import LeaderGrant
from shared.auth import Principal, require
from shared.errors import Invalid, NotFound
from shared.vocabulary.roles import Role

router = APIRouter(tags=["operator console"])
Admin = Depends(require(Role.ADMIN))
SHOPPER = Path(min_length=1, max_length=100, pattern=r"^[^\s/]+$", description="the shopper's account (subject)")
HELPER = Path(min_length=1, max_length=100, pattern=r"^[^\s/]+$", description="the helper's account (subject)")


class ResidentForHelper(ResidentDetails):
    helper: str = Field(
        min_length=1, max_length=100, pattern=r"^[^\s/]+$", description="the helper who orders for them"
    )


class NamedHelperRow(BaseModel):
    shopper: str
    helper: str
    named_at: datetime


@router.get("/admin/residents")
async def every_resident(
    request: Request,
    helper: str | None = Query(None, max_length=100, description="only this helper's residents"),
    _: Principal = Admin,
) -> list[ResidentAnswer]:
    """Every resident a helper orders for, by helper."""
    async with unit_of_work(request, readonly=True) as uow:
        return [ResidentAnswer.of(r) for r in await uow.residents.every(helper)]


@router.post("/admin/residents", status_code=201)
async def register_for_helper(
    body: ResidentForHelper, request: Request, principal: Principal = Admin
) -> ResidentAnswer:
    """Register a resident for a helper (the service centre's desk); the helper then orders for them."""
    details = body.model_dump(mode="json", exclude={"helper"})
    async with unit_of_work(request) as uow:
        details["address"] = await addresses.settled(uow, details["address"])
        answer = ResidentAnswer.of(await uow.residents.add(Resident.registered(body.helper, details)))
        await uow.audit.record(principal, "resident", answer.resident_id, "registered", after=answer.model_dump())
    return answer


@router.get("/admin/helpers")
async def every_named_helper(request: Request, _: Principal = Admin) -> list[NamedHelperRow]:
    """Every shopper's named helpers (family members who may order for them)."""
    async with unit_of_work(request, readonly=True) as uow:
        named = await uow.named_helpers.every()
    return [NamedHelperRow(shopper=s, helper=h.helper, named_at=h.named_at) for s, h in named]


@router.put("/admin/helpers/{shopper}/{helper}")
async def name_helper_for(
    request: Request, shopper: str = SHOPPER, helper: str = HELPER, principal: Principal = Admin
) -> HelperNamed:
    """Name `helper` as `shopper`'s helper, as the shopper would themself; twice is once."""
    if helper == shopper:
        raise Invalid("a shopper cannot be their own helper; name a family member's account")
    async with unit_of_work(request) as uow:
        added = await uow.named_helpers.name(shopper, helper)
        if added:
            named = {"shopper": shopper, "helper": helper}
            await uow.audit.record(principal, "helper", f"{shopper}/{helper}", "named", after=named)
    return HelperNamed(helper=helper, named=True, new=added)


@router.delete("/admin/helpers/{shopper}/{helper}", status_code=204, responses={404: {"description": "not named"}})
async def unname_helper_for(
    request: Request, shopper: str = SHOPPER, helper: str = HELPER, principal: Principal = Admin
) -> None:
    """`helper` no longer orders for `shopper`; orders already placed stay as they are."""
    async with unit_of_work(request) as uow:
        if not await uow.named_helpers.unname(shopper, helper):
            raise NotFound(f"{helper} is not a helper of {shopper}; GET /admin/helpers lists them")
        was = {"shopper": shopper, "helper": helper}
        await uow.audit.record(principal, "helper", f"{shopper}/{helper}", "unnamed", before=was)


@router.get("/admin/group-leaders")
async def live_leaders(request: Request, _: Principal = Admin) -> list[LeaderGrantAnswer]:
    """Every group-leader grant not revoked ('*' is an admin's: any shop)."""
    async with unit_of_work(request, readonly=True) as uow:
        return [LeaderGrantAnswer.of(LeaderGrant(**row)) for row in await uow.group_leaders.live()]
