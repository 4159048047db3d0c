"""Who may call Linli: every token carries one of these roles and a subject."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    SHOPPER = "shopper"
    HELPER = "helper"  # orders for residents, e.g. community service-centre staff
    STORE_STAFF = "store_staff"  # scoped to a shop, a stall or a whole market
    RIDER = "rider"
    DISPATCHER = "dispatcher"
    ADMIN = "admin"


ORDERING_ROLES = frozenset({Role.SHOPPER, Role.HELPER})
