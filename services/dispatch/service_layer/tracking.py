"""Recording what happens to orders, so dispatch can plan riders for them."""

from __future__ import annotations

from typing import Any

import asyncpg

from services.dispatch.adapters.repository import DispatchRepository
from services.dispatch.domain.delivery import STATUS_AFTER, awaits_rider
from shared.events.contracts import OrderPlaced
from shared.events.envelope import Event, RawEnvelope


async def record_order_event(conn: asyncpg.Connection, env: RawEnvelope, event: Event) -> None:
    repo = DispatchRepository(conn)
    order_id: str = event.order_id  # type: ignore[attr-defined]  # every order event carries both
    store_id: str = event.store_id  # type: ignore[attr-defined]
    await repo.log(env.event_id, order_id, env.type, env.occurred_at, event.model_dump(mode="json"))
    status = STATUS_AFTER[env.type]
    mode = event.fulfilment_mode if isinstance(event, OrderPlaced) else None
    known: Any = await repo.tracked(order_id)
    effective_mode = mode or (known["fulfilment_mode"] if known else None)
    await repo.track(order_id, store_id, mode, status.value, awaits_rider(effective_mode or "", status))
