"""The record of changes: who changed what, when, from what to what, in every service.

An operator's change (a shop's hours, a price list applied, a staff entry revoked, a rider's
shifts) is written to the service's `audit_log` table on the unit of work's connection, so it
commits or rolls back with the change itself: a refused change leaves no record, and no change
goes unrecorded. Each service keeps its own table (its migrations create it); the console merges
the three services' `GET /admin/audit` answers.

`before` and `after` are short JSON summaries of the entity, not the whole row: enough to see
what moved (hours, fees, a price) without copying a schema into the log.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python

from shared.auth import Principal, require
from shared.vocabulary.roles import Role

Summary = Mapping[str, Any] | None
MAX_PAGE = 200


@dataclass(frozen=True)
class Change:
    """One recorded change: the actor as a principal key (`admin:ops-1`) and role, the entity and the action."""

    id: int
    at: datetime
    actor: str
    role: str
    entity: str  # what kind of thing: location, product, price_list, staff, rider, shifts, locker, resident…
    entity_id: str
    action: str  # created, updated, revoked, applied…
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@dataclass(frozen=True)
class ChangeFilter:
    """What `GET /admin/audit` narrows to; `before_id` pages backwards from the newest."""

    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 50


def summary(value: object) -> dict[str, Any] | None:
    """A dataclass, model or mapping as plain JSON (dates as ISO strings, enums as values)."""
    if value is None:
        return None
    plain = to_jsonable_python(value, fallback=str)
    if not isinstance(plain, dict):
        return {"value": plain}
    return plain


def only(value: Mapping[str, Any] | None, *names: str) -> dict[str, Any] | None:
    """The named fields of a summary: what an operator reads, not every column."""
    if value is None:
        return None
    return {name: value[name] for name in names if name in value}


class AuditLog(abc.ABC):
    """Where a unit of work records its changes; `record` joins the unit of work's transaction."""

    @abc.abstractmethod
    async def record(
        self,
        principal: Principal,
        entity: str,
        entity_id: str,
        action: str,
        before: Summary = None,
        after: Summary = None,
    ) -> None: ...

    @abc.abstractmethod
    async def changes(self, wanted: ChangeFilter) -> list[Change]: ...


class PostgresAuditLog(AuditLog):
    """The `audit_log` table on the unit of work's connection; the time is the unit of work's instant."""

    def __init__(self, conn: asyncpg.Connection, now: Callable[[], datetime]) -> None:
        self._conn = conn
        self._now = now

    async def record(
        self,
        principal: Principal,
        entity: str,
        entity_id: str,
        action: str,
        before: Summary = None,
        after: Summary = None,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO audit_log (at, actor, role, entity, entity_id, action, before, after)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            self._now(),
            principal.key,
            principal.role.value,
            entity,
            entity_id,
            action,
            summary(before),
            summary(after),
        )

    async def changes(self, wanted: ChangeFilter) -> list[Change]:
        rows = await self._conn.fetch(
            "SELECT id, at, actor, role, entity, entity_id, action, before, after FROM audit_log"
            " WHERE ($1::text IS NULL OR entity = $1) AND ($2::text IS NULL OR entity_id = $2)"
            " AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR action = $4)"
            " AND ($5::timestamptz IS NULL OR at >= $5) AND ($6::timestamptz IS NULL OR at < $6)"
            " AND ($7::bigint IS NULL OR id < $7)"
            " ORDER BY id DESC LIMIT $8",
            wanted.entity,
            wanted.entity_id,
            wanted.actor,
            wanted.action,
            wanted.since,
            wanted.until,
            wanted.before_id,
            wanted.limit,
        )
        return [Change(**dict(r)) for r in rows]


class InMemoryAuditLog(AuditLog):
    """For unit tests' units of work: the same answers from a list."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.kept: list[Change] = []
        self._now = now

    async def record(
        self,
        principal: Principal,
        entity: str,
        entity_id: str,
        action: str,
        before: Summary = None,
        after: Summary = None,
    ) -> None:
        self.kept.append(
            Change(
                len(self.kept) + 1,
                self._now(),
                principal.key,
                principal.role.value,
                entity,
                entity_id,
                action,
                summary(before),
                summary(after),
            )
        )

    async def changes(self, wanted: ChangeFilter) -> list[Change]:
        def fits(c: Change) -> bool:
            return (
                (wanted.entity is None or c.entity == wanted.entity)
                and (wanted.entity_id is None or c.entity_id == wanted.entity_id)
                and (wanted.actor is None or c.actor == wanted.actor)
                and (wanted.action is None or c.action == wanted.action)
                and (wanted.since is None or c.at >= wanted.since)
                and (wanted.until is None or c.at < wanted.until)
                and (wanted.before_id is None or c.id < wanted.before_id)
            )

        return [c for c in reversed(self.kept) if fits(c)][: wanted.limit]


class ChangeAnswer(BaseModel):
    id: int
    service: str = Field(description="the service that made the change (orders, inventory, dispatch)")
    at: datetime
    actor: str = Field(description="who: the principal key, role:subject")
    role: str
    entity: str = Field(description="what kind of thing changed: location, product, price_list, staff, rider…")
    entity_id: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ChangesAnswer(BaseModel):
    changes: list[ChangeAnswer] = Field(description="newest first")
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page; null at the end")


class ChangeQuery(BaseModel):
    """The query string of `GET /admin/audit`."""

    model_config = ConfigDict(extra="forbid")
    entity: str | None = Field(None, max_length=50, description="location, product, price_list, staff, rider…")
    entity_id: str | None = Field(None, max_length=200)
    actor: str | None = Field(None, max_length=200, description="a principal key, e.g. admin:ops-1")
    action: str | None = Field(None, max_length=50)
    since: datetime | None = Field(None, description="from this instant (inclusive)")
    until: datetime | None = Field(None, description="to this instant (exclusive)")
    before_id: int | None = Field(None, ge=1, description="the previous page's next_before_id")
    limit: int = Field(50, ge=1, le=MAX_PAGE)


def audit_router() -> APIRouter:
    """`GET /admin/audit`: the service's record of changes, newest first, filtered and paged (admins only)."""
    router = APIRouter(tags=["record of changes"])

    @router.get("/admin/audit")
    async def list_changes(
        request: Request,
        query: Annotated[ChangeQuery, Query()],
        _: Principal = Depends(require(Role.ADMIN)),
    ) -> ChangesAnswer:
        # The runtime straight from the app: shared.service builds every app with this router.
        runtime = request.app.state.runtime
        if runtime is None:
            raise HTTPException(503, "the service is starting", headers={"Retry-After": "1"})
        wanted = ChangeFilter(**query.model_dump(exclude={"limit"}), limit=query.limit + 1)
        async with runtime.unit_of_work(readonly=True) as uow:
            found = await uow.audit.changes(wanted)
        page = found[: query.limit]
        return ChangesAnswer(
            changes=[ChangeAnswer(service=runtime.spec.name, **c.__dict__) for c in page],
            next_before_id=page[-1].id if len(found) > query.limit else None,
        )

    return router
