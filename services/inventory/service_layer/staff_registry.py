"""Keeping the staff registry (admins): register a subject for a shop, stall or market, revoke it, list them.

Each change publishes the location's live subjects (`StaffRegistryChanged`, compacted catalog
topic), so the services that check store_staff tokens elsewhere keep the same registry."""

from __future__ import annotations

from services.inventory.domain import staff_registry
from services.inventory.domain.staff_registry import StaffEntry
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork
from shared.errors import NotFound
from shared.events.contracts import StaffRegistryChanged


async def register(uow: InventoryUnitOfWork, location_id: str, subject: str, actor: str) -> tuple[StaffEntry, bool]:
    """`subject` may act for `location_id` from the next request on; registering twice is one entry."""
    if await uow.locations.get(location_id) is None:
        raise NotFound(f"no shop, market or stall {location_id!r}")
    await uow.staff.lock(location_id)
    entry, created = await uow.staff.register(location_id, subject, actor)
    if created:
        await _publish(uow, location_id)
    return entry, created


async def revoke(uow: InventoryUnitOfWork, location_id: str, subject: str, actor: str) -> StaffEntry:
    """From the next request on, `subject`'s tokens for `location_id` are refused (once any entry is left)."""
    await uow.staff.lock(location_id)
    revoked = await uow.staff.revoke(location_id, subject, actor)
    if revoked is None:
        raise NotFound(f"{subject!r} is not on the staff registry of {location_id}")
    await _publish(uow, location_id)
    return revoked


async def _publish(uow: InventoryUnitOfWork, location_id: str) -> None:
    subjects = sorted(await uow.staff.registered(location_id))
    await uow.publish(StaffRegistryChanged(location_id=location_id, subjects=subjects))


async def admits(uow: InventoryUnitOfWork, location_id: str, subject: str) -> bool:
    """Whether a store_staff token of `subject` naming `location_id` is let in."""
    return staff_registry.admits(await uow.staff.registered(location_id), subject)
