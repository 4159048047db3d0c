"""Inventory's unit of work: its repositories, deadlines and the outbox on one transaction."""

from __future__ import annotations

from typing import ClassVar

import asyncpg

from services.inventory.adapters.catalog_repository import LocationRepository, ProductRepository
from services.inventory.adapters.fulfilment_repository import LineRepository, PartRepository, ReservationRepository
from services.inventory.adapters.group_buys import DealStockRepository
from services.inventory.adapters.staff_registry import StaffRegistryRepository
from services.inventory.adapters.stock_repository import StockRepository
from services.inventory.service_layer.policy import Policy
from shared.attempts import CodeTriesRepository, PostgresCodeTries
from shared.clock import Clock
from shared.events.envelope import RawEnvelope
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
    code_tries: CodeTriesRepository
    deal_stock: DealStockRepository  # what group buys hold, and their packing lists
    staff: StaffRegistryRepository  # who may act for which location


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
        self.code_tries = PostgresCodeTries(conn)
        self.deal_stock = DealStockRepository(conn)
        self.staff = StaffRegistryRepository(conn)
