"""PromiseQuoted: what each shop could promise now, from the same riders and queues the rounds see.

One query per round gathers every shop's picking time, queue, nearest free rider and last quote;
only the shops whose quote moved (domain/promises.py `should_requote`) are published and saved.
At most `MAX_PER_ROUND` go out in one round, real changes before mere ten-minute refreshes, so a
start-up with thousands of shops never makes one round long: the rest follow in the next rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from services.dispatch.domain.assignment import RiderView
from services.dispatch.domain.promises import Quote, shop_ready_s, should_requote
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.events.contracts import PromiseQuoted
from shared.vocabulary.geo import DETOUR, speed_mps

MAX_PER_ROUND = 200
_NEVER = timedelta.max  # "would it be re-quoted if age did not matter?"


async def quote_promises(uow: DispatchUnitOfWork, riders: Sequence[RiderView]) -> int:
    """Publish PromiseQuoted for the shops whose quote changed; returns how many were published."""
    now = uow.now()
    free = [(v.position.lat, v.position.lon, speed_mps(v.vehicle) / DETOUR) for v in riders]
    due: list[tuple[bool, str, Quote]] = []
    for shop in await uow.shops.quote_inputs(free, now):
        new = Quote(shop_ready_s(shop.picking_minutes, shop.queued, now), shop.rider_to_shop_s, len(free))
        if should_requote(shop.last, shop.last_quoted_at, new, now):
            changed = should_requote(shop.last, shop.last_quoted_at, new, now, every=_NEVER)
            due.append((not changed, shop.location_id, new))
    due.sort(key=lambda item: item[0])  # changes first, refreshes after (stable: by location id)
    saved: list[tuple[str, Quote, datetime]] = []
    for _, location_id, quote in due[:MAX_PER_ROUND]:
        saved.append((location_id, quote, now))
        await uow.publish(
            PromiseQuoted(
                location_id=location_id,
                ready_minutes=quote.ready_minutes,
                rider_to_shop_minutes=quote.rider_to_shop_minutes,
                riders_available=quote.riders_available,
                quoted_at=now,
            )
        )
    if saved:
        await uow.shops.save_quotes(saved)
    return len(saved)
