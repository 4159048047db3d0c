"""Where goods are: a shop, a market, or a stall whose parent is a market.

Products and stock belong to a location. An order names a shop or a market (its "store"), and
each line carries the location that fulfils it: the shop itself or one of the market's stalls.
"""

from __future__ import annotations

from enum import StrEnum

from shared.errors import Invalid


class LocationKind(StrEnum):
    SHOP = "shop"
    MARKET = "market"
    STALL = "stall"


def store_of(kind: LocationKind, location_id: str, parent_id: str | None) -> str:
    """The orderable store a location belongs to: a stall answers for its market."""
    if kind is LocationKind.STALL:
        if not parent_id:
            raise Invalid(f"stall {location_id} has no market: name its market as parent_id")
        return parent_id
    return location_id
