"""Locker sites: admins set them up, the checkout lists free compartments, the orderer opens theirs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.dispatch.entrypoints import answers
from services.dispatch.entrypoints.answers import OpenedAnswer, SiteAnswer, SiteDetailAnswer
from services.dispatch.entrypoints.changes import Asked, asked_by, read, then, unit_of_work
from services.dispatch.service_layer import lockers
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.attempts import CODE_RESPONSES
from shared.auth import Principal, require
from shared.vocabulary.roles import Role

router = APIRouter(tags=["lockers"])
AskedByAdmin = asked_by()
SignedIn = Depends(require(Role.SHOPPER, Role.HELPER, Role.RIDER, Role.DISPATCHER))
AskedByOrderer = asked_by(Role.SHOPPER, Role.HELPER)


class CompartmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=20)
    size: str = Field(pattern="^[SML]$")


class SiteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    compartments: list[CompartmentBody] = Field(max_length=500)


class OpenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20)


@router.put("/lockers/{site_id}", response_model=SiteDetailAnswer)
async def put_site(site_id: str, body: SiteBody, asked: Asked = AskedByAdmin) -> JSONResponse:
    """Create or update a locker site (admins); compartments not listed are removed unless in use."""
    comps = [(c.id, c.size) for c in body.compartments]

    async def put(uow: DispatchUnitOfWork) -> SiteDetailAnswer:
        before = await uow.lockers.site(site_id)
        was = answers.site_detail(await lockers.site_detail(uow, site_id)).model_dump() if before else None
        after = answers.site_detail(await lockers.put_site(uow, site_id, body.name, body.lat, body.lon, comps))
        action = "created" if before is None else "updated"
        await uow.audit.record(asked.principal, "locker", site_id, action, was, after.model_dump())
        return after

    return await asked.change(body.model_dump(), put)


@router.get("/lockers")
async def sites(request: Request, _: Principal = SignedIn) -> list[SiteAnswer]:
    """Sites with their free compartments by size."""
    return [answers.site(s) for s in await read(request, lockers.sites)]


@router.get("/lockers/{site_id}", response_model=SiteDetailAnswer)
async def site(site_id: str, request: Request, _: Principal = Depends(require())) -> SiteDetailAnswer:
    """A site with every compartment and what is in it (admins: the operator console edits it)."""
    async with unit_of_work(request, readonly=True) as uow:
        return answers.site_detail(await lockers.site_detail(uow, site_id))


@router.post("/lockers/{site_id}/open", response_model=OpenedAnswer, responses=CODE_RESPONSES)
async def open_compartment(site_id: str, body: OpenBody, asked: Asked = AskedByOrderer) -> JSONResponse:
    """The orderer opens their compartment with the code from LockerDeposited."""
    by_admin = asked.principal.role is Role.ADMIN
    return await asked.change(
        body.model_dump(),
        lambda uow: then(lockers.open_compartment(uow, site_id, body.code, asked.subject, by_admin), answers.opened),
    )
