"""Dispatch's unit-test fixtures, once: a unit of work over in-memory repositories (no PostgreSQL,
no Redis), with the same version rule as the real ones, and a few riders and deliveries to start from."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pytest

from services.dispatch.adapters.deliveries import Stale
from services.dispatch.domain.delivery import WITH_RIDER, Delivery, DeliveryStatus
from services.dispatch.domain.offers import Offer, OfferStatus
from services.dispatch.domain.riders import Position, Rider
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.events.envelope import Envelope, Event
from shared.settings import Settings
from tests.fakes import FakeClock, FakeUnitOfWork


def _saved(store: dict[str, Any], key: str, item: Any) -> None:
    """The version rule of the PostgreSQL repositories: a save names the version it loaded."""
    if key in store and store[key].version != item.version:
        raise Stale(f"{key} changed while this was being decided: try again")
    item.version += 1
    store[key] = copy.deepcopy(item)


class InMemoryDeliveries:
    def __init__(self) -> None:
        self.rows: dict[str, Delivery] = {}

    async def add(self, delivery: Delivery) -> bool:
        if delivery.order_id in self.rows:
            return False
        self.rows[delivery.order_id] = copy.deepcopy(delivery)
        return True

    async def get(self, order_id: str, *, lock: bool = False) -> Delivery | None:
        found = self.rows.get(order_id)
        return copy.deepcopy(found) if found else None

    async def get_many(self, order_ids: Sequence[str], *, lock: bool = False) -> list[Delivery]:
        return [copy.deepcopy(self.rows[o]) for o in order_ids if o in self.rows]

    async def save(self, delivery: Delivery) -> None:
        _saved(self.rows, delivery.order_id, delivery)

    async def save_many(self, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            await self.save(d)

    async def promise_misses(self, limit: int = 2000) -> list[tuple[str, int, float]]:
        done = [d for d in self.rows.values() if d.promise_base_at and d.promise_band is not None and d.at_door_at]
        done.sort(key=lambda d: d.at_door_at or d.promise_base_at)  # type: ignore[return-value, arg-type]
        return [
            (d.store_id, d.promise_band, (d.at_door_at - d.promise_base_at).total_seconds())  # type: ignore[misc, operator]
            for d in done[-limit:]
        ]

    async def in_status(self, statuses: Iterable[DeliveryStatus]) -> list[Delivery]:
        wanted = set(statuses)
        return [copy.deepcopy(d) for d in self.rows.values() if d.status in wanted]

    async def of_rider(self, rider_id: str, statuses: Iterable[DeliveryStatus] = WITH_RIDER) -> list[Delivery]:
        wanted = set(statuses)
        return [copy.deepcopy(d) for d in self.rows.values() if d.rider_id == rider_id and d.status in wanted]

    async def carrying(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.rows.values():
            if d.rider_id and d.status in WITH_RIDER:
                counts[d.rider_id] = counts.get(d.rider_id, 0) + 1
        return counts


class InMemoryOffers:
    def __init__(self) -> None:
        self.rows: dict[str, Offer] = {}
        self.excluded: set[tuple[str, str, str]] = set()

    async def add(self, offer: Offer) -> None:
        self.rows[offer.id] = copy.deepcopy(offer)

    async def get(self, offer_id: str, *, lock: bool = False) -> Offer | None:
        found = self.rows.get(offer_id)
        return copy.deepcopy(found) if found else None

    async def pending(
        self, *, rider_id: str | None = None, order_id: str | None = None, lapsed_at: datetime | None = None
    ) -> list[Offer]:
        return [
            copy.deepcopy(o)
            for o in self.rows.values()
            if o.status is OfferStatus.PENDING
            and rider_id in (None, o.rider_id)
            and order_id in (None, o.order_id)
            and (lapsed_at is None or o.expires_at <= lapsed_at)
        ]

    async def save(self, offer: Offer) -> None:
        _saved(self.rows, offer.id, offer)

    async def save_many(self, offers: Sequence[Offer]) -> None:
        for o in offers:
            await self.save(o)

    async def exclude(self, order_id: str, rider_id: str, reason: str) -> None:
        self.excluded.add((order_id, rider_id, reason))


class InMemoryRiders:
    def __init__(self) -> None:
        self.rows: dict[str, Rider] = {}

    async def get(self, rider_id: str, *, lock: bool = False) -> Rider | None:
        found = self.rows.get(rider_id)
        return copy.deepcopy(found) if found else None

    async def all(self) -> list[Rider]:
        return [copy.deepcopy(r) for _, r in sorted(self.rows.items())]

    async def save(self, rider: Rider) -> None:
        _saved(self.rows, rider.id, rider)


class InMemoryPositions:
    def __init__(self) -> None:
        self.at: dict[str, Position] = {}

    async def update(self, rider_id: str, lat: float, lon: float, at: float | None = None) -> None:
        self.at[rider_id] = Position(lat, lon, at or 0.0)

    async def positions(self, rider_ids: list[str]) -> dict[str, Position | None]:
        return {r: self.at.get(r) for r in rider_ids}

    live = positions


class FakeDispatchUnitOfWork(FakeUnitOfWork, DispatchUnitOfWork):
    """Dispatch's unit of work over in-memory repositories shared across units of work, like one database.

    A rolled-back unit of work keeps its repositories' writes (there is no transaction to undo);
    tests assert on what a use case refused and published, not on what a rollback restored.
    """

    def __init__(self, clock: FakeClock, settings: Settings) -> None:
        super().__init__(clock=clock)
        self.settings = settings
        self.deliveries = InMemoryDeliveries()  # type: ignore[assignment]
        self.offers = InMemoryOffers()  # type: ignore[assignment]
        self.riders = InMemoryRiders()  # type: ignore[assignment]
        self.positions = InMemoryPositions()  # type: ignore[assignment]
        self.live = []

    async def publish(self, event: Event) -> Envelope[Any]:
        env = await super().publish(event)
        self._note_event(env, event)
        return env

    def types(self) -> list[str]:
        """The types of the events committed so far, in order."""
        return [e.type for e in self.events]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def uow(clock: FakeClock) -> FakeDispatchUnitOfWork:
    return FakeDispatchUnitOfWork(clock, Settings(service="dispatch", offer_limit_s=30, door_wait_s=120))
