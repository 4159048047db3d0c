"""Inventory's unit of work: its repositories, deadlines and the outbox on one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import asyncpg

from services.inventory.adapters.batch_writes import DeadlineRows, OutboxRows
from services.inventory.adapters.catalog_repository import LocationRepository, ProductRepository
from services.inventory.adapters.fulfilment_repository import LineRepository, PartRepository, ReservationRepository
from services.inventory.adapters.stock_repository import StockRepository
from services.inventory.service_layer.policy import Policy
from shared.clock import Clock
from shared.deadlines import Deadline
from shared.events.envelope import Envelope, Event, RawEnvelope, envelope
from shared.unit_of_work import PostgresUnitOfWork, UnitOfWork


class InventoryUnitOfWork(UnitOfWork):
    """What every inventory use case runs in: PostgreSQL in production, dictionaries in unit tests;
    `policy` is the settings its rules need."""

    policy: Policy
    locations: LocationRepository
    products: ProductRepository
    stock: StockRepository
    reservations: ReservationRepository
    parts: PartRepository
    lines: LineRepository

    async def publish_many(self, items: Sequence[tuple[RawEnvelope | None, Event]]) -> None:
        """Publish each event, in order, as the answer to its cause (a run's events answer different ones)."""
        for cause, event in items:
            self.cause = cause
            await self.publish(event)

    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None:
        """Schedule each deadline, as `schedule` does one."""
        for deadline in deadlines:
            await self.deadlines.schedule(deadline)


class PostgresInventoryUnitOfWork(PostgresUnitOfWork, InventoryUnitOfWork):
    service: ClassVar[str] = "inventory"

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        clock: Clock,
        policy: Policy,
        cause: RawEnvelope | None = None,
        correlation_id: str | None = None,
        readonly: bool = False,
    ) -> None:
        super().__init__(pool, clock=clock, cause=cause, correlation_id=correlation_id, readonly=readonly)
        self.policy = policy

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.locations = LocationRepository(conn)
        self.products = ProductRepository(conn)
        self.stock = StockRepository(conn)
        self.reservations = ReservationRepository(conn)
        self.parts = PartRepository(conn)
        self.lines = LineRepository(conn)
        self._outbox_rows = OutboxRows(conn)
        self._deadline_rows = DeadlineRows(conn)

    async def publish_many(self, items: Sequence[tuple[RawEnvelope | None, Event]]) -> None:
        """As the base class does, in one statement for them all."""
        published: list[Envelope[Any]] = []
        for cause, event in items:
            self.cause = cause
            published.append(
                envelope(event, causation=cause, correlation_id=self.correlation_id, occurred_at=self.now())
            )
        await self._outbox_rows.record_many(published, self.service)
        self.published.extend(published)

    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None:
        """As the base class does, in one statement for them all."""
        await self._deadline_rows.schedule_many(deadlines)
