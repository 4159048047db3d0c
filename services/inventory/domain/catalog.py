"""What the shops sell and where: locations (a shop, a market, a stall of a market) and their products.

A location says how it works besides what it is: its opening hours and closures, the pause
switch, how far it delivers and for what fee, how long picking takes. A product belongs to a
shop or a stall (a market sells through its stalls) and answers for its store, the shop or
the stall's market. Changes arrive as `LocationChanges` / `ProductChanges`, in which `KEEP`
leaves a field as it is; every rule that refuses one says why (`Invalid`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar, Final, Literal

from shared.errors import Invalid
from shared.vocabulary.locations import LocationKind, store_of
from shared.vocabulary.opening_hours import ALWAYS_OPEN, Closure, Hours, Window
from shared.vocabulary.units import StockUnit


class _Keep(Enum):
    KEEP = "keep"


KEEP: Final = _Keep.KEEP  # in a change: leave this field as it is
Keep = Literal[_Keep.KEEP]

# How a location works, besides what it is: a PUT that leaves them out keeps them as they are.
OPERATING = (
    "windows",
    "closures",
    "paused",
    "delivery_radius_m",
    "picking_minutes",
    "weight_tolerance_pct",
    "delivery_fee_fen",
)


def _check_not_null(changes: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if getattr(changes, name) is None:
            raise Invalid(f"{name} cannot be null; leave it out to keep it")


def _apply(target: Any, changes: Any) -> None:
    """Copy every field of `changes` that is not KEEP onto `target`."""
    for f in dataclasses.fields(changes):
        value = getattr(changes, f.name)
        if value is not KEEP:
            setattr(target, f.name, value)


def _missing(changes: Any, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if getattr(changes, name) is KEEP]


@dataclass(frozen=True)
class LocationChanges:
    """What a PUT or PATCH of a location sends; null clears only what may be cleared."""

    NOT_NULL: ClassVar[tuple[str, ...]] = (
        "category",
        "name_zh",
        "name_en",
        "lat",
        "lon",
        "active",
        "paused",
        "delivery_radius_m",
        "picking_minutes",
        "closures",
        "delivery_fee_fen",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ("category", "name_zh", "name_en", "lat", "lon")

    parent_id: str | Keep | None = KEEP
    category: str | Keep = KEEP
    name_zh: str | Keep = KEEP
    name_en: str | Keep = KEEP
    lat: float | Keep = KEEP
    lon: float | Keep = KEEP
    active: bool | Keep = KEEP
    accept_limit_s: int | Keep | None = KEEP
    windows: list[Window] | Keep | None = KEEP  # None or []: always open
    closures: list[Closure] | Keep = KEEP
    paused: bool | Keep = KEEP
    delivery_radius_m: int | Keep = KEEP
    picking_minutes: int | Keep = KEEP
    weight_tolerance_pct: float | Keep | None = KEEP
    delivery_fee_fen: int | Keep = KEEP

    def __post_init__(self) -> None:
        _check_not_null(self, self.NOT_NULL)


@dataclass
class Location:
    id: str
    kind: LocationKind
    category: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    parent_id: str | None = None  # a stall's market
    active: bool = True
    accept_limit_s: int | None = None  # None: the market's, else the setting
    windows: list[Window] | None = None  # None: always open
    closures: list[Closure] = field(default_factory=list)
    paused: bool = False  # busy: not taking orders until switched off again
    delivery_radius_m: int = 1500
    picking_minutes: int = 10
    weight_tolerance_pct: float | None = None  # None: the setting
    delivery_fee_fen: int = 0

    def __post_init__(self) -> None:
        self.windows = self.windows or None

    @classmethod
    def define(cls, location_id: str, kind: LocationKind, changes: LocationChanges) -> Location:
        """A new location; what it works like and is left out takes the defaults."""
        missing = _missing(changes, LocationChanges.REQUIRED)
        if missing:
            raise Invalid(f"a new location needs {', '.join(missing)}")
        location = cls(location_id, kind, "", "", "", 0.0, 0.0)
        location.change(changes)
        return location

    def redefine(self, kind: LocationKind, changes: LocationChanges) -> None:
        """A PUT over an existing location: anything but its kind may change."""
        if kind is not self.kind:
            raise Invalid(f"location {self.id!r} is a {self.kind.value}; its kind cannot change")
        self.change(changes)

    def change(self, changes: LocationChanges) -> None:
        _apply(self, changes)
        self.windows = self.windows or None

    def check_parent(self, parent: Location | None) -> None:
        """A stall belongs to a market (`parent` is the location its parent_id names); nothing else has a parent."""
        if self.kind is LocationKind.STALL:
            if parent is None or parent.kind is not LocationKind.MARKET:
                raise Invalid(f"a stall's parent_id must be a market; {self.parent_id!r} is not")
        elif self.parent_id:
            raise Invalid(f"only a stall has a parent; a {self.kind.value} does not")

    def check_sells(self) -> None:
        if self.kind is LocationKind.MARKET:
            raise Invalid("a market sells through its stalls: put the product on a stall")

    @property
    def store_id(self) -> str:
        """The store an order names for goods from here: a stall's market, else the location itself."""
        return store_of(self.kind, self.id, self.parent_id)

    def hours(self, timezone: str) -> Hours:
        return Hours(
            windows=tuple(self.windows) if self.windows else ALWAYS_OPEN,
            closures=tuple(self.closures),
            paused=self.paused,
            timezone=timezone,
        )


