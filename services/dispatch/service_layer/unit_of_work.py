"""A unit of work: dispatch's repositories, deadlines, the outbox and live notes on one transaction."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.dispatch.adapters.deliveries import DeliveryRepository
from services.dispatch.adapters.live import DISPATCHERS, ORDERS, LiveNote
from services.dispatch.adapters.repository import DispatchRepository, RiderPositions
from shared import outbox
from shared.deadlines import Clock, Deadline, PostgresDeadlineStore, SystemClock
from shared.events.envelope import Envelope, Event, RawEnvelope, envelope
from shared.settings import Settings

SERVICE = "dispatch"
SECRET = ("handover_code", "delivery_code", "contact_phone")


class UnitOfWork:
    def __init__(
        self,
        conn: asyncpg.Connection,
        settings: Settings,
        *,
        cause: RawEnvelope | None = None,
        positions: RiderPositions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.conn = conn
        self.settings = settings
        self.cause = cause
        self.positions = positions
        self.clock = clock or SystemClock()
        self.log = DispatchRepository(conn)
        self.repo = DeliveryRepository(conn)
        self.live: list[LiveNote] = []
        self._deadlines = PostgresDeadlineStore(pool=None)  # type: ignore[arg-type]
        self._now = self.clock.now()

    def now(self) -> Any:
        """One time for the whole unit of work."""
        return self._now

    async def publish(self, event: Event) -> Envelope[Any]:
        env = envelope(event, causation=self.cause, occurred_at=self._now)
        await outbox.record(self.conn, env, SERVICE)
        data = {k: v for k, v in event.model_dump(mode="json").items() if k not in SECRET}
        order_id = getattr(event, "order_id", None)
        self.live.append(LiveNote(DISPATCHERS, env.type, {k: v for k, v in data.items() if k != "code"}, order_id))
        if order_id:
            self.live.append(LiveNote(ORDERS, env.type, data, order_id))
        return env

    def note(self, kind: str, data: dict[str, Any], order_id: str | None = None, *, to_order: bool = False) -> None:
        self.live.append(LiveNote(DISPATCHERS, kind, data, order_id))
        if to_order and order_id:
            self.live.append(LiveNote(ORDERS, kind, data, order_id))

    async def schedule(self, kind: str, key: str, due_at: Any, payload: dict[str, Any] | None = None) -> None:
        await self._deadlines.schedule(self.conn, Deadline(kind, key, due_at, payload or {}))

    async def cancel_deadline(self, kind: str, key: str) -> bool:
        return await self._deadlines.cancel(self.conn, kind, key)
