"""The orders unit of work: every repository a use case needs, on one transaction it owns."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import asyncpg

from services.orders.adapters.circle import CircleReadModel, ShopStanding
from services.orders.adapters.following import Ratings
from services.orders.adapters.ledger import Ledger
from services.orders.adapters.repository import CatalogReadModel, OrderRepository
from services.orders.adapters.residents import NamedHelpers, Residents, SubstitutionMemory
from services.orders.domain.order import Order
from shared.unit_of_work import PostgresUnitOfWork, UnitOfWork


class OrdersUnitOfWork(UnitOfWork):
    """What the orders use cases see: PostgreSQL in production, dictionaries in unit tests."""

    orders: OrderRepository
    catalog: CatalogReadModel  # inventory's shops and products, as orders has heard of them
    ledger: Ledger  # balances and the entries that moved them
    circle: CircleReadModel  # dispatch's locker sites and promises
    standing: ShopStanding  # each shop's open orders and ratings
    residents: Residents  # those helpers registered
    named_helpers: NamedHelpers  # the helpers shoppers named
    substitutions: SubstitutionMemory  # the last substitution choice per person and product
    ratings: Ratings

    async def apply(self, order_id: str, fact: Callable[[Order], object]) -> Order | None:
        """Lock the order, let a fact from another service change it, and save it."""
        order = await self.orders.get(order_id, for_update=True)
        if order is None:
            return None
        fact(order)
        await self.orders.save(order)
        return order


class PostgresOrdersUnitOfWork(PostgresUnitOfWork, OrdersUnitOfWork):
    service: ClassVar[str] = "orders"

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.orders = OrderRepository(conn)
        self.catalog = CatalogReadModel(conn)
        self.ledger = Ledger(conn)
        self.circle = CircleReadModel(conn)
        self.standing = ShopStanding(conn)
        self.residents = Residents(conn)
        self.named_helpers = NamedHelpers(conn)
        self.substitutions = SubstitutionMemory(conn)
        self.ratings = Ratings(conn)
