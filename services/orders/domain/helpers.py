"""Help for elderly residents: who a helper helps, and what a resident's record fills in.

A helper helps two kinds of people: residents they registered themselves (who have no
account of their own), and shoppers who named them (a daughter ordering for her father).
Everyone else's orders, balance and preferences are not theirs to touch.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.errors import Invalid
from shared.events.contracts import DeliveryAddress, HandlingFlags
from shared.vocabulary.roles import Role

RESIDENT_PREFIX = "res-"


def new_resident_id() -> str:
    return f"{RESIDENT_PREFIX}{secrets.token_hex(6)}"


@dataclass
class Resident:
    """Someone a helper orders for: where to bring the bag, how to reach them, what to mind."""

    resident_id: str
    helper: str  # the subject of the helper who registered them
    name: str
    address: DeliveryAddress | None = None
    phone: str | None = None
    call_before_delivery: bool = False
    pay_on_delivery: bool = False
    note: str | None = None
    created_at: datetime | None = None

    @classmethod
    def registered(cls, helper: str, details: dict[str, Any]) -> Resident:
        """A new resident from a helper's form: the editable fields, an address as its JSON."""
        resident = cls(new_resident_id(), helper, str(details["name"]))
        resident.change(details)
        return resident

    @property
    def flags(self) -> HandlingFlags:
        return HandlingFlags(call_before_delivery=self.call_before_delivery, pay_on_delivery=self.pay_on_delivery)

    def change(self, changes: dict[str, Any]) -> None:
        """Apply a partial update; only the fields a helper may edit (an address as its JSON, or None)."""
        for name, value in changes.items():
            if name not in EDITABLE:
                raise Invalid(f"{name} cannot be changed")
            if name == "address" and value is not None:
                setattr(self, name, DeliveryAddress.model_validate(value))
            else:
                setattr(self, name, value)


EDITABLE = frozenset({"name", "address", "phone", "call_before_delivery", "pay_on_delivery", "note"})


@dataclass(frozen=True)
class NamedHelper:
    """A helper a shopper named (a family member's account), and since when."""

    helper: str
    named_at: datetime


@dataclass(frozen=True)
class HelpedBy:
    """Whom one helper helps, as the database knows it."""

    residents: frozenset[str] = field(default_factory=frozenset)
    shoppers: frozenset[str] = field(default_factory=frozenset)

    def __contains__(self, holder: object) -> bool:
        return holder in self.residents or holder in self.shoppers


def may_act_for(role: Role, subject: str, holder: str, helped: HelpedBy) -> bool:
    """Whether the caller may order for, top up or read the preferences of `holder`.

    An admin always may; anyone may for themselves; a helper may for whom they help.
    """
    if role is Role.ADMIN or subject == holder:
        return True
    return role is Role.HELPER and holder in helped


def merged_flags(asked: HandlingFlags, resident: HandlingFlags) -> HandlingFlags:
    """OR the order's flags with the resident's: a resident's "call first" cannot be switched off by accident."""
    return HandlingFlags(
        call_before_delivery=asked.call_before_delivery or resident.call_before_delivery,
        pay_on_delivery=asked.pay_on_delivery or resident.pay_on_delivery,
    )
