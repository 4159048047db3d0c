"""A unit of work: the repositories, the ledger and the outbox, all on one open transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from services.orders.adapters.ledger import Ledger
from services.orders.adapters.repository import CatalogReadModel, OrderRepository
from services.orders.domain.order import Order
from shared import outbox
from shared.events.envelope import Envelope, Event, RawEnvelope, envelope

SERVICE = "orders"


class UnitOfWork:
    def __init__(
        self, conn: asyncpg.Connection, cause: RawEnvelope | None = None, correlation_id: str | None = None
    ) -> None:
        self.conn = conn
        self.orders = OrderRepository(conn)
        self.catalog = CatalogReadModel(conn)
        self.ledger = Ledger(conn)
        self.cause = cause
        self.correlation_id = correlation_id

    async def apply(self, order_id: str, fact: Callable[[Order], object]) -> Order | None:
        """Lock the order, let a fact from another service change it, and save it."""
        order = await self.orders.get(order_id, for_update=True)
        if order is None:
            return None
        fact(order)
        await self.orders.save(order)
        return order

    async def publish(self, event: Event) -> Envelope[Any]:
        env = envelope(event, causation=self.cause, correlation_id=self.correlation_id)
        await outbox.record(self.conn, env, SERVICE)
        return env
