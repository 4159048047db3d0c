"""The orders unit of work: every repository a use case needs, on one transaction it owns.

In PostgreSQL the last writes of a change (a placed order, the events published, the
Idempotency-Key's answer) wait for the commit and go in one statement just before it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import asyncpg

from services.orders.adapters.address_book import AddressBook
from services.orders.adapters.cash_desk import CashDesks
from services.orders.adapters.circle import CircleReadModel, ShopStanding
from services.orders.adapters.commit import AnswersAtCommit, AtCommit
from services.orders.adapters.following import Ratings
from services.orders.adapters.group_buys import GroupBuys, GroupLeaders
from services.orders.adapters.group_trips import GroupBuyTrips
from services.orders.adapters.ledger import Ledger
from services.orders.adapters.messages import NewsStore
from services.orders.adapters.placing import PlacingStore
from services.orders.adapters.reports import ReportFacts
from services.orders.adapters.repository import CatalogReadModel, OrderRepository
from services.orders.adapters.residents import NamedHelpers, Residents, SubstitutionMemory
from services.orders.adapters.settlement import Journal
from services.orders.domain.order import Order
from shared.attempts import CodeTriesRepository, PostgresCodeTries
from shared.events.envelope import Envelope
from shared.unit_of_work import PostgresUnitOfWork, UnitOfWork


class OrdersUnitOfWork(UnitOfWork):
    """What the orders use cases see: PostgreSQL in production, dictionaries in unit tests."""

    orders: OrderRepository
    placing: PlacingStore  # what placing reads in one go, and the placed order it stores
    catalog: CatalogReadModel  # inventory's shops and products, as orders has heard of them
    ledger: Ledger  # balances and the entries that moved them
    journal: Journal  # settlement's double-entry books: entries written at commit, periods, statements
    circle: CircleReadModel  # dispatch's locker sites and promises
    standing: ShopStanding  # each shop's open orders and ratings
    residents: Residents  # those helpers registered
    named_helpers: NamedHelpers  # the helpers shoppers named
    substitutions: SubstitutionMemory  # the last substitution choice per person and product
    ratings: Ratings
    news: NewsStore  # text-message choices, moments told and the message outbox
    addresses: AddressBook  # the circle's estates and buildings
    group_buys: GroupBuys  # leaders' deals and the neighbours' shares
    group_trips: GroupBuyTrips  # how a closed deal's bags reach its pickup point
    group_leaders: GroupLeaders  # who may lead deals, with which shop
    code_tries: CodeTriesRepository  # wrong tries of group-buy bags' collection codes (shared/attempts.py)
    reports: ReportFacts  # what the reports read of the orders placed in a period
    cash_desks: CashDesks  # the service centre's desks, their receipts and day closes

    async def apply(self, order_id: str, fact: Callable[[Order], object]) -> Order | None:
        """Lock the order, let a fact from another service change it, and save it."""
        order = await self.orders.get(order_id, for_update=True)
        if order is None:
            return None
        fact(order)
        await self.orders.save(order)
        return order


class PostgresOrdersUnitOfWork(PostgresUnitOfWork, OrdersUnitOfWork):
    service: ClassVar[str] = "orders"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._at_commit = AtCommit(self.service)
        self._bound: asyncpg.Connection | None = None

    def _bind(self, conn: asyncpg.Connection) -> None:
        self._at_commit.clear()
        self._bound = conn
        self.idempotency = AnswersAtCommit(conn, self._at_commit)
        self.placing = PlacingStore(conn, self._at_commit)
        self.orders = OrderRepository(conn)
        self.catalog = CatalogReadModel(conn)
        self.journal = Journal(conn, self._at_commit)
        self.ledger = Ledger(conn, self.journal)
        self.circle = CircleReadModel(conn)
        self.standing = ShopStanding(conn)
        self.residents = Residents(conn)
        self.named_helpers = NamedHelpers(conn)
        self.substitutions = SubstitutionMemory(conn)
        self.ratings = Ratings(conn)
        self.news = NewsStore(conn)
        self.addresses = AddressBook(conn)
        self.group_buys = GroupBuys(conn, self.journal)
        self.group_trips = GroupBuyTrips(conn)
        self.group_leaders = GroupLeaders(conn)
        self.code_tries = PostgresCodeTries(conn)
        self.reports = ReportFacts(conn)
        self.cash_desks = CashDesks(conn)

    async def _record(self, env: Envelope[Any]) -> None:
        """The outbox row waits for the commit, to go with the change's other last writes."""
        assert self._bound is not None, "publish() outside `async with unit_of_work`"
        self._at_commit.events.append(env)

    async def _commit(self) -> None:
        conn, self._bound = self._bound, None
        try:
            if conn is not None:
                await self._at_commit.write(conn)
        except BaseException:
            await self._rollback()
            raise
        await super()._commit()

    async def _rollback(self) -> None:
        self._bound = None
        self._at_commit.clear()
        await super()._rollback()
