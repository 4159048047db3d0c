"""How an order reaches the shopper: every service speaks these names."""

from __future__ import annotations

from enum import StrEnum


class FulfilmentMode(StrEnum):
    DELIVERY = "delivery"  # a rider brings it to the door, now or in a slot
    PICKUP = "pickup"  # the shopper collects it at the counter with the handover code
    LOCKER = "locker"  # a rider leaves it in a smart-locker compartment

    @property
    def dispatched(self) -> bool:
        """Whether a rider carries it (and so dispatch plans it)."""
        return self is not FulfilmentMode.PICKUP
