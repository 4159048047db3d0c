"""Who may see what of an order: the order itself, its codes, and dispatch's side of the delivery.

The handover code takes the bag at the counter and the delivery code at the door, so only the
orderer (the shopper, or the helper who ordered for them) and an admin see them; the locker code
opens a compartment, so only the orderer sees it, and only while the bag is inside. The shop's
staff see the order they pack, not the rider, the promise or the codes. Someone who may not see
the order at all is told it does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from services.orders.domain.order import Order, TimelineEntry
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role

ORDERERS = frozenset({Role.SHOPPER, Role.HELPER})


class Viewer(Protocol):
    """Whoever asks (a signed-in principal) as far as visibility cares."""

    @property
    def subject(self) -> str: ...

    @property
    def role(self) -> Role: ...

    @property
    def store(self) -> str | None: ...


def is_orderer(viewer: Viewer | None, order: Order) -> bool:
    """The shopper it was placed by or for, or the helper who placed it."""
    return viewer is not None and viewer.role in ORDERERS and order.is_visible_to_orderer(viewer.subject)


@dataclass(frozen=True)
class OrderVisibility:
    """What one viewer may see of one order; `viewer` None is nobody in particular (sees no secrets)."""

    order: Order
    viewer: Viewer | None

    @property
    def orderer(self) -> bool:
        return is_orderer(self.viewer, self.order)

    @property
    def order_itself(self) -> bool:
        """Admins and dispatchers see every order; orderers their own; a shop's staff the orders it packs."""
        viewer, order = self.viewer, self.order
        if viewer is None:
            return False
        if viewer.role in (Role.ADMIN, Role.DISPATCHER):
            return True
        if viewer.role is Role.STORE_STAFF:
            return viewer.store == order.store_id or any(ln.location_id == viewer.store for ln in order.lines)
        return self.orderer

    @property
    def handover_code(self) -> bool:
        """The handover and the delivery code: the orderer and an admin, never the shop's staff."""
        return self.viewer is not None and (self.viewer.role is Role.ADMIN or self.orderer)

    @property
    def delivery(self) -> bool:
        """The rider, the promise and dispatch's steps: the orderer, admins and dispatchers."""
        return self.viewer is not None and (self.viewer.role in (Role.ADMIN, Role.DISPATCHER) or self.orderer)

    @property
    def locker_code(self) -> bool:
        """It opens the compartment: the orderer's, and only while the bag is inside."""
        return self.orderer and self.order.status is OrderStatus.IN_LOCKER

    def shows(self, entry: TimelineEntry) -> bool:
        """Dispatch's steps that moved nothing are left out for those who may not see the delivery."""
        return self.delivery or entry.status is not None or "step" not in entry.detail


def visibility(order: Order, viewer: Viewer | None) -> OrderVisibility:
    return OrderVisibility(order, viewer)
