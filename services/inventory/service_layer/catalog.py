"""Keeping the catalog: every change is published on the compacted catalog topic, so other
services' read models converge on the latest state of every location and product; every
product change is also kept with who made it and when."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.inventory.domain.shop_hours import closures_of, windows_of
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import Conflict, Invalid, NotFound
from shared.events.contracts import LocationUpserted, ProductUpserted
from shared.vocabulary.locations import LocationKind, store_of
from shared.vocabulary.units import StockUnit

# How a location works, besides what it is; kept as they are when an update leaves them out.
OPERATING = (
    "windows",
    "closures",
    "paused",
    "delivery_radius_m",
    "picking_minutes",
    "weight_tolerance_pct",
    "delivery_fee_fen",
)
PRODUCT_FIELDS = (
    "location_id",
    "name_zh",
    "name_en",
    "category",
    "unit",
    "price_fen",
    "grams_per_piece",
    "active",
    "barcode",
    "low_stock_threshold",
)


def _normalise_hours(values: dict[str, Any]) -> dict[str, Any]:
    """Windows and closures validated and stored as JSON; no windows at all means always open."""
    try:
        windows = windows_of(values.get("windows"))
        closures = closures_of(values.get("closures"))
    except ValueError as e:  # pydantic's ValidationError
        raise Invalid(f"opening hours: {e}") from e
    return {
        **values,
        "windows": [w.model_dump(mode="json") for w in windows] if windows else None,
        "closures": [c.model_dump(mode="json") for c in closures],
    }


async def upsert_location(uow: InventoryUnitOfWork, values: dict[str, Any]) -> None:
    kind = LocationKind(values["kind"])
    parent_id = values.get("parent_id")
    if kind is LocationKind.STALL:
        parent = await uow.locations.get(parent_id) if parent_id else None
        if parent is None or parent["kind"] != LocationKind.MARKET.value:
            raise Invalid(f"a stall's parent_id must be a market; {parent_id!r} is not")
    elif parent_id:
        raise Invalid(f"only a stall has a parent; a {kind.value} does not")
    existing = await uow.locations.get(values["id"])
    if existing is not None and existing["kind"] != kind.value:
        raise Invalid(f"location {values['id']!r} is a {existing['kind']}; its kind cannot change")
    if existing is not None:
        values = {**{k: existing[k] for k in OPERATING}, **values}
    values = _normalise_hours(values)
    await uow.locations.upsert(values)
    await publish_location(uow, values["id"])


async def update_location(uow: InventoryUnitOfWork, location_id: str, changes: dict[str, Any]) -> asyncpg.Record:
    """Staff change how their location works: hours, closures, the pause switch, limits, the delivery fee."""
    existing = await uow.locations.get(location_id)
    if existing is None:
        raise NotFound(f"no location {location_id!r}")
    await upsert_location(uow, {**dict(existing), **changes})
    row = await uow.locations.get(location_id)
    assert row is not None
    return row


async def publish_location(uow: InventoryUnitOfWork, location_id: str) -> None:
    row = await uow.locations.get(location_id)
    assert row is not None
    await uow.publish(
        LocationUpserted(
            location_id=row["id"],
            kind=LocationKind(row["kind"]),
            parent_id=row["parent_id"],
            category=row["category"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            lat=row["lat"],
            lon=row["lon"],
            active=row["active"],
            windows=windows_of(row["windows"]),
            closures=closures_of(row["closures"]),
            paused=row["paused"],
            delivery_radius_m=row["delivery_radius_m"],
            picking_minutes=row["picking_minutes"],
            accept_limit_s=row["accept_limit_s"],
            delivery_fee_fen=row["delivery_fee_fen"],
        )
    )


async def upsert_product(uow: InventoryUnitOfWork, values: dict[str, Any], actor: str) -> None:
    location = await uow.locations.get(values["location_id"])
    if location is None:
        raise Invalid(f"unknown location {values['location_id']!r}")
    if location["kind"] == LocationKind.MARKET.value:
        raise Invalid("a market sells through its stalls: put the product on a stall")
    unit = StockUnit(values["unit"])
    if unit is StockUnit.GRAM and not values.get("grams_per_piece"):
        raise Invalid("a weighed product (unit 'g') needs grams_per_piece, the estimated weight of one piece")
    if values.get("price_fen") is not None and values["price_fen"] < 0:
        raise Invalid("price_fen cannot be negative")
    store_id = store_of(LocationKind(location["kind"]), location["id"], location["parent_id"])
    values = {
        **values,
        "store_id": store_id,
        "grams_per_piece": values.get("grams_per_piece") if unit is StockUnit.GRAM else None,
    }
    before = await uow.products.get(values["id"])
    if before is not None and before["unit"] != unit.value and (before["reserved"] or 0) > 0:
        raise Invalid(f"{values['id']} has stock reserved for orders in {before['unit']}; its unit cannot change now")
    await uow.products.upsert(values)
    await uow.stock.ensure_row(values["id"])
    changed = {
        k: {"from": before[k] if before is not None else None, "to": values.get(k)}
        for k in PRODUCT_FIELDS
        if before is None or before[k] != values.get(k)
    }
    if changed:
        await uow.products.record_change(values["id"], actor, "created" if before is None else "updated", changed)
    if values.get("on_hand") is not None:
        await uow.stock.set_on_hand(values["id"], values["on_hand"], "counted", actor)
    await uow.publish(
        ProductUpserted(
            product_id=values["id"],
            location_id=values["location_id"],
            store_id=store_id,
            name_zh=values["name_zh"],
            name_en=values["name_en"],
            category=values["category"],
            unit=unit,
            price_fen=values["price_fen"],
            grams_per_piece=values["grams_per_piece"],
            active=values.get("active", True),
        )
    )
    await check_low_stock(uow, [values["id"]])


async def create_product(
    uow: InventoryUnitOfWork, location_id: str, values: dict[str, Any], actor: str
) -> asyncpg.Record:
    """Staff add a product to their shop or stall; its id is made up when they give none."""
    product_id = values.pop("id", None) or f"{location_id}-{uuid.uuid4().hex[:8]}"
    if await uow.products.get(product_id) is not None:
        raise Conflict(f"product {product_id!r} already exists; change it with PATCH /products/{product_id}")
    await upsert_product(uow, {**values, "id": product_id, "location_id": location_id}, actor)
    return await product_view(uow, product_id)


async def update_product(
    uow: InventoryUnitOfWork, product_id: str, changes: dict[str, Any], actor: str
) -> asyncpg.Record:
    """Names, category, price, grams per piece, barcode, active, low-stock threshold: whatever is sent."""
    existing = await uow.products.get(product_id, for_update=True)
    if existing is None:
        raise NotFound(f"no product {product_id!r}")
    if "unit" in changes and changes["unit"] != existing["unit"]:
        raise Invalid(
            f"{product_id} is sold by {existing['unit']}; a product's unit cannot change: create a new product instead"
        )
    await upsert_product(uow, {**{k: existing[k] for k in PRODUCT_FIELDS}, **changes, "id": product_id}, actor)
    return await product_view(uow, product_id)


async def product_view(uow: InventoryUnitOfWork, product_id: str) -> asyncpg.Record:
    """The product with its stock: on hand, reserved and available."""
    row = await uow.products.get(product_id)
    if row is None:
        raise NotFound(f"no product {product_id!r}")
    return row
