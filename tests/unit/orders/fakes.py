"""In-memory repositories for the orders use cases, so service-layer tests need no PostgreSQL.

`FakeOrdersUnitOfWork` is the orders unit of work over dictionaries: one instance is one
database, shared across the units of work a test opens on it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from services.orders.domain.basket import CatalogLocation, CatalogProduct
from services.orders.domain.discovery import LockerSite, Quote
from services.orders.domain.helpers import HelpedBy, Resident
from services.orders.domain.ledger import Account, Entry, Posting, Postings
from services.orders.domain.lines import SubstitutionChoice
from services.orders.domain.order import Order
from services.orders.domain.placing import Placement, PlacingAsk, PlacingNeeds
from services.orders.domain.settlement import Book, JournalEntry
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from tests.fakes import FakeUnitOfWork


class InMemoryLedger:
    def __init__(self) -> None:
        self.balances: dict[str, int] = {}
        self.rows: list[tuple[str, str | None, Posting, str, datetime]] = []

    async def balance(self, holder: str, *, for_update: bool = False) -> int:
        return self.balances.get(holder, 0)

    async def post(
        self, holder: str, order_id: str | None, postings: list[Posting], by: str, at: datetime
    ) -> int | None:
        for p in postings:
            if p.account is Account.BALANCE:
                self.balances[holder] = self.balances.get(holder, 0) + p.amount_fen
            self.rows.append((holder, order_id, p, by, at))
        return self.balances.get(holder, 0)

    async def post_many(self, batches: Sequence[Postings]) -> None:
        for b in batches:
            await self.post(b.holder, b.order_id, b.postings, b.by, b.at)

    async def entries(self, *, holder: str | None = None, order_id: str | None = None, limit: int = 100) -> list[Entry]:
        rows = [
            Entry(n, h, oid, p.kind, p.account, p.amount_fen, None, p.note, by, at, p.desk)
            for n, (h, oid, p, by, at) in enumerate(self.rows, start=1)
        ]
        if order_id is not None:
            return [e for e in rows if e.order_id == order_id][:limit]
        return [e for e in reversed(rows) if e.holder == holder][:limit]

    def of_order(self, order_id: str) -> list[Posting]:
        return [p for _, oid, p, _, _ in self.rows if oid == order_id]

    def entries_sum(self, holder: str) -> int:
        """What the holder's balance entries add up to: the test's check that no balance moves alone."""
        return sum(p.amount_fen for h, _, p, _, _ in self.rows if h == holder and p.account is Account.BALANCE)


class InMemoryJournal:
    """Settlement's journal as a list; an entry whose `once` key was booked before is skipped, as in PostgreSQL."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def add(self, entries: Iterable[JournalEntry | None]) -> None:
        booked = {e.once for e in self.entries if e.once}
        for e in entries:
            if e is not None and (e.once is None or e.once not in booked):
                self.entries.append(e)
                booked.add(e.once)

    def balance(self, book: Book, party: str) -> int:
        return sum(ln.amount_fen for e in self.entries for ln in e.lines if ln.book is book and ln.party == party)


class InMemoryOrders:
    """Stores copies, as the database does: a change counts only once saved."""

    def __init__(self, book: InMemoryLedger) -> None:
        self.book = book
        self.rows: dict[str, Order] = {}

    async def add(self, order: Order) -> None:
        order.new_entries.clear()
        self.rows[order.id] = copy.deepcopy(order)

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        found = copy.deepcopy(self.rows.get(order_id))
        if found is not None:
            found.postings = self.book.of_order(order_id)
        return found

    async def get_many(self, order_ids: list[str], *, for_update: bool = False) -> dict[str, Order]:
        found = {i: await self.get(i) for i in sorted(set(order_ids))}
        return {i: o for i, o in found.items() if o is not None}

    async def save(self, order: Order) -> None:
        order.new_entries.clear()
        order.changed_lines.clear()
        self.rows[order.id] = copy.deepcopy(order)

    async def save_many(self, orders: list[Order]) -> None:
        for order in orders:
            await self.save(order)

    async def list_for(self, subject: str, limit: int = 50) -> list[Order]:
        mine = [o for o in self.rows.values() if subject in (o.placed_by, o.placed_for)]
        return [copy.deepcopy(o) for o in mine][:limit]


