"""Staff keep their own location and products: hours, the pause switch, prices, stock.

Staff of a shop or stall act on it; staff of a market also on its stalls; admins anywhere.
Every change is recorded with who made it (GET /products/{id}/history).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Literal

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.inventory.domain.catalog import ProductChanges as ProductEdit
from services.inventory.domain.catalog import Stocked
from services.inventory.domain.stock import StockLevel
from services.inventory.entrypoints.access import location_for, product_for
from services.inventory.entrypoints.answers import (
    HistoryAnswer,
    LevelAnswer,
    LocationAnswer,
    ProductAnswer,
    StockRow,
    history_answer,
    level_answer,
    location_answer,
    product_answer,
    stock_row,
)
from services.inventory.entrypoints.changes import location_changes, product_changes, unit_of_work
from services.inventory.service_layer import catalog, queries, stock_keeping
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.audit import summary
from shared.auth import Principal, require
from shared.requests import changed_once
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.opening_hours import Closure, Window
from shared.vocabulary.roles import Role

router = APIRouter(tags=["catalog"])
Staff = Depends(require(Role.STORE_STAFF))
IdempotencyKey = Header(None, alias="Idempotency-Key")


class LocationChanges(BaseModel):
    """Only what is sent changes."""

    model_config = ConfigDict(extra="forbid")
    category: str | None = Field(None, min_length=1, max_length=50)
    name_zh: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, min_length=1, max_length=100)
    windows: list[Window] | None = Field(None, max_length=100, description="weekly windows; null or [] is always open")
    closures: list[Closure] | None = Field(None, max_length=366)
    paused: bool | None = Field(None, description="busy: not taking orders until switched off again")
    delivery_radius_m: int | None = Field(None, ge=0, le=50_000)
    picking_minutes: int | None = Field(None, ge=0, le=600)
    accept_limit_s: int | None = Field(None, ge=1, le=3600)
    weight_tolerance_pct: float | None = Field(None, ge=0, le=100)
    delivery_fee_fen: int | None = Field(None, ge=0, le=100_000, description="charged per delivered order, in fen")


class NewProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9._-]{1,100}$")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=50)
    unit: Literal["piece", "g"]
    price_fen: int = Field(ge=0, le=10_000_000, description="per piece, or per kg for unit 'g'")
    grams_per_piece: int | None = Field(None, ge=1, le=100_000)
    barcode: str | None = Field(None, min_length=1, max_length=64)
    active: bool = True
    low_stock_threshold: int | None = Field(None, ge=0, le=100_000_000)
    on_hand: int | None = Field(None, ge=0, le=100_000_000)


class ProductChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str | None = Field(None, min_length=1, max_length=100)
    name_en: str | None = Field(None, min_length=1, max_length=100)
    category: str | None = Field(None, min_length=1, max_length=50)
    unit: Literal["piece", "g"] | None = None
    price_fen: int | None = Field(None, ge=0, le=10_000_000)
    grams_per_piece: int | None = Field(None, ge=1, le=100_000)
    barcode: str | None = Field(None, min_length=1, max_length=64)
    active: bool | None = None
    low_stock_threshold: int | None = Field(None, ge=0, le=100_000_000)


class Restock(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quantity: int = Field(ge=1, le=100_000_000, description="in the product's unit: pieces, or grams")
    reason: str = Field("", max_length=200)


class Adjustment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delta: int = Field(ge=-100_000_000, le=100_000_000, description="in the product's unit; negative takes away")
    reason: str = Field(min_length=1, max_length=200)


async def _product(found: Awaitable[Stocked]) -> ProductAnswer:
    return product_answer(await found)


async def _level(found: Awaitable[StockLevel]) -> LevelAnswer:
    return level_answer(await found)


def _sent(body: BaseModel) -> dict[str, object]:
    """The fields the caller actually sent, as the request's fingerprint for its Idempotency-Key."""
    return body.model_dump(mode="json", include=body.model_fields_set)


@router.get("/locations/{location_id}")
async def get_location(location_id: str, request: Request, principal: Principal = Staff) -> LocationAnswer:
    return location_answer(await location_for(request, principal, location_id))


