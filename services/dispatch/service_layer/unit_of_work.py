"""Dispatch's unit of work: its repositories on the shared transaction, rider positions, live notes.

Live notes (what the board, the rider app and the orderer's page see as it happens) are kept
with the unit of work and appended to the Redis streams only after the commit, as before:
a change that rolled back is never shown, and a viewer who sees a note finds its effect.
With Redis away the commit still stands: its notes are lost, and the streams' clients are told
to read afresh once Redis is back (`adapters.live`).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.asyncio as aioredis

from services.dispatch.adapters.deliveries import DeliveryRepository, OfferRepository
from services.dispatch.adapters.group_trips import GroupTripRepository
from services.dispatch.adapters.live import DISPATCHERS, ORDERS, LiveNote, append
from services.dispatch.adapters.places import AlertRepository, LockerRepository, ShopRepository
from services.dispatch.adapters.repository import OrderLog, RiderPositions, RiderRepository, ShiftRepository
from services.dispatch.adapters.round_memory import RoundMemoryRepository
from services.dispatch.domain.visibility import VISIBILITY
from shared.attempts import CodeTriesRepository, PostgresCodeTries
from shared.clock import Clock
from shared.events.envelope import Envelope, Event, RawEnvelope
from shared.settings import Settings
from shared.unit_of_work import PostgresUnitOfWork, UnitOfWork


class DispatchUnitOfWork(UnitOfWork):
    """What dispatch's use cases see: named repositories, rider positions, live notes, the settings."""

    deliveries: DeliveryRepository
    offers: OfferRepository
    riders: RiderRepository
    shifts: ShiftRepository
    shops: ShopRepository
    lockers: LockerRepository
    alerts: AlertRepository
    round_memory: RoundMemoryRepository  # the rounds' holds and alerts raised, shared by every instance
    group_trips: GroupTripRepository  # group buys' one trip each
    orders: OrderLog
    positions: RiderPositions
    code_tries: CodeTriesRepository
    settings: Settings  # the durations dispatch decides by ("Dispatch" in shared/settings.py)
    live: list[LiveNote]

    def note(self, kind: str, data: dict[str, Any], order_id: str | None = None, *, to_order: bool = False) -> None:
        """A live note for the dispatchers (and riders') stream, and with `to_order` the orderer's too."""
        self.live.append(LiveNote(DISPATCHERS, kind, data, order_id))
        if to_order and order_id:
            self.live.append(LiveNote(ORDERS, kind, data, order_id))

    def _note_event(self, env: Envelope[Any], event: Event) -> None:
        data = event.model_dump(mode="json")
        order_id = getattr(event, "order_id", None)
        self.live.append(LiveNote(DISPATCHERS, env.type, VISIBILITY.for_dispatchers_stream(data), order_id))
        if order_id:
            self.live.append(LiveNote(ORDERS, env.type, VISIBILITY.for_orders_stream(data), order_id))


class PostgresDispatchUnitOfWork(PostgresUnitOfWork, DispatchUnitOfWork):
    service = "dispatch"

    def __init__(
        self,
        pool: asyncpg.Pool,
        redis: aioredis.Redis,
        settings: Settings,
        *,
        clock: Clock,
        cause: RawEnvelope | None = None,
        correlation_id: str | None = None,
        readonly: bool = False,
    ) -> None:
        super().__init__(pool, clock=clock, cause=cause, correlation_id=correlation_id, readonly=readonly)
        self._redis = redis
        self.settings = settings
        self.positions = self._positions(None)
        self.live = []

    def _positions(self, conn: asyncpg.Connection | None) -> RiderPositions:
        return RiderPositions(self._redis, conn, clock=self.clock, silent_s=self.settings.rider_silent_s)

    def _bind(self, conn: asyncpg.Connection) -> None:
        self.live = []
        self.positions = self._positions(conn)
        self.deliveries = DeliveryRepository(conn)
        self.offers = OfferRepository(conn)
        self.riders = RiderRepository(conn)
        self.shifts = ShiftRepository(conn)
        self.shops = ShopRepository(conn)
        self.lockers = LockerRepository(conn)
        self.alerts = AlertRepository(conn)
        self.round_memory = RoundMemoryRepository(conn)
        self.group_trips = GroupTripRepository(conn)
        self.orders = OrderLog(conn)
        self.code_tries = PostgresCodeTries(conn)

    async def publish(self, event: Event) -> Envelope[Any]:
        env = await super().publish(event)
        self._note_event(env, event)
        return env

    async def _commit(self) -> None:
        await super()._commit()
        notes, self.live = self.live, []
        await append(self._redis, notes)  # with Redis away, the notes are lost and the streams resync later

    async def _rollback(self) -> None:
        self.live = []
        await super()._rollback()
