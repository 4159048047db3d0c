"""Who an order is for, and who may act for whom: shoppers for themselves, helpers for those they help.

`placed_for` and `orderer` are what placing asks before anything else: they settle whom the
order is for and hand back the resident's address, phone and flags to fill in what the order
omits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.orders.domain import helpers
from services.orders.domain.basket import BasketProblem
from services.orders.domain.helpers import NamedHelper, Resident
from services.orders.domain.lines import SubstitutionChoice
from services.orders.domain.placing import PlacingNeeds
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden, Invalid, NotFound
from shared.events.contracts import DeliveryAddress, HandlingFlags
from shared.vocabulary.roles import Role


@dataclass(frozen=True)
class Orderer:
    """The person an order is placed for, and what their record fills in."""

    placed_for: str
    address: DeliveryAddress | None = None  # a resident's door
    flags: HandlingFlags = field(default_factory=HandlingFlags)  # OR these with the order's own flags
    phone: str | None = None
    pay_on_delivery_default: bool = False


def placed_for(principal: Principal, on_behalf_of: str | None) -> str:
    """Whom an order is for, as far as the request says; raises BasketProblem (422) or Forbidden (403)."""
    if principal.role is not Role.HELPER:
        if on_behalf_of and on_behalf_of != principal.subject:
            raise Forbidden("only a helper may order on behalf of someone else")
        return principal.subject
    if not on_behalf_of:
        raise BasketProblem(["a helper orders for a resident: set on_behalf_of to the resident's id"])
    return on_behalf_of


def orderer(principal: Principal, holder: str, needs: PlacingNeeds) -> Orderer:
    """The person `placed_for` settled on, with what their record fills in; Forbidden (403) if a helper
    does not help them (they registered them as a resident, or the shopper named them)."""
    if principal.role is not Role.HELPER:
        return Orderer(placed_for=holder)
    if holder not in needs.helped:
        raise Forbidden(f"you do not help {holder}: register them under /residents, or ask them to name you")
    resident = needs.resident
    if holder in needs.helped.residents and resident is not None:
        return Orderer(
            placed_for=resident.resident_id,
            address=resident.address,
            flags=resident.flags,
            phone=resident.phone,
            pay_on_delivery_default=resident.pay_on_delivery,
        )
    return Orderer(placed_for=holder)


async def may_act_for(uow: OrdersUnitOfWork, principal: Principal, holder: str) -> bool:
    """Admins for anyone; anyone for themselves; a helper for a resident they registered or a shopper who named them."""
    if principal.role is Role.HELPER and principal.subject != holder:
        helped = await uow.residents.helped_by(principal.subject, holder)
    else:
        helped = helpers.HelpedBy()
    return helpers.may_act_for(principal.role, principal.subject, holder, helped)


async def register(uow: OrdersUnitOfWork, principal: Principal, details: dict[str, Any]) -> Resident:
    return await uow.residents.add(Resident.registered(principal.subject, details))


async def residents_of(uow: OrdersUnitOfWork, principal: Principal) -> list[Resident]:
    return await uow.residents.registered_by(principal.subject)


async def resident(
    uow: OrdersUnitOfWork, principal: Principal, resident_id: str, *, for_update: bool = False
) -> Resident:
    """One of the caller's residents; anyone else's is "not found" (an admin sees all)."""
    found = await uow.residents.get(resident_id, for_update=for_update)
    if found is None or (principal.role is not Role.ADMIN and found.helper != principal.subject):
        raise NotFound(f"no resident {resident_id} registered by you; GET /residents lists yours")
    return found


async def change_resident(
    uow: OrdersUnitOfWork, principal: Principal, resident_id: str, changes: dict[str, Any]
) -> Resident:
    found = await resident(uow, principal, resident_id, for_update=True)
    found.change(changes)
    await uow.residents.save(found)
    return found


async def name_helper(uow: OrdersUnitOfWork, principal: Principal, helper: str) -> bool:
    if helper == principal.subject:
        raise BasketProblem(["you cannot name yourself as your helper; name a family member's account"])
    return await uow.named_helpers.name(principal.subject, helper)


async def unname_helper(uow: OrdersUnitOfWork, principal: Principal, helper: str) -> None:
    if not await uow.named_helpers.unname(principal.subject, helper):
        raise NotFound(f"{helper} is not one of your helpers; GET /me/helpers lists them")


async def helpers_of(uow: OrdersUnitOfWork, principal: Principal) -> list[NamedHelper]:
    return await uow.named_helpers.of(principal.subject)


async def substitution_preferences(
    uow: OrdersUnitOfWork, principal: Principal, resident_id: str | None
) -> tuple[str, dict[str, SubstitutionChoice]]:
    """Whose remembered choices the caller asked for, and the choices (GET /me/substitution-preferences)."""
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise Forbidden(f"a {principal.role.value} has no substitution preferences")
    if principal.role is Role.HELPER and not resident_id:
        raise Invalid("a helper names whose preferences: add ?resident=<resident id>")
    holder = resident_id or principal.subject
    if not await may_act_for(uow, principal, holder):
        raise NotFound(f"no one called {holder} whom you help; GET /residents lists yours")
    return holder, await uow.substitutions.recall(holder)
