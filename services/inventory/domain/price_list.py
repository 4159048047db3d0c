"""A shop's price list in bulk: one row per product, read from a table, checked row by row, and
classified against what the shop sells now.

A row names the product, its names in Chinese and English, its unit, its price in fen, the
estimated grams of one piece for weighed goods, the stall that sells it and the stock counted
now (absolute: the shelf as counted, not a change). Every invalid row is kept with its reason;
a plan with any invalid row is never applied, so a list is written whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from services.inventory.domain.catalog import Location, Product, ProductChanges, Stocked
from shared.errors import Invalid
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit

COLUMNS = ("product_id", "name_zh", "name_en", "unit", "price_fen", "grams_per_piece", "stall", "counted")
OPTIONAL = ("grams_per_piece", "stall", "category")  # a shop's own rows name no stall; category defaults
DEFAULT_CATEGORY = "other"
MAX_ROWS = 5000
_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_MAX_PRICE_FEN = 10_000_000
_MAX_COUNT = 100_000_000


class Change(Enum):
    """How a row differs from what is sold now."""

    NEW = "new"
    PRICE = "price"  # the price changes
    STOCK = "stock"  # the counted stock differs from on hand
    DETAILS = "details"  # names, unit, grams per piece, category or stall change


@dataclass(frozen=True)
class Row:
    """One row as read, with its line number in the file (the header is line 1)."""

    line: int
    product_id: str
    name_zh: str
    name_en: str
    unit: StockUnit
    price_fen: int
    grams_per_piece: int | None
    stall: str | None
    counted: int
    category: str | None = None


@dataclass(frozen=True)
class Refused:
    """A row that cannot be applied, and why."""

    line: int
    product_id: str | None
    reason: str


@dataclass(frozen=True)
class Planned:
    """A valid row: the product as it will be, what it was, and the counted stock."""

    row: Row
    product: Product
    before: Stocked | None
    changes: tuple[Change, ...]

    @property
    def unchanged(self) -> bool:
        return not self.changes


@dataclass
class Plan:
    location_id: str
    planned: list[Planned] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.refused

    @property
    def to_write(self) -> list[Planned]:
        return [p for p in self.planned if not p.unchanged]

    def refusal(self) -> Invalid:
        """Why applying this plan writes nothing: every invalid row, in file order."""
        reasons = "; ".join(f"line {r.line}: {r.reason}" for r in self.refused[:20])
        more = f" (and {len(self.refused) - 20} more)" if len(self.refused) > 20 else ""
        return Invalid(
            f"{len(self.refused)} row(s) of the price list are invalid, so nothing was written: {reasons}{more}",
            refused=[{"line": r.line, "product_id": r.product_id, "reason": r.reason} for r in self.refused],
        )


def _cell(values: Mapping[str, str], name: str) -> str:
    return (values.get(name) or "").strip()


def _integer(text: str, name: str, *, low: int, high: int) -> int:
    try:
        number = float(text)
    except ValueError:
        raise Invalid(f"{name} {text!r} is not a number") from None
    if not number.is_integer():
        raise Invalid(f"{name} {text!r} must be a whole number")
    value = int(number)
    if value < low:
        raise Invalid(f"{name} cannot be {'negative' if low == 0 else f'below {low}'} ({value})")
    if value > high:
        raise Invalid(f"{name} {value} is above the most allowed, {high}")
    return value


def parse_row(line: int, values: Mapping[str, str]) -> Row:
    """One row's cells by column name into a `Row`; `Invalid` says what is wrong with it."""
    product_id = _cell(values, "product_id")
    if not _ID.match(product_id):
        raise Invalid(f"product_id {product_id!r} must be 1-100 letters, digits, '.', '_' or '-'")
    names = {}
    for name in ("name_zh", "name_en"):
        names[name] = _cell(values, name)
        if not names[name] or len(names[name]) > 100:
            raise Invalid(f"{name} must be 1-100 characters")
    unit_text = _cell(values, "unit")
    try:
        unit = StockUnit(unit_text)
    except ValueError:
        raise Invalid(f"unknown unit {unit_text!r}: use 'piece' or 'g'") from None
    price = _integer(_cell(values, "price_fen"), "price_fen", low=0, high=_MAX_PRICE_FEN)
    grams_text = _cell(values, "grams_per_piece")
    grams = _integer(grams_text, "grams_per_piece", low=1, high=100_000) if grams_text else None
    if unit is StockUnit.GRAM and grams is None:
        raise Invalid("a weighed product (unit 'g') needs grams_per_piece, the estimated weight of one piece")
    counted = _integer(_cell(values, "counted"), "counted", low=0, high=_MAX_COUNT)
    category = _cell(values, "category") or None
    if category is not None and len(category) > 50:
        raise Invalid("category must be at most 50 characters")
    return Row(
        line=line,
        product_id=product_id,
        name_zh=names["name_zh"],
        name_en=names["name_en"],
        unit=unit,
        price_fen=price,
        grams_per_piece=grams if unit is StockUnit.GRAM else None,
        stall=_cell(values, "stall") or None,
        counted=counted,
        category=category,
    )


