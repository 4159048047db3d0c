"""HTTP routes of the inventory service: browse stores and products, keep the catalog,
and let a shop accept or reject the orders waiting for it."""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from services.inventory.domain.stock import ReservationRefused
from services.inventory.service_layer import catalog, reservations
from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.auth import CurrentPrincipal, Principal, require
from shared.idempotency import change_once, check_key, request_hash
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["inventory"])

ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,100}")


def _check_id(value: str, what: str) -> None:
    if not ID_PATTERN.fullmatch(value):
        raise HTTPException(422, f"{what} ids are 1 to 100 letters, digits, '.', '_' or '-'; got {value!r}")


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


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=300)


def _store_view(row: Any, stalls: list[Any]) -> dict[str, Any]:
    view = {k: row[k] for k in ("id", "kind", "category", "name_zh", "name_en", "lat", "lon", "active")}
    if row["kind"] == "market":
        view["stalls"] = [{k: s[k] for k in ("id", "category", "name_zh", "name_en", "active")} for s in stalls]
    return view


@router.get("/stores")
async def list_stores(request: Request, _: CurrentPrincipal) -> list[dict[str, Any]]:
    """Shops and markets (with their stalls) that take orders."""
    async with runtime_of(request).pool.acquire() as conn:
        rows = await UnitOfWork(conn).inventory.stores()
    stalls: dict[str, list[Any]] = {}
    for r in rows:
        if r["kind"] == "stall":
            stalls.setdefault(r["parent_id"], []).append(r)
    return [_store_view(r, stalls.get(r["id"], [])) for r in rows if r["kind"] != "stall"]


@router.get("/stores/{store_id}/products")
async def list_products(store_id: str, request: Request, _: CurrentPrincipal) -> list[dict[str, Any]]:
    async with runtime_of(request).pool.acquire() as conn:
        uow = UnitOfWork(conn)
        store = await uow.inventory.location(store_id)
        if store is None or store["kind"] == "stall":
            raise HTTPException(404, f"no shop or market {store_id!r}; see GET /stores")
        rows = await uow.inventory.products_of(store_id)
    return [{"id": r["id"], "name_zh": r["name_zh"], "name_en": r["name_en"], "category": r["category"],
             "unit": r["unit"], "price": r["price_fen"], "grams_per_piece": r["grams_per_piece"],
             "available": r["available"], "location_id": r["location_id"], "active": r["active"]}
            for r in rows if r["active"]]


CATALOG_ERRORS: dict[type[Exception], int] = {catalog.CatalogProblem: 422, ValueError: 422}
DECISION_ERRORS: dict[type[Exception], int] = {reservations.NotFound: 404, ReservationRefused: 409}


async def _change(request: Request, principal: Principal, key: str | None, method: str, path: str, body: Any,
                  use_case: Any, errors: dict[type[Exception], int]) -> Any:
    async def change(conn: Any) -> dict[str, bool]:
        await use_case(UnitOfWork(conn))
        return {"ok": True}

    _, response = await change_once(runtime_of(request).pool, principal.key, check_key(key, required=False),
                                    request_hash(method, path, body), change, errors)
    return response


@router.put("/admin/locations/{location_id}")
async def put_location(location_id: str, body: LocationBody, request: Request,
                       principal: Principal = Depends(require(Role.ADMIN)),
                       idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Any:
    """Create or update a shop, market or stall (admins)."""
    _check_id(location_id, "location")
    values = {"id": location_id, **body.model_dump()}
    return await _change(request, principal, idempotency_key, "PUT", f"/admin/locations/{location_id}",
                         body.model_dump(), lambda uow: catalog.upsert_location(uow, values), CATALOG_ERRORS)


@router.put("/admin/products/{product_id}")
async def put_product(product_id: str, body: ProductBody, request: Request,
                      principal: Principal = Depends(require(Role.ADMIN)),
                      idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Any:
    """Create or update a product, optionally setting its stock on hand (admins)."""
    _check_id(product_id, "product")
    values = {"id": product_id, **body.model_dump()}
    return await _change(request, principal, idempotency_key, "PUT", f"/admin/products/{product_id}",
                         body.model_dump(), lambda uow: catalog.upsert_product(uow, values, principal.key),
                         CATALOG_ERRORS)


def _staff_of(principal: Principal, store_id: str) -> None:
    if principal.role is Role.STORE_STAFF and principal.store != store_id:
        raise HTTPException(403, f"you work for {principal.store}, not {store_id}")


@router.post("/stores/{store_id}/orders/{order_id}/accept")
async def accept_order(store_id: str, order_id: str, request: Request,
                       principal: Principal = Depends(require(Role.STORE_STAFF)),
                       idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Any:
    """The shop takes the order on: its reservation now holds until handover."""
    _staff_of(principal, store_id)
    return await _change(request, principal, idempotency_key, "POST", f"/stores/{store_id}/orders/{order_id}/accept",
                         None, lambda uow: reservations.accept(uow, store_id, order_id, principal.key), DECISION_ERRORS)


@router.post("/stores/{store_id}/orders/{order_id}/reject")
async def reject_order(store_id: str, order_id: str, request: Request, body: RejectBody | None = None,
                       principal: Principal = Depends(require(Role.STORE_STAFF)),
                       idempotency_key: str | None = Header(None, alias="Idempotency-Key")) -> Any:
    """The shop cannot take the order: its stock goes back on sale."""
    _staff_of(principal, store_id)
    note = body.note if body else None
    return await _change(request, principal, idempotency_key, "POST", f"/stores/{store_id}/orders/{order_id}/reject",
                         {"note": note}, lambda uow: reservations.reject(uow, store_id, order_id, principal.key, note),
                         DECISION_ERRORS)
