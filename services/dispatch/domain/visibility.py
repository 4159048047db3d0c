"""Who sees what of a delivery (docs/dispatch.md, "Who sees what"), in one place.

- The rider sees the customer (address, phone, note) only while carrying the bag.
- The rider app never shows the shop's handover code: the counter tells it to the rider with the
  bag, so entering it proves the bag left the shop with this rider.
- The orderer sees their own order's rider only between pickup and delivery.
- Live notes never carry the codes or the phone; dispatchers' notes not the locker code either
  (the orderer needs it to open the compartment).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.dispatch.domain.delivery import CARRYING, Delivery
from shared.vocabulary.roles import Role

SECRET = frozenset({"handover_code", "delivery_code", "contact_phone"})
NOT_FOR_DISPATCHERS = frozenset({"code"})  # the locker code is the orderer's
ORDERER_ROLES = frozenset({Role.SHOPPER, Role.HELPER})
FOLLOWERS = ORDERER_ROLES | {Role.DISPATCHER, Role.ADMIN}


class Visibility:
    """The rules as questions a view asks before it shows something."""

    @staticmethod
    def rider_sees_customer(delivery: Delivery) -> bool:
        return delivery.status in CARRYING

    @staticmethod
    def orderer_sees_rider(delivery: Delivery) -> bool:
        return delivery.status in CARRYING

    @staticmethod
    def is_orderer(role: Role, subject: str, delivery: Delivery) -> bool:
        return role in ORDERER_ROLES and subject in (delivery.placed_by, delivery.placed_for)

    @staticmethod
    def may_follow_at_all(role: Role) -> bool:
        """Riders and store staff never follow an order's delivery, whoever's it is."""
        return role in FOLLOWERS

    @classmethod
    def may_follow(cls, role: Role, subject: str, delivery: Delivery) -> bool:
        return cls.is_orderer(role, subject, delivery) or role in (Role.DISPATCHER, Role.ADMIN)

    @staticmethod
    def for_orders_stream(data: Mapping[str, Any]) -> dict[str, Any]:
        return _without(data, SECRET)

    @staticmethod
    def for_dispatchers_stream(data: Mapping[str, Any]) -> dict[str, Any]:
        return _without(data, SECRET | NOT_FOR_DISPATCHERS)


def _without(data: Mapping[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """The data without the hidden keys, at any depth (a group buy's trip lists each bag's locker code)."""

    def strip(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: strip(v) for k, v in value.items() if k not in hidden}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return {k: strip(v) for k, v in data.items() if k not in hidden}


VISIBILITY = Visibility()
