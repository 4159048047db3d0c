"""Every event Linli publishes, once, for producers and consumers alike.

Changing a field here changes a contract between services: add optional fields freely, and
bump `schema_version` for anything a reader of the old version could not understand.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import Event, register
from shared.events.topics import CATALOG, INVENTORY, ORDERS, Topic
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.units import StockUnit


class _OrderEvent(Event):
    topic: ClassVar[Topic] = ORDERS
    order_id: str
    store_id: str

    def key(self) -> str:
        return self.order_id


class _InventoryEvent(_OrderEvent):
    topic: ClassVar[Topic] = INVENTORY


class OrderedLine(Event):
    line_no: int = Field(ge=1)
    product_id: str
    location_id: str = Field(description="the shop or stall that fulfils this line")
    quantity: int = Field(ge=1, description="pieces ordered")
    unit: StockUnit
    stock_quantity: int = Field(ge=1, description="stock to reserve, in the product's unit")


@register
class OrderPlaced(_OrderEvent):
    """A shopper (or a helper for a resident) placed an order; inventory should reserve its stock."""

    placed_by: str
    placed_for: str
    fulfilment_mode: str
    lines: list[OrderedLine] = Field(min_length=1)
    total_fen: int = Field(ge=0)


@register
class OrderConfirmed(_OrderEvent):
    """Every line's stock is reserved; the order now waits for the shop to accept it."""


@register
class OrderRejected(_OrderEvent):
    reason: str
    details: dict[str, object] = Field(default_factory=dict)


@register
class OrderAccepted(_OrderEvent):
    """The shop accepted the order: its reservation holds until handover or release."""


@register
class OrderCancelled(_OrderEvent):
    """The shopper or helper cancelled; whatever the order holds must be released."""

    cancelled_by: str
    previous_status: OrderStatus


class ReservedLine(Event):
    line_no: int
    product_id: str
    location_id: str
    quantity: int = Field(ge=1, description="in the product's unit")


class ShortLine(Event):
    product_id: str
    location_id: str | None = None
    requested: int
    available: int
    unit: StockUnit | None = None


@register
class StockReserved(_InventoryEvent):
    """All lines reserved at once; the reservation lapses at `accept_deadline` unless accepted."""

    lines: list[ReservedLine]
    accept_deadline: datetime


@register
class StockRejected(_InventoryEvent):
    """Nothing was reserved, because these lines could not be."""

    reason: str
    short_lines: list[ShortLine]


@register
class StockReleased(_InventoryEvent):
    """A reservation was given back to available stock."""

    reason: str


@register
class ShopAccepted(_InventoryEvent):
    accepted_by: str


@register
class ShopRejected(_InventoryEvent):
    """The shop said no, or let the accept limit pass (`shop_timeout`)."""

    reason: str
    note: str | None = None


class _CatalogEvent(Event):
    topic: ClassVar[Topic] = CATALOG


@register
class LocationUpserted(_CatalogEvent):
    """The latest state of a shop, market or stall."""

    location_id: str
    kind: LocationKind
    parent_id: str | None = None
    category: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    active: bool = True

    def key(self) -> str:
        return f"location:{self.location_id}"


@register
class ProductUpserted(_CatalogEvent):
    """The latest state of a product; prices are fen per piece, or per kg for weighed goods."""

    product_id: str
    location_id: str
    store_id: str
    name_zh: str
    name_en: str
    category: str
    unit: StockUnit
    price_fen: int = Field(ge=0)
    grams_per_piece: int | None = Field(None, ge=1)
    active: bool = True

    def key(self) -> str:
        return f"product:{self.product_id}"


def events_on(topic: Topic) -> list[type[Event]]:
    from shared.events.envelope import event_types

    return [cls for cls in event_types().values() if cls.topic == topic]
