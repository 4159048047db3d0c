"""The address book's use cases: load it from CSV, search it, and turn a picked building into a door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.orders.domain.addresses import Building, not_in_book, parse_book, split_building_id
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.events.contracts import DeliveryAddress


@dataclass(frozen=True)
class BookLoaded:
    buildings: int
    estates: int
    replaced: int  # how many buildings the book had before


async def load(uow: OrdersUnitOfWork, csv_text: str) -> BookLoaded:
    """Replace the whole book with a CSV file's buildings, or refuse the file naming each bad row."""
    buildings = parse_book(csv_text)
    was, now = await uow.addresses.replace(buildings)
    return BookLoaded(buildings=now, estates=len({b.estate_id for b in buildings}), replaced=was)


async def search(uow: OrdersUnitOfWork, query: str, limit: int = 30) -> list[Building]:
    return await uow.addresses.search(query, limit)


async def door(uow: OrdersUnitOfWork, building_id: str, unit: str | None, room: str) -> DeliveryAddress:
    """The address of a flat in a building of the book; Invalid (422) saying what to enter instead."""
    named = split_building_id(building_id)
    building = await uow.addresses.get(*named) if named else None
    if building is None:
        raise not_in_book(building_id)
    return building.door(unit, room)


async def settled(uow: OrdersUnitOfWork, address: dict[str, Any] | None) -> dict[str, Any] | None:
    """An address as the API received it (a building of the book with unit and room, or text with a
    point) as the order and the resident keep it: text, lat and lon."""
    if address is None:
        return None
    if address.get("building_id"):
        found = await door(uow, address["building_id"], address.get("unit"), address.get("room") or "")
        return found.model_dump()
    return {"text": address["text"], "lat": address["lat"], "lon": address["lon"]}


async def settled_fulfilment(uow: OrdersUnitOfWork, fulfilment: dict[str, Any]) -> dict[str, Any]:
    return {**fulfilment, "address": await settled(uow, fulfilment.get("address"))}