@dataclass(frozen=True)
class ProductChanges:
    """What a PUT, POST or PATCH of a product sends; null clears only what may be cleared."""

    NOT_NULL: ClassVar[tuple[str, ...]] = (
        "location_id",
        "name_zh",
        "name_en",
        "category",
        "unit",
        "price_fen",
        "active",
    )
    REQUIRED: ClassVar[tuple[str, ...]] = ("name_zh", "name_en", "category", "unit", "price_fen")

    location_id: str | Keep = KEEP
    name_zh: str | Keep = KEEP
    name_en: str | Keep = KEEP
    category: str | Keep = KEEP
    unit: StockUnit | Keep = KEEP
    price_fen: int | Keep = KEEP  # per piece, or per kg for unit "g"
    grams_per_piece: int | Keep | None = KEEP
    active: bool | Keep = KEEP
    barcode: str | Keep | None = KEEP
    low_stock_threshold: int | Keep | None = KEEP

    def __post_init__(self) -> None:
        _check_not_null(self, self.NOT_NULL)


# What a product's history records when it changes.
PRODUCT_FIELDS = (
    "location_id",
    "name_zh",
    "name_en",
    "category",
    "unit",
    "price_fen",
    "grams_per_piece",
    "active",
    "barcode",
    "low_stock_threshold",
)


@dataclass
class Product:
    id: str
    location_id: str  # the shop or stall selling it
    store_id: str  # the shop, or the stall's market
    name_zh: str
    name_en: str
    category: str
    unit: StockUnit
    price_fen: int  # per piece, or per kg for unit "g"
    grams_per_piece: int | None = None  # a weighed product's estimated piece
    active: bool = True
    barcode: str | None = None
    low_stock_threshold: int | None = None  # LowStock fires when available falls under it

    @classmethod
    def list_at(cls, location: Location, product_id: str, changes: ProductChanges) -> Product:
        """A new product at a shop or stall."""
        missing = _missing(changes, ProductChanges.REQUIRED)
        if missing:
            raise Invalid(f"a new product needs {', '.join(missing)}")
        product = cls(product_id, location.id, location.store_id, "", "", "", StockUnit.PIECE, 0)
        _apply(product, changes)
        product._settle_at(location)
        return product

    def revised(self, changes: ProductChanges, location: Location, *, reserved: int) -> Product:
        """The product as a full PUT leaves it (at `location`, the one its location_id names).

        Its unit may change only while nothing of it is reserved: a held order counts in the old unit.
        """
        revised = copy.copy(self)  # every field is an immutable value: a shallow copy is a full one
        _apply(revised, changes)
        revised._settle_at(location)
        if revised.unit is not self.unit and reserved > 0:
            raise Invalid(f"{self.id} has stock reserved for orders in {self.unit.value}; its unit cannot change now")
        return revised

    def edited(self, changes: ProductChanges, location: Location) -> Product:
        """What staff change of their own product: anything but its unit."""
        if changes.unit is not KEEP and changes.unit is not self.unit:
            raise Invalid(
                f"{self.id} is sold by {self.unit.value}; a product's unit cannot change: create a new product instead"
            )
        return self.revised(changes, location, reserved=0)

    def _settle_at(self, location: Location) -> None:
        location.check_sells()
        if self.unit is StockUnit.GRAM and not self.grams_per_piece:
            raise Invalid("a weighed product (unit 'g') needs grams_per_piece, the estimated weight of one piece")
        if self.price_fen < 0:
            raise Invalid("price_fen cannot be negative")
        self.location_id, self.store_id = location.id, location.store_id
        if self.unit is not StockUnit.GRAM:
            self.grams_per_piece = None

    def differences(self, before: Product | None) -> dict[str, dict[str, Any]]:
        """Each catalog field that differs from `before` (every field, for a new product): from what, to what."""
        return {
            name: {"from": getattr(before, name) if before is not None else None, "to": getattr(self, name)}
            for name in PRODUCT_FIELDS
            if before is None or getattr(before, name) != getattr(self, name)
        }


@dataclass(frozen=True)
class Stocked:
    """A product with its stock, as staff and shoppers read it."""

    product: Product
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved
