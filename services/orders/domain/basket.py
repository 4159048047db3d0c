"""Turning what a shopper asked for into priced order lines, against the catalog read model.

Everything that can be wrong with a basket is collected and reported together, so the
shopper fixes it in one go instead of discovering problems one 422 at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.domain.order import OrderLine
from shared.vocabulary.units import StockUnit, line_price, stock_quantity


@dataclass(frozen=True)
class CatalogLocation:
    location_id: str
    kind: str
    parent_id: str | None
    name_zh: str
    name_en: str
    active: bool


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


class BasketProblem(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def price_basket(store: CatalogLocation | None, store_id: str, wanted: list[Wanted],
                 products: dict[str, CatalogProduct]) -> list[OrderLine]:
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
            problems.append(f"lines[{no - 1}]: product {item.product_id!r} is listed twice; list it once "
                            "with the total quantity")
            continue
        seen.add(item.product_id)
        product = products.get(item.product_id)
        if product is None:
            problems.append(f"lines[{no - 1}]: unknown product {item.product_id!r}")
            continue
        if product.store_id != store_id:
            problems.append(f"lines[{no - 1}]: product {item.product_id!r} is sold by {product.store_id!r}, "
                            f"not {store_id!r}")
            continue
        if not product.active:
            problems.append(f"lines[{no - 1}]: product {item.product_id!r} is no longer sold")
            continue
        if item.quantity <= 0:
            problems.append(f"lines[{no - 1}]: quantity must be at least 1")
            continue
        reserved = stock_quantity(product.unit, item.quantity, product.grams_per_piece)
        lines.append(OrderLine(
            line_no=no, product_id=product.product_id, location_id=product.location_id,
            name_zh=product.name_zh, name_en=product.name_en, unit=product.unit.value, quantity=item.quantity,
            stock_quantity=reserved, unit_price_fen=product.price_fen,
            estimated_fen=line_price(product.unit, product.price_fen, reserved)))
    if problems:
        raise BasketProblem(problems)
    return lines
