"""What the orders unit tests share: an in-memory unit of work with a corner shop in its catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.orders.domain.basket import CatalogLocation, CatalogProduct
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.lines import OrderLine
from services.orders.domain.order import Order
from shared.settings import Settings
from shared.vocabulary.geo import Point
from shared.vocabulary.units import StockUnit
from tests.fakes import FakeClock
from tests.unit.orders.fakes import FakeOrdersUnitOfWork

TZ = Settings(service="orders").timezone
MONDAY_NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in the neighbourhood
SHOP_POINT = Point(32.04, 118.78)
HOME = {"text": "3-201 Wenchang Lane", "lat": 32.0425, "lon": 118.787}
T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)  # when the orders the tests build are placed


def placed(*, fulfilment: Fulfilment, lines: list[OrderLine], **changes: Any) -> Order:
    """Order "o1", placed at T0 by a helper for grandma at the market unless `changes` say otherwise."""
    facts: dict[str, Any] = {
        "id": "o1",
        "store_id": "market",
        "placed_by": "helper-1",
        "placed_for": "grandma",
        "placed_by_role": "helper",
        "at": T0,
    }
    return Order.place(**{**facts, **changes}, fulfilment=fulfilment, lines=lines)


@pytest.fixture
def uow() -> FakeOrdersUnitOfWork:
    """One in-memory database: a corner shop (always open) selling water and carp, delivering 1.5 km."""
    fake = FakeOrdersUnitOfWork(clock=FakeClock(MONDAY_NOON))
    fake.catalog.stores["shop"] = CatalogLocation(  # type: ignore[attr-defined]
        "shop", "shop", None, "小店", "Corner shop", True, delivery_fee_fen=300, point=SHOP_POINT
    )
    fake.catalog.goods.update(  # type: ignore[attr-defined]
        {
            "water": CatalogProduct("water", "shop", "shop", "水", "Water", StockUnit.PIECE, 200, None, True),
            "carp": CatalogProduct("carp", "shop", "shop", "草鱼", "Carp", StockUnit.GRAM, 1800, 600, True),
        }
    )
    return fake