@router.patch("/locations/{location_id}", response_model=LocationAnswer)
async def patch_location(
    location_id: str,
    body: LocationChanges,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """Hours, closures, pause switch, radius, picking time, accept limit, weight tolerance, delivery fee."""
    await location_for(request, principal, location_id)
    changes = location_changes(body, body.model_fields_set)

    async def change(uow: InventoryUnitOfWork) -> LocationAnswer:
        before = await uow.locations.get(location_id)
        answer = location_answer(await catalog.update_location(uow, location_id, changes))
        await uow.audit.record(principal, "location", location_id, "updated", summary(before), answer.model_dump())
        return answer

    return await changed_once(request, principal, idempotency_key, _sent(body), change)


@router.get("/locations/{location_id}/stock")
async def location_stock(location_id: str, request: Request, principal: Principal = Staff) -> list[StockRow]:
    """Every product here (a market: of all its stalls) with on-hand, reserved, available and its threshold."""
    location = await location_for(request, principal, location_id)
    async with unit_of_work(request, readonly=True) as uow:
        ids = [location_id] + [s.id for s in await uow.locations.stalls_of(location_id)]
        products = await uow.products.stock_of(ids if location.kind is LocationKind.MARKET else [location_id])
    return [stock_row(p) for p in products]


@router.post("/locations/{location_id}/products", status_code=201, response_model=ProductAnswer)
async def create_product(
    location_id: str,
    body: NewProduct,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """A new product at this shop or stall (not a market: its stalls sell)."""
    await location_for(request, principal, location_id)
    changes = product_changes(body, NewProduct.model_fields.keys() - {"id", "on_hand"})

    async def create(uow: InventoryUnitOfWork) -> ProductAnswer:
        made = await catalog.create_product(
            uow, location_id, changes, principal.key, product_id=body.id, on_hand=body.on_hand
        )
        answer = product_answer(made)
        await uow.audit.record(principal, "product", answer.id, "created", after=answer.model_dump(mode="json"))
        return answer

    return await changed_once(request, principal, idempotency_key, body.model_dump(), create, status=201)


@router.patch("/products/{product_id}", response_model=ProductAnswer)
async def patch_product(
    product_id: str,
    body: ProductChanges,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """Change names, category, price, grams per piece, barcode, active or the low-stock threshold."""
    await product_for(request, principal, product_id)
    changes = product_changes(body, body.model_fields_set)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        _sent(body),
        lambda uow: _product_changed(uow, principal, product_id, changes),
    )


async def _product_changed(
    uow: InventoryUnitOfWork, principal: Principal, product_id: str, changes: ProductEdit
) -> ProductAnswer:
    before = await uow.products.get(product_id)
    answer = product_answer(await catalog.update_product(uow, product_id, changes, principal.key))
    await uow.audit.record(principal, "product", product_id, "updated", summary(before), answer.model_dump(mode="json"))
    return answer


@router.post("/products/{product_id}/restock", response_model=LevelAnswer)
async def restock(
    product_id: str,
    body: Restock,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    await product_for(request, principal, product_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: _level(stock_keeping.restock(uow, product_id, body.quantity, body.reason, principal.key)),
    )


@router.post("/products/{product_id}/adjust", response_model=LevelAnswer)
async def adjust(
    product_id: str,
    body: Adjustment,
    request: Request,
    principal: Principal = Staff,
    idempotency_key: str | None = IdempotencyKey,
) -> JSONResponse:
    """A correction with a reason (spoiled, broken, miscounted); never below what orders have reserved."""
    await product_for(request, principal, product_id)
    return await changed_once(
        request,
        principal,
        idempotency_key,
        body.model_dump(),
        lambda uow: _level(stock_keeping.adjust(uow, product_id, body.delta, body.reason, principal.key)),
    )


@router.get("/products/{product_id}/history")
async def history(product_id: str, request: Request, principal: Principal = Staff) -> list[HistoryAnswer]:
    """Every catalog change and stock movement, oldest first: who, when, what."""
    await product_for(request, principal, product_id)
    async with unit_of_work(request, readonly=True) as uow:
        return [history_answer(e) for e in await queries.product_history(uow, product_id)]