def read_rows(table: Sequence[Sequence[str]]) -> tuple[list[Row], list[Refused]]:
    """The header names the columns (in any order); each later non-empty line is one product."""
    if not table:
        raise Invalid(f"the price list is empty: its first line names the columns {', '.join(COLUMNS)}")
    header = [h.strip().lower() for h in table[0]]
    missing = [c for c in COLUMNS if c not in header and c not in OPTIONAL]
    if missing:
        raise Invalid(f"the price list's first line lacks the column(s) {', '.join(missing)}")
    if len(table) - 1 > MAX_ROWS:
        raise Invalid(f"a price list has at most {MAX_ROWS} rows; split this one of {len(table) - 1}")
    rows: list[Row] = []
    refused: list[Refused] = []
    for line, cells in enumerate(table[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        values = dict(zip(header, cells, strict=False))
        try:
            rows.append(parse_row(line, values))
        except Invalid as e:
            refused.append(Refused(line, _cell(values, "product_id") or None, e.message))
    return rows, refused


def seller_of(row: Row, location: Location, stalls: Mapping[str, Location]) -> Location:
    """Where the row's product is sold: a market's row names one of its stalls; a shop's or stall's row
    names itself or nothing."""
    if location.kind is LocationKind.MARKET:
        if row.stall is None:
            raise Invalid(f"{location.id} is a market: say which of its stalls sells {row.product_id}")
        stall = stalls.get(row.stall)
        if stall is None:
            raise Invalid(f"stall {row.stall!r} is not a stall of the market {location.id}")
        return stall
    if row.stall not in (None, location.id):
        raise Invalid(f"stall {row.stall!r} is not {location.id}, the {location.kind.value} this list is for")
    return location


def classify(product: Product, counted: int, before: Stocked | None) -> tuple[Change, ...]:
    """What applying the row changes; empty when it changes nothing."""
    if before is None:
        return (Change.NEW,)
    old = before.product
    changes: list[Change] = []
    if product.price_fen != old.price_fen:
        changes.append(Change.PRICE)
    if counted != before.on_hand:
        changes.append(Change.STOCK)
    if any(
        getattr(product, name) != getattr(old, name)
        for name in ("name_zh", "name_en", "unit", "grams_per_piece", "category", "location_id", "active")
    ):
        changes.append(Change.DETAILS)
    return tuple(changes)


def plan(
    location: Location,
    stalls: Mapping[str, Location],
    rows: Sequence[Row],
    refused: Sequence[Refused],
    existing: Mapping[str, Stocked],
) -> Plan:
    """Check every row against the shop as it is (`stalls`: the market's stalls; `existing`: the products
    the rows name, wherever they are sold) and say what each would change."""
    result = Plan(location.id, refused=list(refused))
    first_line: dict[str, int] = {}
    for row in rows:
        if row.product_id in first_line:
            again = f"duplicate product id {row.product_id}: line {first_line[row.product_id]} has it too"
            result.refused.append(Refused(row.line, row.product_id, again))
            continue
        first_line[row.product_id] = row.line
        try:
            result.planned.append(_planned(row, location, stalls, existing.get(row.product_id)))
        except Invalid as e:
            result.refused.append(Refused(row.line, row.product_id, e.message))
    result.refused.sort(key=lambda r: r.line)
    return result


def _planned(row: Row, location: Location, stalls: Mapping[str, Location], before: Stocked | None) -> Planned:
    seller = seller_of(row, location, stalls)
    changes = ProductChanges(
        location_id=seller.id,
        name_zh=row.name_zh,
        name_en=row.name_en,
        category=row.category or (before.product.category if before else DEFAULT_CATEGORY),
        unit=row.unit,
        price_fen=row.price_fen,
        grams_per_piece=row.grams_per_piece,
    )  # active stays as staff left it: a list reloaded does not bring back what they took off sale
    if before is None:
        product = Product.list_at(seller, row.product_id, changes)
    else:
        if before.product.store_id != seller.store_id:
            raise Invalid(f"product {row.product_id} is sold by {before.product.location_id}, not here")
        product = before.product.revised(changes, seller, reserved=before.reserved)
        if row.counted < before.reserved:
            raise Invalid(
                f"counted {row.counted} is below the {before.reserved} reserved for orders of {row.product_id}"
            )
    return Planned(row, product, before, classify(product, row.counted, before))
