"""Who may act where: staff of a shop or stall act on it; staff of a market act on it and all its stalls.

A token for one location learns nothing about another: it gets 403 naming both, whether or
not the other exists, before any order or product of it is looked at.
"""

from __future__ import annotations

from fastapi import Request

from services.inventory.domain.catalog import Location, Product
from services.inventory.entrypoints.changes import unit_of_work
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


async def location_for(request: Request, principal: Principal, location_id: str) -> Location:
    """The location, once the caller may act on it (403 otherwise; 404 when it does not exist)."""
    async with unit_of_work(request, readonly=True) as uow:
        location = await uow.locations.get(location_id)
    if principal.role is not Role.ADMIN and not may_act(
        principal, location_id, location.parent_id if location else None
    ):
        raise Forbidden(f"you work for {principal.store}, not {location_id}")
    if location is None:
        raise NotFound(f"no shop, market or stall {location_id!r}")
    return location


async def product_for(request: Request, principal: Principal, product_id: str) -> Product:
    """The product, once the caller may act on its shop or stall."""
    async with unit_of_work(request, readonly=True) as uow:
        product = await uow.products.get(product_id)
        location = await uow.locations.get(product.location_id) if product else None
    if product is None or location is None:
        if principal.role is Role.ADMIN or principal.role is Role.STORE_STAFF:
            raise NotFound(f"no product {product_id!r}")
        raise Forbidden(f"a {principal.role.value} may not do this")
    if not may_act(principal, location.id, location.parent_id):
        raise Forbidden(f"you work for {principal.store}, not {location.id} (which sells {product_id})")
    return product
