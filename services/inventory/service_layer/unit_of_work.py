"""A unit of work: the inventory repositories, deadlines and the outbox on one transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.inventory.adapters.fulfilment_repository import FulfilmentRepository
from services.inventory.adapters.repository import InventoryRepository
from services.inventory.adapters.stock_repository import StockRepository
from shared import outbox
from shared.deadlines import Deadline, PostgresDeadlineStore
from shared.events.envelope import Envelope, Event, RawEnvelope, envelope

SERVICE = "inventory"


class UnitOfWork:
    def __init__(self, conn: asyncpg.Connection, cause: RawEnvelope | None = None) -> None:
        self.conn = conn
        self.inventory = InventoryRepository(conn)
        self.stock = StockRepository(conn)
        self.fulfilment = FulfilmentRepository(conn)
        self.cause = cause
        self._deadlines = PostgresDeadlineStore(pool=None)  # type: ignore[arg-type]

    async def publish(self, event: Event) -> Envelope[Any]:
        env = envelope(event, causation=self.cause)
        await outbox.record(self.conn, env, SERVICE)
        return env

    async def schedule(self, deadline: Deadline) -> None:
        await self._deadlines.schedule(self.conn, deadline)

    async def cancel_deadline(self, kind: str, key: str) -> bool:
        return await self._deadlines.cancel(self.conn, kind, key)
