"""Turning what a shopper asked for into priced order lines, against the catalog read model.

Everything that can be wrong with a basket is collected and reported together, so the
shopper fixes it in one go instead of discovering problems one 422 at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.orders.domain.lines import OrderLine, SubstitutionChoice, SubstitutionMode
from shared.errors import Invalid
from shared.vocabulary.geo import Point
from shared.vocabulary.opening_hours import ALWAYS_OPEN, Closure, Hours, Window
from shared.vocabulary.units import StockUnit, line_price, stock_quantity


@dataclass(frozen=True)
class CatalogLocation:
    location_id: str
    kind: str
    parent_id: str | None
    name_zh: str
    name_en: str
    active: bool
    windows: tuple[Window, ...] | None = None  # None: always open
    closures: tuple[Closure, ...] = ()
    paused: bool = False
    delivery_radius_m: int = 1500
    picking_minutes: int = 10
    accept_limit_s: int | None = None
    delivery_fee_fen: int = 0
    point: Point | None = None  # where it is: for the delivery radius and ride times

    def hours(self, timezone: str) -> Hours:
        windows = ALWAYS_OPEN if self.windows is None else self.windows
        return Hours(windows, self.closures, self.paused, timezone=timezone)


@dataclass(frozen=True)
class CatalogProduct:
    product_id: str
    location_id: str
    store_id: str
    name_zh: str
    name_en: str
    unit: StockUnit
    price_fen: int
    grams_per_piece: int | None
    active: bool


@dataclass(frozen=True)
class Wanted:
    product_id: str
    quantity: int
    substitution: SubstitutionChoice | None = None  # None: the remembered choice for this product, else none

    @property
    def choice(self) -> SubstitutionChoice:
        return self.substitution or SubstitutionChoice()


class BasketProblem(Invalid):
    """Everything wrong with a basket (or a checkout), each problem saying what to do instead."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def price_basket(
    store: CatalogLocation | None, store_id: str, wanted: list[Wanted], products: dict[str, CatalogProduct]
) -> list[OrderLine]:
    problems: list[str] = []
    if store is None:
        raise BasketProblem([f"store {store_id!r} is not a shop or market Linli knows; see GET /stores"])
    if store.kind == "stall":
        problems.append(f"{store_id!r} is a stall; order from its market {store.parent_id!r}")
    if not store.active:
        problems.append(f"store {store_id!r} is not taking orders")
    seen: set[str] = set()
    lines: list[OrderLine] = []
    for no, item in enumerate(wanted, start=1):
        if item.product_id in seen:
            problems.append(
                f"lines[{no - 1}]: product {item.product_id!r} is listed twice; list it once with the total quantity"
            )
            continue
        seen.add(item.product_id)
        product = products.get(item.product_id)
        if product is None:
            problems.append(f"lines[{no - 1}]: unknown product {item.product_id!r}")
            continue
        if product.store_id != store_id:
            problems.append(
                f"lines[{no - 1}]: product {item.product_id!r} is sold by {product.store_id!r}, not {store_id!r}"
            )
            continue
        if not product.active:
            problems.append(f"lines[{no - 1}]: product {item.product_id!r} is no longer sold")
            continue
        if item.quantity <= 0:
            problems.append(f"lines[{no - 1}]: quantity must be at least 1")
            continue
        substitute_problem = _substitute_problem(item, store_id, products)
        if substitute_problem:
            problems.append(f"lines[{no - 1}].substitution: {substitute_problem}")
            continue
        reserved = stock_quantity(product.unit, item.quantity, product.grams_per_piece)
        lines.append(
            OrderLine(
                line_no=no,
                product_id=product.product_id,
                location_id=product.location_id,
                name_zh=product.name_zh,
                name_en=product.name_en,
                unit=product.unit.value,
                quantity=item.quantity,
                stock_quantity=reserved,
                unit_price_fen=product.price_fen,
                estimated_fen=line_price(product.unit, product.price_fen, reserved),
                substitution=item.choice,
            )
        )
    if problems:
        raise BasketProblem(problems)
    return lines


def _substitute_problem(item: Wanted, store_id: str, products: dict[str, CatalogProduct]) -> str | None:
    """A named substitute must be something this store sells now, and not the product itself."""
    choice = item.choice
    if choice.mode is not SubstitutionMode.PRODUCT:
        return None
    if not choice.product_id:
        return "mode 'product' needs the product_id of the substitute"
    if choice.product_id == item.product_id:
        return "a product cannot be its own substitute"
    substitute = products.get(choice.product_id)
    if substitute is None:
        return f"unknown product {choice.product_id!r}"
    if substitute.store_id != store_id:
        return f"product {choice.product_id!r} is sold by {substitute.store_id!r}, not {store_id!r}"
    if not substitute.active:
        return f"product {choice.product_id!r} is no longer sold"
    return None


def check_open(locations: Iterable[CatalogLocation], at: datetime, timezone: str) -> None:
    """Refuse a basket drawing on a store or stall that is closed or paused now, saying until when."""
    problems = []
    for location in locations:
        why = location.hours(timezone).why_not(at)
        if why:
            what = "stall" if location.kind == "stall" else "store"
            problems.append(f"{what} {location.name_en} ({location.name_zh}, {location.location_id!r}) {why}")
    if problems:
        raise BasketProblem(problems)
