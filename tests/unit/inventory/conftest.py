"""Inventory's unit fixtures, once: an in-memory unit of work with a shop and a market of two stalls."""

from __future__ import annotations

import pytest

from shared.vocabulary.locations import LocationKind
from tests.unit.inventory.fakes import InMemoryLocations, InventoryFakeUnitOfWork, location


@pytest.fixture
def uow() -> InventoryFakeUnitOfWork:
    fake = InventoryFakeUnitOfWork()
    fake.locations = InMemoryLocations(  # type: ignore[assignment]
        location("shop", LocationKind.SHOP),
        location("market", LocationKind.MARKET),
        location("fish", LocationKind.STALL, "market"),
        location("veg", LocationKind.STALL, "market"),
    )
    for pid, loc, on_hand in (("water", "shop", 50), ("juice", "shop", 20), ("carp", "fish", 10), ("leek", "veg", 10)):
        fake.stock.shelve(pid, loc, on_hand)
    return fake
