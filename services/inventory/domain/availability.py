"""How available a product is, as a shopper searching for it sees it: in stock, low, or out.

Search needs a level, not a count: publishing every sale would flood the catalog topic and say
more about a shop's trade than a neighbour needs to know. The level changes rarely.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.events.contracts import LowStock, StockLevel, StockLevelChanged


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


@dataclass(frozen=True)
class Notice:
    """What a change of a product's available stock calls for: the level to publish (None: unchanged), whether
    it just fell under its threshold (LowStock, once), and what is known about the product afterwards."""

    level: StockLevel | None
    fell_low: bool
    after: Watched


def notice(watched: Watched) -> Notice:
    """LowStock fires once on crossing under the threshold and is re-armed at the threshold or above; the level
    is published whenever it differs from the one last published."""
    level = level_to_publish(watched.published_level, watched.available, watched.threshold)
    fell_low = watched.under_threshold and not watched.low_flagged
    low_flagged = watched.low_flagged
    if fell_low:
        low_flagged = True
    elif watched.low_flagged and not watched.under_threshold:
        low_flagged = False  # re-armed
    after = replace(
        watched,
        published_level=level.value if level is not None else watched.published_level,
        low_flagged=low_flagged,
    )
    return Notice(level, fell_low, after)


def announcements(watched: Watched, noticed: Notice) -> list[StockLevelChanged | LowStock]:
    """The events a notice calls for: the new level, then LowStock."""
    said: list[StockLevelChanged | LowStock] = []
    if noticed.level is not None:
        said.append(
            StockLevelChanged(
                product_id=watched.product_id,
                location_id=watched.location_id,
                store_id=watched.store_id,
                level=noticed.level,
                available=max(watched.available, 0),
            )
        )
    if noticed.fell_low and watched.threshold is not None:
        said.append(
            LowStock(
                product_id=watched.product_id,
                location_id=watched.location_id,
                store_id=watched.store_id,
                available=watched.available,
                threshold=watched.threshold,
            )
        )
    return said
