"""Running dispatch use cases from HTTP: a change once per Idempotency-Key, in one unit of work with
its events (live notes follow the commit); a read in a read-only one. Refusals are mapped to HTTP by
build_app's one handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared import requests
from shared.auth import Principal, require
from shared.requests import changed_once
from shared.vocabulary.roles import Role

T = TypeVar("T")
A = TypeVar("A", bound=BaseModel)
Answer = BaseModel | list[BaseModel]


def unit_of_work(request: Request, *, readonly: bool = False) -> DispatchUnitOfWork:
    """The dispatch unit of work for one request, carrying the caller's correlation id into its events."""
    return cast(DispatchUnitOfWork, requests.unit_of_work(request, readonly=readonly))


async def read(request: Request, use_case: Callable[[DispatchUnitOfWork], Awaitable[T]]) -> T:
    async with unit_of_work(request, readonly=True) as uow:
        return await use_case(uow)


async def then(result: Awaitable[T], shape: Callable[[T], A]) -> A:
    """The use case's result shaped into its answer."""
    return shape(await result)


@dataclass(frozen=True)
class Asked:
    """A change someone asked for: the request, who asks, and their Idempotency-Key."""

    request: Request
    principal: Principal
    idempotency_key: str | None

    @property
    def subject(self) -> str:
        return self.principal.subject

    async def change(
        self, body: Any, change: Callable[[DispatchUnitOfWork], Awaitable[Answer]], status: int = 200
    ) -> JSONResponse:
        """Run the change once per Idempotency-Key; `body` is what a retry must send again."""
        return await changed_once(self.request, self.principal, self.idempotency_key, body, change, status)


def asked_by(*roles: Role) -> Any:
    """A route's dependency: the roles that may ask (admins always may), with the Idempotency-Key header."""
    allowed = Depends(require(*roles))

    def asked(
        request: Request,
        principal: Principal = allowed,
        idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
    ) -> Asked:
        return Asked(request, principal, idempotency_key)

    return Depends(asked)
