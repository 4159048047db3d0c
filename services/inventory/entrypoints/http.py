"""HTTP routes of the inventory service: browse stores and products, keep the catalog,
and let a shop accept or reject the orders waiting for it."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.inventory.domain.catalog import OPERATING, Location, LocationChanges
from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.answers import (
    Ok,
    ProductListing,
    StoreAnswer,
    product_listing,
    store_answer,
)
from services.inventory.entrypoints.changes import (
    location_changes,
    product_changes,
    unit_of_work,
)
from services.inventory.service_layer import catalog, reservations
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.audit import summary
from shared.auth import CurrentPrincipal, Principal, require
from shared.errors import Invalid, NotFound
from shared.requests import changed_once
from shared.service import runtime_of
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.opening_hours import Closure, Window
from shared.vocabulary.roles import Role

router = APIRouter(tags=["inventory"])

LOCATION_FIELDS = [f.name for f in fields(LocationChanges)]
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")


def check_id(value: str, what: str) -> None:
    if not ID_PATTERN.fullmatch(value):
        raise Invalid(f"{what} ids are 1 to 100 letters, digits, '.', '_' or '-'; got {value!r}")


class LocationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["shop", "market", "stall"]
    parent_id: str | None = None
    category: str = Field(min_length=1, max_length=50)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    active: bool = True
    accept_limit_s: int | None = Field(None, ge=1, le=3600)
    windows: list[Window] | None = Field(None, description="weekly opening windows; none means always open")
    closures: list[Closure] = Field(default_factory=list, max_length=366)
    paused: bool = False
    delivery_radius_m: int = Field(1500, ge=0, le=50_000)
    picking_minutes: int = Field(10, ge=0, le=600)
    weight_tolerance_pct: float | None = Field(None, ge=0, le=100)
    delivery_fee_fen: int = Field(0, ge=0, le=100_000, description="charged per delivered order; 0 delivers free")


class ProductBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location_id: str = Field(min_length=1, max_length=100)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=50)
    unit: Literal["piece", "g"]
    price_fen: int = Field(ge=0, le=10_000_000, description="per piece, or per kg for unit 'g'")
    grams_per_piece: int | None = Field(None, ge=1, le=100_000)
    active: bool = True
    on_hand: int | None = Field(None, ge=0, le=100_000_000, description="count the shelf: sets stock on hand")
    barcode: str | None = Field(None, min_length=1, max_length=64)
    low_stock_threshold: int | None = Field(None, ge=0, le=100_000_000)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=300)


@router.get("/stores", response_model=list[StoreAnswer], response_model_exclude_unset=True)
async def list_stores(request: Request, _: CurrentPrincipal) -> list[StoreAnswer]:
    """Shops and markets (with their stalls) that take orders."""
    async with unit_of_work(request, readonly=True) as uow:
        locations = await uow.locations.stores()
    stalls: dict[str, list[Location]] = {}
    for loc in locations:
        if loc.kind is LocationKind.STALL:
            stalls.setdefault(loc.store_id, []).append(loc)
    runtime = runtime_of(request)
    at = runtime.clock.now()
    return [
        store_answer(loc, stalls.get(loc.id, []), runtime.settings.timezone, at)
        for loc in locations
        if loc.kind is not LocationKind.STALL
    ]


@router.get("/stores/{store_id}/products")
async def list_products(store_id: str, request: Request, _: CurrentPrincipal) -> list[ProductListing]:
    async with unit_of_work(request, readonly=True) as uow:
        store = await uow.locations.get(store_id)
        if store is None or store.kind is LocationKind.STALL:
            raise NotFound(f"no shop or market {store_id!r}; see GET /stores")
        products = await uow.products.products_of(store_id)
    return [product_listing(p) for p in products if p.product.active]


@router.put("/admin/locations/{location_id}", response_model=Ok)
async def put_location(
    location_id: str,
    body: LocationBody,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JSONResponse:
    """Create or update a shop, market or stall (admins); operating fields left out keep their value."""
    check_id(location_id, "location")
    # What the location is is always written; how it works only where sent (else it stays as it was).
    changes = location_changes(
        body,
        [name for name in LOCATION_FIELDS if name not in OPERATING or name in body.model_fields_set],
    )

    async def put(uow: InventoryUnitOfWork) -> None:
        before = await uow.locations.get(location_id)
        after = await catalog.upsert_location(uow, location_id, LocationKind(body.kind), changes)
        action = "created" if before is None else "updated"
        await uow.audit.record(principal, "location", location_id, action, summary(before), summary(after))

    return await changed_once(request, principal, idempotency_key, body.model_dump(mode="json"), put)


@router.put("/admin/products/{product_id}", response_model=Ok)
async def put_product(
    product_id: str,
    body: ProductBody,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JSONResponse:
    """Create or update a product, optionally setting its stock on hand (admins)."""
    check_id(product_id, "product")
    changes = product_changes(body, ProductBody.model_fields.keys() - {"on_hand"})

    async def put(uow: InventoryUnitOfWork) -> None:
        before = await uow.products.get(product_id)
        after = await catalog.upsert_product(uow, product_id, changes, principal.key, on_hand=body.on_hand)
        counted = {} if body.on_hand is None else {"on_hand": body.on_hand}
        action = "created" if before is None else "updated"
        after_summary = {**(summary(after) or {}), **counted}
        await uow.audit.record(principal, "product", product_id, action, summary(before), after_summary)

    return await changed_once(request, principal, idempotency_key, body.model_dump(), put)


@router.post("/stores/{store_id}/orders/{order_id}/accept", response_model=Ok)
async def accept_order(
    store_id: str,
    order_id: str,
    request: Request,
    principal: Principal = Depends(require(Role.STORE_STAFF)),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JSONResponse:
    """The shop or stall takes its part on (at the shop or market: every waiting part); the reservation holds."""
    await location_for(request, principal, store_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        None,
        lambda uow: reservations.accept(uow, store_id, order_id, principal.key),
    )


@router.post("/stores/{store_id}/orders/{order_id}/reject", response_model=Ok)
async def reject_order(
    store_id: str,
    order_id: str,
    request: Request,
    body: RejectBody | None = None,
    principal: Principal = Depends(require(Role.STORE_STAFF)),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> JSONResponse:
    """The shop or stall cannot take its part: its stock goes back on sale, the rest of the order goes on."""
    await location_for(request, principal, store_id)
    note = body.note if body else None
    return await changed_once(
        request,
        principal,
        idempotency_key,
        {"note": note},
        lambda uow: reservations.reject(uow, store_id, order_id, principal.key, note),
    )
