"""Keeping the catalog: every change is published on the compacted catalog topic, so other
services' read models converge on the latest state of every location and product."""

from __future__ import annotations

from typing import Any

from services.inventory.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import LocationUpserted, ProductUpserted
from shared.vocabulary.locations import LocationKind, store_of
from shared.vocabulary.units import StockUnit


class CatalogProblem(Exception):
    pass


async def upsert_location(uow: UnitOfWork, values: dict[str, Any]) -> None:
    kind = LocationKind(values["kind"])
    parent_id = values.get("parent_id")
    if kind is LocationKind.STALL:
        parent = await uow.inventory.location(parent_id) if parent_id else None
        if parent is None or parent["kind"] != LocationKind.MARKET.value:
            raise CatalogProblem(f"a stall's parent_id must be a market; {parent_id!r} is not")
    elif parent_id:
        raise CatalogProblem(f"only a stall has a parent; a {kind.value} does not")
    existing = await uow.inventory.location(values["id"])
    if existing is not None and existing["kind"] != kind.value:
        raise CatalogProblem(f"location {values['id']!r} is a {existing['kind']}; its kind cannot change")
    await uow.inventory.upsert_location(values)
    await uow.publish(LocationUpserted(
        location_id=values["id"], kind=kind, parent_id=parent_id, category=values["category"],
        name_zh=values["name_zh"], name_en=values["name_en"], lat=values["lat"], lon=values["lon"],
        active=values.get("active", True)))


async def upsert_product(uow: UnitOfWork, values: dict[str, Any], actor: str) -> None:
    location = await uow.inventory.location(values["location_id"])
    if location is None:
        raise CatalogProblem(f"unknown location {values['location_id']!r}")
    if location["kind"] == LocationKind.MARKET.value:
        raise CatalogProblem("a market sells through its stalls: put the product on a stall")
    unit = StockUnit(values["unit"])
    if unit is StockUnit.GRAM and not values.get("grams_per_piece"):
        raise CatalogProblem("a weighed product (unit 'g') needs grams_per_piece, the estimated weight of one piece")
    store_id = store_of(LocationKind(location["kind"]), location["id"], location["parent_id"])
    values = {**values, "store_id": store_id, "grams_per_piece": values.get("grams_per_piece") if unit is
              StockUnit.GRAM else None}
    await uow.inventory.upsert_product(values)
    await uow.inventory.ensure_stock_row(values["id"])
    if values.get("on_hand") is not None:
        try:
            await uow.inventory.set_on_hand(values["id"], values["on_hand"], "counted", actor)
        except ValueError as e:
            raise CatalogProblem(str(e)) from e
    await uow.publish(ProductUpserted(
        product_id=values["id"], location_id=values["location_id"], store_id=store_id, name_zh=values["name_zh"],
        name_en=values["name_en"], category=values["category"], unit=unit, price_fen=values["price_fen"],
        grams_per_piece=values["grams_per_piece"], active=values.get("active", True)))
