"""What dispatch knows about an order before anyone carries it: the facts it will need.

Dispatch learns about orders only from events. It keeps, per order, the fulfilment mode and
the latest order status, so that when a shop accepts a delivery order the order is already
known and can be planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.vocabulary.order_status import OrderStatus


class Vehicle(StrEnum):
    FOOT = "foot"
    BICYCLE = "bicycle"
    E_BIKE = "e_bike"


class RiderState(StrEnum):
    OFFLINE = "offline"
    AVAILABLE = "available"
    ON_BREAK = "on_break"
    BUSY = "busy"


@dataclass(frozen=True)
class Rider:
    id: str
    name: str
    vehicle: Vehicle
    capacity: int
    state: RiderState


# The order event that leaves an order in each status, as dispatch sees it.
STATUS_AFTER: dict[str, OrderStatus] = {
    "OrderPlaced": OrderStatus.PLACED,
    "OrderConfirmed": OrderStatus.CONFIRMED,
    "OrderRejected": OrderStatus.REJECTED,
    "OrderAccepted": OrderStatus.ACCEPTED,
    "OrderCancelled": OrderStatus.CANCELLED,
}


def awaits_rider(mode: str, status: OrderStatus) -> bool:
    """A delivery order the shop has accepted is one dispatch must plan a rider for."""
    return mode == "delivery" and status is OrderStatus.ACCEPTED
