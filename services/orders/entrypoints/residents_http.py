"""HTTP routes for help: a helper's residents, a shopper's named helpers, remembered substitutions."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.orders.entrypoints.answers import HelperNamed, NamedHelperAnswer, PreferencesAnswer, ResidentAnswer
from services.orders.entrypoints.http import Address, unit_of_work
from services.orders.service_layer import addresses, residents
from shared.auth import CurrentPrincipal, Principal, require
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


@router.post("/residents", status_code=201)
async def register(
    body: ResidentDetails, request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> ResidentAnswer:
    """Register a resident you order for; their id (`res-…`) goes in `on_behalf_of` when you order."""
    async with unit_of_work(request) as uow:
        details = body.model_dump(mode="json")
        details["address"] = await addresses.settled(uow, details["address"])
        answer = ResidentAnswer.of(await residents.register(uow, principal, details))
        await uow.audit.record(principal, "resident", answer.resident_id, "registered", after=answer.model_dump())
        return answer


@router.get("/residents")
async def list_residents(
    request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> list[ResidentAnswer]:
    """The residents you registered, oldest first."""
    async with unit_of_work(request, readonly=True) as uow:
        return [ResidentAnswer.of(r) for r in await residents.residents_of(uow, principal)]


@router.get("/residents/{resident_id}", responses={404: {"description": "not a resident you registered"}})
async def get_resident(
    resident_id: str, request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> ResidentAnswer:
    async with unit_of_work(request, readonly=True) as uow:
        return ResidentAnswer.of(await residents.resident(uow, principal, resident_id))


@router.patch("/residents/{resident_id}", responses={404: {"description": "not a resident you registered"}})
async def change_resident(
    resident_id: str, body: ResidentChange, request: Request, principal: Principal = Depends(require(Role.HELPER))
) -> ResidentAnswer:
    """Change a resident's details; orders already placed keep what they were placed with."""
    async with unit_of_work(request) as uow:
        changes = body.model_dump(mode="json", exclude_unset=True)
        if "address" in changes:
            changes["address"] = await addresses.settled(uow, changes["address"])
        before = ResidentAnswer.of(await residents.resident(uow, principal, resident_id, for_update=True))
        answer = ResidentAnswer.of(await residents.change_resident(uow, principal, resident_id, changes))
        await uow.audit.record(principal, "resident", resident_id, "changed", before.model_dump(), answer.model_dump())
        return answer


@router.get("/me/helpers")
async def my_helpers(
    request: Request, principal: Principal = Depends(require(Role.SHOPPER))
) -> list[NamedHelperAnswer]:
    """The helpers you named: each may order for you, follow and rate your orders."""
    async with unit_of_work(request, readonly=True) as uow:
        return [NamedHelperAnswer.of(h) for h in await residents.helpers_of(uow, principal)]


@router.put("/me/helpers/{helper_subject}")
async def name_helper(
    request: Request, helper_subject: str = SUBJECT, principal: Principal = Depends(require(Role.SHOPPER))
) -> HelperNamed:
    """Name a family member (their account) as your helper; naming them again changes nothing."""
    async with unit_of_work(request) as uow:
        added = await residents.name_helper(uow, principal, helper_subject)
        if added:
            named = {"shopper": principal.subject, "helper": helper_subject}
            await uow.audit.record(principal, "helper", f"{principal.subject}/{helper_subject}", "named", after=named)
    return HelperNamed(helper=helper_subject, named=True, new=added)


@router.delete(
    "/me/helpers/{helper_subject}", status_code=204, responses={404: {"description": "not one of your helpers"}}
)
async def unname_helper(
    request: Request, helper_subject: str = SUBJECT, principal: Principal = Depends(require(Role.SHOPPER))
) -> None:
    """Stop a helper ordering for you; orders they placed stay as they are (answers 204, no body)."""
    async with unit_of_work(request) as uow:
        await residents.unname_helper(uow, principal, helper_subject)
        was = {"shopper": principal.subject, "helper": helper_subject}
        await uow.audit.record(principal, "helper", f"{principal.subject}/{helper_subject}", "unnamed", before=was)


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
) -> PreferencesAnswer:
    """What the shop may do if a product runs out, as last chosen per product (used when a line omits it)."""
    async with unit_of_work(request, readonly=True) as uow:
        holder, remembered = await residents.substitution_preferences(uow, principal, resident)
    return PreferencesAnswer.of(holder, remembered)
