"""Keeping the catalog: every change is published on the compacted catalog topic, so other
services' read models converge on the latest state of every location and product; every
product change is also kept with who made it and when."""

from __future__ import annotations

import uuid

from services.inventory.domain.catalog import KEEP, Location, LocationChanges, Product, ProductChanges, Stocked
from services.inventory.service_layer.stock_keeping import check_low_stock
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import Conflict, Invalid, NotFound
from shared.events.contracts import LocationUpserted, ProductUpserted
from shared.vocabulary.locations import LocationKind


async def upsert_location(
    uow: InventoryUnitOfWork, location_id: str, kind: LocationKind, changes: LocationChanges
) -> Location:
    """Create or redefine a shop, market or stall; how it works, where left out, stays as it was."""
    location = await uow.locations.get(location_id)
    if location is None:
        location = Location.define(location_id, kind, changes)
    else:
        location.redefine(kind, changes)
    await _save_location(uow, location)
    return location


async def update_location(uow: InventoryUnitOfWork, location_id: str, changes: LocationChanges) -> Location:
    """Staff change how their location works: hours, closures, the pause switch, limits, the delivery fee."""
    location = await uow.locations.get(location_id)
    if location is None:
        raise NotFound(f"no location {location_id!r}")
    location.change(changes)
    await _save_location(uow, location)
    return location


async def _save_location(uow: InventoryUnitOfWork, location: Location) -> None:
    location.check_parent(await uow.locations.get(location.parent_id) if location.parent_id else None)
    await uow.locations.save(location)
    await uow.publish(
        LocationUpserted(
            location_id=location.id,
            kind=location.kind,
            parent_id=location.parent_id,
            category=location.category,
            name_zh=location.name_zh,
            name_en=location.name_en,
            lat=location.lat,
            lon=location.lon,
            active=location.active,
            windows=location.windows,
            closures=location.closures,
            paused=location.paused,
            delivery_radius_m=location.delivery_radius_m,
            picking_minutes=location.picking_minutes,
            accept_limit_s=location.accept_limit_s,
            delivery_fee_fen=location.delivery_fee_fen,
        )
    )


async def _seller(uow: InventoryUnitOfWork, location_id: str) -> Location:
    location = await uow.locations.get(location_id)
    if location is None:
        raise Invalid(f"unknown location {location_id!r}")
    return location


async def upsert_product(
    uow: InventoryUnitOfWork, product_id: str, changes: ProductChanges, actor: str, *, on_hand: int | None = None
) -> Product:
    """Create or replace a product (admins); `on_hand` counts the shelf."""
    if changes.location_id is KEEP:
        raise Invalid("say which shop or stall sells the product: location_id")
    location = await _seller(uow, changes.location_id)
    before = await uow.products.get(product_id, for_update=True)
    if before is None:
        product = Product.list_at(location, product_id, changes)
    else:
        level = await uow.stock.level(product_id)
        product = before.revised(changes, location, reserved=level.reserved if level is not None else 0)
    await uow.products.save(product)
    await _product_saved(uow, product, before, actor, on_hand)
    return product


async def create_product(
    uow: InventoryUnitOfWork,
    location_id: str,
    changes: ProductChanges,
    actor: str,
    *,
    product_id: str | None = None,
    on_hand: int | None = None,
) -> Stocked:
    """Staff add a product to their shop or stall; its id is made up when they give none."""
    product_id = product_id or f"{location_id}-{uuid.uuid4().hex[:8]}"
    taken = Conflict(f"product {product_id!r} already exists; change it with PATCH /products/{product_id}")
    if await uow.products.exists(product_id):
        raise taken
    product = Product.list_at(await _seller(uow, location_id), product_id, changes)
    if not await uow.products.add(product):  # created meanwhile, by someone else
        raise taken
    await _product_saved(uow, product, None, actor, on_hand)
    return await product_view(uow, product_id)


async def update_product(uow: InventoryUnitOfWork, product_id: str, changes: ProductChanges, actor: str) -> Stocked:
    """Names, category, price, grams per piece, barcode, active, low-stock threshold: whatever is sent."""
    before = await uow.products.get(product_id, for_update=True)
    if before is None:
        raise NotFound(f"no product {product_id!r}")
    product = before.edited(changes, await _seller(uow, before.location_id))
    await uow.products.save(product)
    await _product_saved(uow, product, before, actor, None)
    return await product_view(uow, product_id)


async def _product_saved(
    uow: InventoryUnitOfWork, product: Product, before: Product | None, actor: str, on_hand: int | None
) -> None:
    """After any save of a product: its stock row, its history, the shelf count, the catalog event, its level."""
    await uow.stock.ensure_row(product.id)
    changed = product.differences(before)
    if changed:
        await uow.products.record_change(product.id, actor, "created" if before is None else "updated", changed)
    if on_hand is not None:
        await uow.stock.set_on_hand(product.id, on_hand, "counted", actor)
    await uow.publish(product_upserted(product))
    await check_low_stock(uow, [product.id])


def product_upserted(product: Product) -> ProductUpserted:
    """The product as the compacted catalog topic carries it."""
    return ProductUpserted(
        product_id=product.id,
        location_id=product.location_id,
        store_id=product.store_id,
        name_zh=product.name_zh,
        name_en=product.name_en,
        category=product.category,
        unit=product.unit,
        price_fen=product.price_fen,
        grams_per_piece=product.grams_per_piece,
        active=product.active,
    )


async def product_view(uow: InventoryUnitOfWork, product_id: str) -> Stocked:
    """The product with its stock: on hand, reserved and available."""
    found = await uow.products.stocked(product_id)
    if found is None:
        raise NotFound(f"no product {product_id!r}")
    return found
