"""Who may act where: staff of a shop or stall act on it; staff of a market act on it and all its stalls.

A token for one location learns nothing about another: it gets 403 naming both, whether or
not the other exists, before any order or product of it is looked at. Once the location a
store_staff token names has entries on the staff registry, only the subjects registered there
are let in (403 saying so); the registry is read at every request, so a revocation counts at
the next one.
"""

from __future__ import annotations

from fastapi import Request

from services.inventory.domain.catalog import Location, Product
from services.inventory.domain.staff_registry import refusal_reason
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import staff_registry
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.vocabulary.roles import Role


def may_act(principal: Principal, location_id: str, parent_id: str | None) -> bool:
    if principal.role is Role.ADMIN:
        return True
    return (
        principal.role is Role.STORE_STAFF
        and principal.store is not None
        and principal.store in (location_id, parent_id)
    )


async def _registered(uow: InventoryUnitOfWork, principal: Principal) -> bool:
    """Whether the staff registry lets this token in (admins, and locations with no entries, always)."""
    if principal.role is not Role.STORE_STAFF or principal.store is None:
        return True
    return await staff_registry.admits(uow, principal.store, principal.subject)


def _check_registered(principal: Principal, registered: bool) -> None:
    if not registered:
        raise Forbidden(refusal_reason(principal.subject, str(principal.store)))


async def location_for(request: Request, principal: Principal, location_id: str) -> Location:
    """The location, once the caller may act on it (403 otherwise; 404 when it does not exist)."""
    async with unit_of_work(request, readonly=True) as uow:
        location = await uow.locations.get(location_id)
        registered = await _registered(uow, principal)
    if principal.role is not Role.ADMIN and not may_act(
        principal, location_id, location.parent_id if location else None
    ):
        raise Forbidden(f"you work for {principal.store}, not {location_id}")
    _check_registered(principal, registered)
    if location is None:
        raise NotFound(f"no shop, market or stall {location_id!r}")
    return location


async def product_for(request: Request, principal: Principal, product_id: str) -> Product:
    """The product, once the caller may act on its shop or stall."""
    async with unit_of_work(request, readonly=True) as uow:
        product = await uow.products.get(product_id)
        location = await uow.locations.get(product.location_id) if product else None
        registered = await _registered(uow, principal)
    if product is None or location is None:
        if principal.role is Role.ADMIN or principal.role is Role.STORE_STAFF:
            raise NotFound(f"no product {product_id!r}")
        raise Forbidden(f"a {principal.role.value} may not do this")
    if not may_act(principal, location.id, location.parent_id):
        raise Forbidden(f"you work for {principal.store}, not {location.id} (which sells {product_id})")
    _check_registered(principal, registered)
    return product
