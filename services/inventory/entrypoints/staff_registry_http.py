"""The staff registry, kept by admins from the operator console: who may act for which shop, stall or market.

`PUT /admin/staff/{location_id}/{subject}` registers (twice is one entry), `DELETE` revokes (from
the next request on), `GET /admin/staff` lists the live entries, and with `revoked=true` also the
revoked ones, each with who made the change and when. Each change goes on the record of changes.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from services.inventory.domain.staff_registry import StaffEntry
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import staff_registry
from shared.auth import Principal, require
from shared.vocabulary.roles import Role

router = APIRouter(tags=["staff registry"])
Admin = Depends(require(Role.ADMIN))
Subject = Path(min_length=1, max_length=200, description="the identity provider's `sub` of the staff member")


class StaffEntryAnswer(BaseModel):
    location_id: str
    subject: str
    granted_by: str
    granted_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None
    live: bool


class RegisteredAnswer(StaffEntryAnswer):
    created: bool = Field(description="false when the subject was registered here already")


def _answer(entry: StaffEntry) -> StaffEntryAnswer:
    return StaffEntryAnswer(
        location_id=entry.location_id,
        subject=entry.subject,
        granted_by=entry.granted_by,
        granted_at=entry.granted_at,
        revoked_by=entry.revoked_by,
        revoked_at=entry.revoked_at,
        live=entry.live,
    )


def _summary(entry: StaffEntry) -> dict[str, object]:
    return {"location_id": entry.location_id, "subject": entry.subject, "live": entry.live}


@router.put("/admin/staff/{location_id}/{subject}")
async def register_staff(
    location_id: str, request: Request, subject: str = Subject, principal: Principal = Admin
) -> RegisteredAnswer:
    """From the next request on, only registered subjects may use a store_staff token naming this location."""
    async with unit_of_work(request) as uow:
        entry, created = await staff_registry.register(uow, location_id, subject, principal.key)
        if created:
            await uow.audit.record(principal, "staff", f"{location_id}/{subject}", "registered", after=_summary(entry))
    return RegisteredAnswer(**_answer(entry).model_dump(), created=created)


@router.delete("/admin/staff/{location_id}/{subject}")
async def revoke_staff(
    location_id: str, request: Request, subject: str = Subject, principal: Principal = Admin
) -> StaffEntryAnswer:
    """The subject's tokens for this location are refused from the next request on (while any entry is left;
    with none left the location admits every token naming it again)."""
    async with unit_of_work(request) as uow:
        entry = await staff_registry.revoke(uow, location_id, subject, principal.key)
        await uow.audit.record(principal, "staff", f"{location_id}/{subject}", "revoked", after=_summary(entry))
    return _answer(entry)


@router.get("/admin/staff")
async def list_staff(
    request: Request,
    location_id: str | None = Query(None, max_length=100),
    revoked: bool = Query(False, description="include revoked entries"),
    principal: Principal = Admin,
) -> list[StaffEntryAnswer]:
    async with unit_of_work(request, readonly=True) as uow:
        return [_answer(e) for e in await uow.staff.entries(location_id, with_revoked=revoked)]
