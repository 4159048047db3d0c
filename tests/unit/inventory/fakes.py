"""Inventory's unit of work in memory: the repositories the use cases need, without PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from services.inventory.domain.availability import Watched
from services.inventory.domain.catalog import Location, Product, Stocked
from services.inventory.domain.fulfilment import Part
from services.inventory.domain.picking import Line
from services.inventory.domain.reservation import Reservation
from services.inventory.domain.stock import Hold, Movement, StockLevel
from services.inventory.service_layer.policy import Policy
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.settings import Settings
from shared.vocabulary.locations import LocationKind
from tests.fakes import FakeUnitOfWork

POLICY = Policy.from_settings(Settings(service="inventory", accept_limit_s=600))


def location(location_id: str, kind: LocationKind, parent_id: str | None = None, **more: object) -> Location:
    """A location named after its id, always open."""
    return Location(location_id, kind, "c", location_id, location_id.title(), 32.0, 118.0, parent_id=parent_id, **more)  # type: ignore[arg-type]


class InMemoryLocations:
    def __init__(self, *locations: Location) -> None:
        self.rows = {loc.id: copy.deepcopy(loc) for loc in locations}

    async def get(self, location_id: str) -> Location | None:
        found = self.rows.get(location_id)
        return copy.deepcopy(found) if found is not None else None

    async def get_many(self, location_ids: Sequence[str]) -> dict[str, Location]:
        wanted = set(location_ids)
        wanted |= {loc.parent_id for lid, loc in self.rows.items() if lid in wanted and loc.parent_id}
        return {lid: copy.deepcopy(loc) for lid, loc in self.rows.items() if lid in wanted}

    async def save(self, location: Location) -> None:
        self.rows[location.id] = copy.deepcopy(location)


class InMemoryProducts:
    """Products, each with its stock row in `InMemoryStock` (as the tables are), and their history."""

    def __init__(self, stock: InMemoryStock) -> None:
        self.rows: dict[str, Product] = {}
        self.stock = stock
        self.history: list[tuple[str, str, str, dict[str, Any]]] = []

    async def get(self, product_id: str, *, for_update: bool = False) -> Product | None:
        found = self.rows.get(product_id)
        return copy.deepcopy(found) if found is not None else None

    async def exists(self, product_id: str) -> bool:
        return product_id in self.rows

    async def add(self, product: Product) -> bool:
        if product.id in self.rows:
            return False
        await self.save(product)
        return True

    async def save(self, product: Product) -> None:
        self.rows[product.id] = copy.deepcopy(product)
        level = self.stock.levels.get(product.id)
        if level is not None:
            level.location_id, level.unit = product.location_id, product.unit.value

    async def stocked(self, product_id: str) -> Stocked | None:
        product, level = self.rows.get(product_id), self.stock.levels.get(product_id)
        return Stocked(copy.deepcopy(product), level.on_hand, level.reserved) if product and level else None

    async def record_change(self, product_id: str, actor: str, change: str, details: dict[str, Any]) -> None:
        self.history.append((product_id, actor, change, details))


class InMemoryReservations:
    """Loads hand out copies and saves check the version, as the PostgreSQL repository does."""

    def __init__(self) -> None:
        self.rows: dict[str, Reservation] = {}

    async def get(self, order_id: str, *, for_update: bool = False) -> Reservation | None:
        found = self.rows.get(order_id)
        return copy.deepcopy(found) if found is not None else None

    async def get_many(self, order_ids: Sequence[str], *, for_update: bool = False) -> dict[str, Reservation]:
        return {i: copy.deepcopy(self.rows[i]) for i in sorted(set(order_ids)) if i in self.rows}

    async def add(self, res: Reservation) -> None:
        self.rows[res.order_id] = copy.deepcopy(res)

    async def add_many(self, reservations: Sequence[Reservation]) -> None:
        for res in reservations:
            await self.add(res)

    async def save(self, res: Reservation) -> None:
        await self.save_many([res])

    async def save_many(self, reservations: Sequence[Reservation]) -> None:
        from services.inventory.adapters.fulfilment_repository import StaleVersion

        for res in reservations:
            if self.rows[res.order_id].version != res.version:
                raise StaleVersion(f"order(s) {res.order_id} changed meanwhile; nothing was saved: try again")
        for res in reservations:
            res.version += 1
            self.rows[res.order_id] = copy.deepcopy(res)


class InMemoryParts:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], Part] = {}

    async def of_order(self, order_id: str) -> list[Part]:
        return await self.get_many([order_id])

    async def get_many(self, order_ids: Sequence[str]) -> list[Part]:
        return [copy.deepcopy(p) for key, p in sorted(self.rows.items()) if key[0] in order_ids]

    async def add_many(self, parts: Sequence[Part]) -> None:
        for p in parts:
            self.rows[(p.order_id, p.location_id)] = copy.deepcopy(p)

    async def save(self, part: Part) -> None:
        await self.save_many([part])

    async def save_many(self, parts: Sequence[Part]) -> None:
        for p in parts:
            assert self.rows[(p.order_id, p.location_id)].version == p.version, "stale part"
        for p in parts:
            p.version += 1
            self.rows[(p.order_id, p.location_id)] = copy.deepcopy(p)


class InMemoryLines:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, int], Line] = {}
        self.recorded: list[tuple[str, int, str, str]] = []

    async def of_order(self, order_id: str, location_id: str | None = None) -> list[Line]:
        return [
            copy.deepcopy(ln)
            for (o, _), ln in sorted(self.rows.items())
            if o == order_id and location_id in (None, ln.location_id)
        ]

    async def get(self, order_id: str, line_no: int) -> Line | None:
        found = self.rows.get((order_id, line_no))
        return copy.deepcopy(found) if found is not None else None

    async def add_many(self, lines: Sequence[Line]) -> None:
        for ln in lines:
            self.rows[(ln.order_id, ln.line_no)] = copy.deepcopy(ln)

    async def save(self, line: Line) -> None:
        await self.save_many([line])

    async def save_many(self, lines: Sequence[Line]) -> None:
        for ln in lines:
            self.rows[(ln.order_id, ln.line_no)] = copy.deepcopy(ln)

    async def record(self, order_id: str, line_no: int, actor: str, action: str, details: dict[str, Any]) -> None:
        self.recorded.append((order_id, line_no, actor, action))


class InMemoryStock:
    """Levels and holds; every movement only as far as the use cases below need it."""

    def __init__(self) -> None:
        self.levels: dict[str, StockLevel] = {}
        self.held: list[Hold] = []
        self.committed: list[tuple[str, int]] = []

    def shelve(self, product_id: str, location_id: str, on_hand: int, unit: str = "piece") -> None:
        self.levels[product_id] = StockLevel(product_id, location_id, unit, on_hand, 0)

    async def lock(self, product_ids: Iterable[str]) -> dict[str, StockLevel]:
        return {pid: self.levels[pid] for pid in sorted(set(product_ids)) if pid in self.levels}

    async def lock_for_orders(self, product_ids: Iterable[str]) -> tuple[dict[str, StockLevel], dict[str, Watched]]:
        return await self.lock(product_ids), {}  # no thresholds and no levels to publish in these tests

    async def save_reserved(
        self,
        levels: Sequence[StockLevel],
        watched: Mapping[str, Watched],
        movements: Sequence[Movement],
        holds: Sequence[Hold],
        actor: str,
    ) -> None:
        self.levels.update({lvl.product_id: lvl for lvl in levels})
        self.held += holds

    async def holds(self, order_id: str, line_no: int | None = None) -> list[Hold]:
        return [h for h in self.held if h.order_id == order_id and line_no in (None, h.line_no)]

    async def release_line(self, order_id: str, line_no: int, reason: str, actor: str) -> None:
        for h in await self.holds(order_id, line_no):
            self.levels[h.product_id].reserved -= h.quantity
            self.held.remove(h)

    async def commit_line(self, order_id: str, line_no: int, reason: str, actor: str) -> None:
        for h in await self.holds(order_id, line_no):
            level = self.levels[h.product_id]
            level.on_hand -= h.quantity
            level.reserved -= h.quantity
            self.held.remove(h)
        self.committed.append((order_id, line_no))

    async def watched(self, product_ids: Iterable[str]) -> list[Any]:
        return []  # no thresholds and no levels to publish in these tests

    async def level(self, product_id: str) -> StockLevel | None:
        return self.levels.get(product_id)

    async def ensure_row(self, product_id: str) -> None:
        self.levels.setdefault(product_id, StockLevel(product_id, "", "piece", 0, 0))

    async def set_on_hand(self, product_id: str, on_hand: int, reason: str, actor: str) -> None:
        self.levels[product_id].on_hand = on_hand


class InventoryFakeUnitOfWork(FakeUnitOfWork, InventoryUnitOfWork):
    """One in-memory database shared by every unit of work made from it."""

    def __init__(self, *, policy: Policy = POLICY, **kw: Any) -> None:
        super().__init__(**kw)
        self.policy = policy
        self.locations = InMemoryLocations()  # type: ignore[assignment]
        self.stock = InMemoryStock()  # type: ignore[assignment]
        self.products = InMemoryProducts(self.stock)  # type: ignore[assignment]
        self.reservations = InMemoryReservations()  # type: ignore[assignment]
        self.parts = InMemoryParts()  # type: ignore[assignment]
        self.lines = InMemoryLines()  # type: ignore[assignment]
