"""What dispatch knows about an order before anyone carries it: the facts it will need.

Dispatch learns about orders only from events. It keeps, per order, the fulfilment mode and
the latest order status, so that when a shop accepts a delivery order the order is already
known and can be planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from shared.vocabulary.money import format_yuan
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


# ---------------------------------------------------------------------------------------------
# A delivery: from the order being placed to the bag at the door (or in a locker).


class Refused(Exception):
    """The action is not allowed now (409)."""


class WrongCode(Exception):
    """A handover, delivery or locker code that does not match (422)."""


class Missing(Exception):
    """Something the action needs was not sent (422)."""


class NotFound(Exception):
    """No such delivery, offer, rider or locker for this caller (404)."""


class Forbidden(Exception):
    """The caller may not act on this (403)."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # placed; the shop has not accepted it yet
    OPEN = "open"  # accepted: needs a rider
    ASSIGNED = "assigned"
    AT_SHOP = "at_shop"
    PICKED_UP = "picked_up"
    AT_DOOR = "at_door"
    DELIVERED = "delivered"
    FAILED = "failed"
    IN_LOCKER = "in_locker"
    COLLECTED = "collected"
    EXPIRED = "expired"  # left in the locker too long
    PICKUP_OFFERED = "pickup_offered"  # no rider: the shopper may collect
    DROPPED = "dropped"  # cancelled, rejected, or switched to pickup
    ABANDONED = "abandoned"  # no rider and no pickup


class Step(StrEnum):
    AT_SHOP = "at-shop"
    PICKED_UP = "picked-up"
    AT_DOOR = "at-door"
    DELIVERED = "delivered"
    FAILED = "failed"
    LOCKER_DEPOSIT = "locker-deposit"


CARRYING = frozenset({DeliveryStatus.PICKED_UP, DeliveryStatus.AT_DOOR})
BEFORE_PICKUP = frozenset({DeliveryStatus.ASSIGNED, DeliveryStatus.AT_SHOP})
WITH_RIDER = BEFORE_PICKUP | CARRYING
FINISHED = frozenset(
    {
        DeliveryStatus.DELIVERED,
        DeliveryStatus.FAILED,
        DeliveryStatus.COLLECTED,
        DeliveryStatus.EXPIRED,
        DeliveryStatus.DROPPED,
        DeliveryStatus.ABANDONED,
    }
)
DROPPABLE = frozenset({DeliveryStatus.PENDING, DeliveryStatus.OPEN, DeliveryStatus.PICKUP_OFFERED}) | BEFORE_PICKUP

# Which step each step follows.
_AFTER: dict[Step, DeliveryStatus] = {
    Step.AT_SHOP: DeliveryStatus.ASSIGNED,
    Step.PICKED_UP: DeliveryStatus.AT_SHOP,
    Step.AT_DOOR: DeliveryStatus.PICKED_UP,
    Step.DELIVERED: DeliveryStatus.AT_DOOR,
    Step.FAILED: DeliveryStatus.AT_DOOR,
    Step.LOCKER_DEPOSIT: DeliveryStatus.PICKED_UP,
}
_RESULT: dict[Step, DeliveryStatus] = {
    Step.AT_SHOP: DeliveryStatus.AT_SHOP,
    Step.PICKED_UP: DeliveryStatus.PICKED_UP,
    Step.AT_DOOR: DeliveryStatus.AT_DOOR,
    Step.DELIVERED: DeliveryStatus.DELIVERED,
    Step.FAILED: DeliveryStatus.FAILED,
    Step.LOCKER_DEPOSIT: DeliveryStatus.IN_LOCKER,
}


def next_step(status: DeliveryStatus, mode: str) -> Step | None:
    """The rider's next step on a delivery in `status`, or None when the rider has nothing to do."""
    if status is DeliveryStatus.ASSIGNED:
        return Step.AT_SHOP
    if status is DeliveryStatus.AT_SHOP:
        return Step.PICKED_UP
    if status is DeliveryStatus.PICKED_UP:
        return Step.LOCKER_DEPOSIT if mode == "locker" else Step.AT_DOOR
    if status is DeliveryStatus.AT_DOOR:
        return Step.DELIVERED
    return None


def check_step(status: DeliveryStatus, mode: str, step: Step) -> DeliveryStatus:
    """The status after `step`, or Refused naming the step that comes next."""
    if mode == "locker" and step in (Step.AT_DOOR, Step.DELIVERED, Step.FAILED):
        raise Refused(f"a locker order has no '{step.value}' step: after picked-up comes locker-deposit")
    if mode != "locker" and step is Step.LOCKER_DEPOSIT:
        raise Refused("only locker orders are deposited in a locker")
    if _AFTER[step] is not status:
        following = next_step(status, mode)
        hint = f"the next step is '{following.value}'" if following else f"the delivery is {status.value}"
        raise Refused(f"'{step.value}' is out of order: {hint}")
    return _RESULT[step]


def check_failure_allowed(at_door_at: datetime, now: datetime, door_wait_s: float) -> None:
    waited = (now - at_door_at).total_seconds()
    if waited < door_wait_s:
        raise Refused(
            f"wait at the door (and call) for {door_wait_s:.0f}s before giving up: {door_wait_s - waited:.0f}s to go"
        )


def check_handover(packed: bool, expected: str | None, code: str) -> None:
    if not packed or expected is None:
        raise Refused("the bag is not packed yet: wait at the counter")
    if code.strip() != expected:
        raise WrongCode("that is not this order's handover code")


def check_delivery(
    expected: str | None, code: str, pay_on_delivery: bool, cash_collected_fen: int | None, due_fen: int | None = None
) -> None:
    """The shopper's code, and for a pay-on-delivery order the cash the rider took."""
    if expected is not None and code.strip() != expected:
        raise WrongCode("that is not the shopper's delivery code")
    if pay_on_delivery and cash_collected_fen is None:
        amount = format_yuan(due_fen) if due_fen is not None else "the amount due"
        raise Missing(f"this order is paid on delivery: collect {amount} in cash and enter it (cash_collected_fen)")


def cash_difference(due_fen: int | None, cash_collected_fen: int | None) -> int | None:
    """Cash taken minus cash due, when they differ: accepted as given, but someone must look at it."""
    if due_fen is None or cash_collected_fen is None or due_fen == cash_collected_fen:
        return None
    return cash_collected_fen - due_fen


def pickup_kind(pickup_location: str | None, store_id: str) -> str:
    """Where the rider takes the bag: a market's stall, or the shop's (or market's) counter."""
    return "stall" if pickup_location and pickup_location != store_id else "counter"


def maps_url(lat: float, lon: float, label: str) -> str:
    """A geo: URI that phones open in their map app, with a pin named after the address."""
    return f"geo:{lat},{lon}?q={lat},{lon}({quote(label, safe='')})"


def may_see_customer(status: DeliveryStatus) -> bool:
    """A rider sees the address, phone and notes only while carrying the bag."""
    return status in CARRYING


def rider_state_after(carrying: int, capacity: int, state: RiderState) -> RiderState:
    """Available riders at capacity are busy; busy riders below it are available again."""
    if state is RiderState.AVAILABLE and carrying >= capacity:
        return RiderState.BUSY
    if state is RiderState.BUSY and carrying < capacity:
        return RiderState.AVAILABLE
    return state
