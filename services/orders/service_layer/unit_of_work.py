"""A unit of work: the repositories and the outbox, all on one open transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.orders.adapters.repository import CatalogReadModel, OrderRepository
from shared import outbox
from shared.events.envelope import Envelope, Event, RawEnvelope, envelope

SERVICE = "orders"


class UnitOfWork:
    def __init__(self, conn: asyncpg.Connection, cause: RawEnvelope | None = None,
                 correlation_id: str | None = None) -> None:
        self.conn = conn
        self.orders = OrderRepository(conn)
        self.catalog = CatalogReadModel(conn)
        self.cause = cause
        self.correlation_id = correlation_id

    async def publish(self, event: Event) -> Envelope[Any]:
        env = envelope(event, causation=self.cause, correlation_id=self.correlation_id)
        await outbox.record(self.conn, env, SERVICE)
        return env
