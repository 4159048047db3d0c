"""Inventory's unit fixtures, once: an in-memory unit of work with a shop and a market of two stalls."""

from __future__ import annotations

import pytest

from tests.unit.inventory.fakes import InMemoryLocations, InventoryFakeUnitOfWork


def _location(id: str, kind: str, parent_id: str | None = None) -> dict[str, object]:
    return {
        "id": id,
        "kind": kind,
        "parent_id": parent_id,
        "name_zh": id,
        "name_en": id.title(),
        "windows": None,
        "closures": [],
        "paused": False,
        "accept_limit_s": None,
        "weight_tolerance_pct": None,
    }


@pytest.fixture
def uow() -> InventoryFakeUnitOfWork:
    fake = InventoryFakeUnitOfWork()
    fake.locations = InMemoryLocations(
        _location("shop", "shop"),
        _location("market", "market"),
        _location("fish", "stall", "market"),
        _location("veg", "stall", "market"),
    )
    for pid, loc, on_hand in (("water", "shop", 50), ("juice", "shop", 20), ("carp", "fish", 10), ("leek", "veg", 10)):
        fake.stock.shelve(pid, loc, on_hand)
    return fake