class InMemoryCatalog:
    def __init__(self) -> None:
        self.stores: dict[str, CatalogLocation] = {}
        self.goods: dict[str, CatalogProduct] = {}
        self.levels: dict[str, str] = {}
        self.staff: dict[str, list[str]] = {}

    async def staff_registered(self, location_id: str) -> list[str]:
        return self.staff.get(location_id, [])

    async def location(self, location_id: str) -> CatalogLocation | None:
        return self.stores.get(location_id)

    async def locations(self, location_ids: list[str]) -> dict[str, CatalogLocation]:
        return {i: self.stores[i] for i in location_ids if i in self.stores}

    async def products(self, product_ids: list[str]) -> dict[str, CatalogProduct]:
        return {i: self.goods[i] for i in product_ids if i in self.goods}

    async def availability(self, product_ids: list[str]) -> dict[str, str]:
        return {i: self.levels.get(i, "unknown") for i in product_ids if i in self.goods}


class InMemoryCircle:
    def __init__(self) -> None:
        self.sites: dict[str, LockerSite] = {}
        self.promises: dict[str, Quote] = {}

    async def locker_site(self, site_id: str) -> LockerSite | None:
        return self.sites.get(site_id)

    async def locker_sites(self) -> list[LockerSite]:
        return [s for s in self.sites.values() if s.active]

    async def quotes(self, location_ids: list[str]) -> dict[str, Quote]:
        return {i: self.promises[i] for i in location_ids if i in self.promises}


class InMemoryResidents:
    def __init__(self) -> None:
        self.rows: dict[str, Resident] = {}
        self.named: set[tuple[str, str]] = set()  # (shopper, helper)

    async def get(self, resident_id: str, *, for_update: bool = False) -> Resident | None:
        return copy.deepcopy(self.rows.get(resident_id))

    async def helped_by(self, helper: str, holder: str) -> HelpedBy:
        resident = self.rows.get(holder)
        return HelpedBy(
            frozenset({holder}) if resident is not None and resident.helper == helper else frozenset(),
            frozenset({holder}) if (holder, helper) in self.named else frozenset(),
        )


class InMemorySubstitutions:
    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], SubstitutionChoice] = {}

    async def recall(self, holder: str, product_ids: list[str] | None = None) -> dict[str, SubstitutionChoice]:
        return {
            pid: c
            for (h, pid), c in sorted(self.kept.items())
            if h == holder and (product_ids is None or pid in product_ids)
        }

    async def keep(self, holder: str, choices: dict[str, SubstitutionChoice]) -> None:
        for pid, c in choices.items():
            self.kept[(holder, pid)] = c


class InMemoryPlacing:
    """Placing's one read and one write, over the other in-memory repositories."""

    def __init__(self, uow: FakeOrdersUnitOfWork) -> None:
        self.uow = uow

    async def needs(self, ask: PlacingAsk) -> PlacingNeeds:
        uow = self.uow
        remembered = await uow.substitutions.recall(ask.placed_for, ask.open_ids)
        substitutes = [c.product_id for c in remembered.values() if c.product_id]
        products = await uow.catalog.products([*ask.product_ids, *substitutes])
        sites = {}
        if ask.locker_site_id is not None:
            chosen = await uow.circle.locker_site(ask.locker_site_id)
            sites = {s.site_id: s for s in [*([chosen] if chosen else []), *await uow.circle.locker_sites()]}
        helped = await uow.residents.helped_by(ask.helper, ask.placed_for) if ask.helper else HelpedBy()
        return PlacingNeeds(
            helped=helped,
            resident=await uow.residents.get(ask.placed_for) if ask.placed_for in helped.residents else None,
            remembered=remembered,
            products=products,
            locations=await uow.catalog.locations([ask.store_id, *(p.location_id for p in products.values())]),
            locker_sites=sites,
            balance_fen=await uow.ledger.balance(ask.placed_for),
            quote=(await uow.circle.quotes([ask.store_id])).get(ask.store_id),
        )

    async def save(self, placement: Placement) -> None:
        order = placement.order
        await self.uow.orders.add(order)
        if placement.paid:
            await self.uow.ledger.post(order.placed_for, order.id, placement.paid, placement.paid_by, order.created_at)
        await self.uow.substitutions.keep(order.placed_for, placement.remember)


class FakeOrdersUnitOfWork(FakeUnitOfWork, OrdersUnitOfWork):
    """The orders unit of work over dictionaries; repositories a test does not need are absent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = InMemoryLedger()  # type: ignore[assignment]
        self.journal = InMemoryJournal()  # type: ignore[assignment]
        self.orders = InMemoryOrders(self.ledger)  # type: ignore[assignment]
        self.catalog = InMemoryCatalog()  # type: ignore[assignment]
        self.circle = InMemoryCircle()  # type: ignore[assignment]
        self.residents = InMemoryResidents()  # type: ignore[assignment]
        self.substitutions = InMemorySubstitutions()  # type: ignore[assignment]
        self.placing = InMemoryPlacing(self)  # type: ignore[assignment]
