"""HTTP routes for help: a helper's residents, a shopper's named helpers, remembered substitutions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.orders.domain.basket import BasketProblem
from services.orders.domain.helpers import Resident
from services.orders.entrypoints.http import Address
from services.orders.service_layer import ordering, preferences, residents
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal, Principal, require
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["help"])

PHONE = r"^\+?[0-9][0-9 -]{5,19}$"
SUBJECT = Path(min_length=1, max_length=100, pattern=r"^[^\s/]+$", description="the helper's account (subject)")


class ResidentDetails(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    address: Address | None = Field(None, description="where the bag goes; fills in the delivery address")
    phone: str | None = Field(None, pattern=PHONE, description="the rider calls this number")
    call_before_delivery: bool = False
    pay_on_delivery: bool = Field(False, description="their orders pay at the door unless the helper says otherwise")
    note: str | None = Field(None, max_length=500, description="for the helper, e.g. 'hard of hearing, knock loudly'")


class ResidentChange(BaseModel):
    """Only what is sent changes; send null to clear the address, phone or note."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    address: Address | None = None
    phone: str | None = Field(None, pattern=PHONE)
    call_before_delivery: bool | None = None
    pay_on_delivery: bool | None = None
    note: str | None = Field(None, max_length=500)

    @model_validator(mode="after")
    def _required_stay_set(self) -> ResidentChange:
        for name in ("name", "call_before_delivery", "pay_on_delivery"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        if not self.model_fields_set:
            raise ValueError("nothing to change: send at least one of " + ", ".join(type(self).model_fields))
        return self


def resident_view(r: Resident) -> dict[str, Any]:
    return {
        "resident_id": r.resident_id,
        "name": r.name,
        "address": r.address,
        "phone": r.phone,
        "call_before_delivery": r.call_before_delivery,
        "pay_on_delivery": r.pay_on_delivery,
        "note": r.note,
        "helper": r.helper,
        "created_at": r.created_at.isoformat() if r.created_at else None,
    }


def _http(e: Exception) -> HTTPException:
    if isinstance(e, ordering.NotFound):
        return HTTPException(404, str(e))
    if isinstance(e, ordering.Forbidden):
        return HTTPException(403, str(e))
    return HTTPException(422, str(e))


USE_CASE_ERRORS = (ordering.NotFound, ordering.Forbidden, BasketProblem)


@router.post("/residents", status_code=201)
async def register(
    body: ResidentDetails, request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> dict[str, Any]:
    """Register a resident you order for; their id (`res-…`) goes in `on_behalf_of` when you order."""
    async with runtime_of(request).pool.acquire() as conn:
        details = body.model_dump(mode="json")
        return resident_view(await residents.register(UnitOfWork(conn), principal, details))


@router.get("/residents")
async def list_residents(
    request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> list[dict[str, Any]]:
    """The residents you registered, oldest first."""
    async with runtime_of(request).pool.acquire() as conn:
        return [resident_view(r) for r in await residents.residents_of(UnitOfWork(conn), principal)]


@router.get("/residents/{resident_id}", responses={404: {"description": "not a resident you registered"}})
async def get_resident(
    resident_id: str, request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> dict[str, Any]:
    async with runtime_of(request).pool.acquire() as conn:
        try:
            return resident_view(await residents.resident(UnitOfWork(conn), principal, resident_id))
        except USE_CASE_ERRORS as e:
            raise _http(e) from e


@router.patch("/residents/{resident_id}", responses={404: {"description": "not a resident you registered"}})
async def change_resident(
    resident_id: str, body: ResidentChange, request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> dict[str, Any]:
    """Change a resident's details; orders already placed keep what they were placed with."""
    async with runtime_of(request).pool.acquire() as conn, conn.transaction():
        try:
            changed = await residents.change_resident(
                UnitOfWork(conn), principal, resident_id, body.model_dump(mode="json", exclude_unset=True)
            )
        except USE_CASE_ERRORS as e:
            raise _http(e) from e
        return resident_view(changed)


@router.get("/me/helpers")
async def my_helpers(
    request: Request, principal: Principal = Depends(require(Role.SHOPPER))
) -> list[dict[str, object]]:
    """The helpers you named: each may order for you, follow and rate your orders."""
    async with runtime_of(request).pool.acquire() as conn:
        return await residents.helpers_of(UnitOfWork(conn), principal)


@router.put("/me/helpers/{helper_subject}")
async def name_helper(
    request: Request, helper_subject: str = SUBJECT, principal: Principal = Depends(require(Role.SHOPPER))
) -> dict[str, Any]:
    """Name a family member (their account) as your helper; naming them again changes nothing."""
    async with runtime_of(request).pool.acquire() as conn:
        try:
            added = await residents.name_helper(UnitOfWork(conn), principal, helper_subject)
        except USE_CASE_ERRORS as e:
            raise _http(e) from e
    return {"helper": helper_subject, "named": True, "new": added}


@router.delete(
    "/me/helpers/{helper_subject}", status_code=204, responses={404: {"description": "not one of your helpers"}}
)
async def unname_helper(
    request: Request, helper_subject: str = SUBJECT, principal: Principal = Depends(require(Role.SHOPPER))
) -> None:
    """Stop a helper ordering for you; orders they placed stay as they are."""
    async with runtime_of(request).pool.acquire() as conn:
        try:
            await residents.unname_helper(UnitOfWork(conn), principal, helper_subject)
        except USE_CASE_ERRORS as e:
            raise _http(e) from e


@router.get(
    "/me/substitution-preferences",
    responses={404: {"description": "not someone you help"}, 422: {"description": "a helper must name the resident"}},
)
async def substitution_preferences(
    request: Request,
    principal: CurrentPrincipal,
    resident: str | None = Query(
        None, min_length=1, max_length=100, description="helpers: the resident (or the shopper who named you)"
    ),
) -> dict[str, Any]:
    """What the shop may do if a product runs out, as last chosen per product (used when a line omits it)."""
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise HTTPException(403, f"a {principal.role.value} has no substitution preferences")
    if principal.role is Role.HELPER and not resident:
        raise HTTPException(422, "a helper names whose preferences: add ?resident=<resident id>")
    holder = resident or principal.subject
    async with runtime_of(request).pool.acquire() as conn:
        uow = UnitOfWork(conn)
        if not await residents.may_act_for(uow, principal, holder):
            raise HTTPException(404, f"no one called {holder} whom you help; GET /residents lists yours")
        remembered = await preferences.all_remembered(uow, holder)
    return {
        "holder": holder,
        "preferences": [{"product_id": pid, "substitution": c.as_dict()} for pid, c in remembered.items()],
    }
