"""The life of an order: one enum and the only transitions allowed between its values.

Every service speaks these names. A later capability adds handlers that move an order along
these edges; it does not invent a state of its own without extending this table.
"""

from __future__ import annotations

from enum import StrEnum

from shared.errors import Conflict


class OrderStatus(StrEnum):
    PLACED = "PLACED"
    CONFIRMED = "CONFIRMED"  # stock reserved
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"  # by the shop
    PICKING = "PICKING"
    PACKED = "PACKED"
    OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
    DELIVERED = "DELIVERED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    RETURNED = "RETURNED"
    READY_FOR_PICKUP = "READY_FOR_PICKUP"
    COLLECTED = "COLLECTED"
    IN_LOCKER = "IN_LOCKER"
    CANCELLED = "CANCELLED"


S = OrderStatus

TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.CONFIRMED, S.REJECTED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.ACCEPTED, S.REJECTED, S.CANCELLED}),
    S.ACCEPTED: frozenset({S.PICKING, S.CANCELLED}),
    S.PICKING: frozenset({S.PACKED}),
    S.PACKED: frozenset({S.OUT_FOR_DELIVERY, S.READY_FOR_PICKUP}),
    S.OUT_FOR_DELIVERY: frozenset({S.DELIVERED, S.DELIVERY_FAILED, S.IN_LOCKER}),
    S.DELIVERY_FAILED: frozenset({S.RETURNED}),
    S.READY_FOR_PICKUP: frozenset({S.COLLECTED, S.RETURNED}),
    S.IN_LOCKER: frozenset({S.COLLECTED, S.RETURNED}),
    S.DELIVERED: frozenset(),
    S.COLLECTED: frozenset(),
    S.RETURNED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[OrderStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# Linli itself (never the shopper) may still cancel a picked or packed delivery order that no
# rider will carry (reason `no_rider`), after the shopper was offered pickup and did not answer.
SYSTEM_CANCELLABLE: frozenset[OrderStatus] = frozenset({S.PICKING, S.PACKED})


class RejectReason(StrEnum):
    """Why an order was rejected; the shopper is shown this, so each must be specific."""

    OUT_OF_STOCK = "out_of_stock"
    SHOP_CLOSED = "shop_closed"
    SHOP_REJECTED = "shop_rejected"
    SHOP_TIMEOUT = "shop_timeout"
    NO_RIDER = "no_rider"
    UNKNOWN_PRODUCT = "unknown_product"


class TransitionRefused(Conflict):
    """A move the table above does not allow; `reason` is what the person asking is told."""

    def __init__(self, current: OrderStatus, target: OrderStatus, reason: str) -> None:
        super().__init__(reason, status=current.value)
        self.current = current
        self.target = target
        self.reason = reason


def can_move(current: OrderStatus, target: OrderStatus, *, system: bool = False) -> bool:
    if system and target is S.CANCELLED and current in SYSTEM_CANCELLABLE:
        return True
    return target in TRANSITIONS[current]


def check_move(current: OrderStatus, target: OrderStatus, *, system: bool = False) -> None:
    if can_move(current, target, system=system):
        return
    if target is S.CANCELLED and current in (
        S.PICKING,
        S.PACKED,
        S.OUT_FOR_DELIVERY,
        S.READY_FOR_PICKUP,
        S.IN_LOCKER,
        S.DELIVERY_FAILED,
    ):
        reason = (
            f"the order is {current.value}: the shop has started picking it, so it can no "
            "longer be cancelled; contact the shop"
        )
    elif current in TERMINAL:
        reason = f"the order is already {current.value} and cannot become {target.value}"
    else:
        reason = f"an order that is {current.value} cannot become {target.value}"
    raise TransitionRefused(current, target, reason)
