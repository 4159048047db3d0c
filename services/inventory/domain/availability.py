"""How available a product is, as a shopper searching for it sees it: in stock, low, or out.

Search needs a level, not a count: publishing every sale would flood the catalog topic and say
more about a shop's trade than a neighbour needs to know. The level changes rarely.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events.contracts import StockLevel


def level_of(available: int, low_stock_threshold: int | None) -> StockLevel:
    """Out at nothing available; low at or under the product's threshold (if it has one); else in stock."""
    if available <= 0:
        return StockLevel.OUT
    if low_stock_threshold is not None and available <= low_stock_threshold:
        return StockLevel.LOW
    return StockLevel.IN_STOCK


def level_to_publish(last_published: str | None, available: int, low_stock_threshold: int | None) -> StockLevel | None:
    """The level to publish now, or None when it is the one already published."""
    level = level_of(available, low_stock_threshold)
    return None if last_published == level.value else level


@dataclass(frozen=True)
class Watched:
    """A product's available stock beside what was last said about it (the low-stock flag, the level)."""

    product_id: str
    location_id: str
    store_id: str
    threshold: int | None
    available: int
    low_flagged: bool
    published_level: str | None

    @property
    def under_threshold(self) -> bool:
        return self.threshold is not None and self.available < self.threshold
