"""Orders checks inventory's staff registry, as it has heard it, before a shop's staff read an order."""

from __future__ import annotations

import pytest

from services.orders.service_layer import reading
from shared.auth import Principal
from shared.errors import Forbidden
from shared.vocabulary.roles import Role
from tests.unit.orders.fakes import FakeOrdersUnitOfWork
from tests.unit.orders.test_orders_visibility import order

CASHIER = Principal("cashier", Role.STORE_STAFF, store="market")
TEMP = Principal("temp", Role.STORE_STAFF, store="market")


async def test_a_market_with_registered_staff_shows_its_orders_to_them_only(uow: FakeOrdersUnitOfWork) -> None:
    await uow.orders.add(order())
    assert (await reading.get_order(uow, TEMP, "o1")).id == "o1"  # nobody registered: the token's claim decides
    uow.catalog.staff["market"] = ["cashier"]  # type: ignore[attr-defined]
    assert (await reading.get_order(uow, CASHIER, "o1")).id == "o1"
    with pytest.raises(Forbidden, match="'temp' is not on the staff registry of market"):
        await reading.get_order(uow, TEMP, "o1")
    uow.catalog.staff["market"] = []  # type: ignore[attr-defined]  # the last entry revoked
    assert (await reading.get_order(uow, TEMP, "o1")).id == "o1"
