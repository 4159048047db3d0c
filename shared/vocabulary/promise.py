"""The last leg of a delivery promise, the one rule dispatch and orders both apply.

Dispatch quotes each shop (`PromiseQuoted`): when a new order's bag would be packed, and per
vehicle the earliest a rider reaches the shop after the orders ahead. The promise to a door is
the best of those riders: wait for the bag, hand over at the counter, ride to the door, hand over
there, plus the quote's slack. Dispatch's forecast (services/dispatch/domain/promises.py) and the
checkout (services/orders) compute the same whole minutes from the same quote.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from shared.vocabulary.geo import Point, travel_s

HANDOVER_S = 60.0  # the handover at the counter (the promise is the rider at the door)


@dataclass(frozen=True)
class PickupChance:
    """The earliest a rider on this vehicle can be at the shop, in whole minutes from the quote."""

    vehicle: str
    at_shop_minutes: int


def door_minutes(
    ready_minutes: int, chances: Sequence[PickupChance], slack_minutes: int, shop: Point, door: Point
) -> int | None:
    """Minutes from now to the door by the best of `chances`; None when no rider can come."""
    if not chances:
        return None
    return slack_minutes + min(
        max(ready_minutes, c.at_shop_minutes) + math.ceil((travel_s(shop, door, c.vehicle) + HANDOVER_S) / 60 - 1e-9)
        for c in chances
    )
