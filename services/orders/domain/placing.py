"""What placing an order reads and writes, each in one go.

Placing needs facts from several read models and tables (who the order is for, their
remembered substitution choices, the shop, its products and stalls, a locker site, the
balance). `PlacingAsk` says which, so the adapters can fetch them all in one statement; the
checkout rules then run on the `PlacingNeeds` that come back. A `Placement` is what placing
stores: the order with its lines and timeline, the payment from the balance, and the choices
to remember.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.orders.domain import ledger
from services.orders.domain.basket import CatalogLocation, CatalogProduct
from services.orders.domain.discovery import LockerSite, Quote
from services.orders.domain.helpers import HelpedBy, Resident
from services.orders.domain.lines import SubstitutionChoice
from services.orders.domain.order import Order


@dataclass(frozen=True)
class PlacingAsk:
    """Which facts a checkout needs; `placed_for` is known before anything is read."""

    placed_for: str  # the shopper themselves, or whom a helper orders for
    store_id: str
    product_ids: list[str]  # the products asked for and the substitutes the request names
    open_ids: list[str]  # the products whose substitution the request leaves to what was remembered
    helper: str | None = None  # a helper ordering on someone's behalf: whether and how they help them
    locker_site_id: str | None = None
    lock_balance: bool = False  # placing a maybe-prepaid order: the balance row stays locked until commit


@dataclass(frozen=True)
class PlacingNeeds:
    """The facts a checkout decides on, as they were when read (the balance locked if asked)."""

    helped: HelpedBy = field(default_factory=HelpedBy)  # whom the asking helper helps, of `placed_for`
    resident: Resident | None = None  # the helper's resident the order is for
    remembered: dict[str, SubstitutionChoice] = field(default_factory=dict)  # of `open_ids`
    products: dict[str, CatalogProduct] = field(default_factory=dict)  # asked, named and remembered substitutes
    locations: dict[str, CatalogLocation] = field(default_factory=dict)  # the store and every product's location
    locker_sites: dict[str, LockerSite] = field(default_factory=dict)  # the chosen site and every active one
    balance_fen: int = 0  # of `placed_for`; 0 for someone never topped up
    quote: Quote | None = None  # dispatch's latest PromiseQuoted for the store: the promise the checkout shows


@dataclass
class Placement:
    """A placed order and what its placing stores with it, all or nothing."""

    order: Order
    paid: list[ledger.Posting] = field(default_factory=list)  # the debit of a prepaid order's shown total
    paid_by: str = ""  # who placed it, as the ledger entry's `by`
    remember: dict[str, SubstitutionChoice] = field(default_factory=dict)  # by product: choices the request gave
