"""The staff registry's rule, the same in every service that checks store_staff tokens.

Inventory keeps the registry and publishes each location's live subjects (`StaffRegistryChanged`
on the compacted catalog topic); the other services keep a read model and ask the same question.
"""

from __future__ import annotations

from collections.abc import Collection


def admits(registered: Collection[str], subject: str) -> bool:
    """Whether a store_staff token of `subject` may act for a location whose live entries name `registered`:
    a location with none admits every token naming it (development tokens, shops not registered yet)."""
    return not registered or subject in registered


def refusal_reason(subject: str, location_id: str) -> str:
    return (
        f"{subject!r} is not on the staff registry of {location_id}: "
        "ask an operator to add you (PUT /admin/staff/{location}/{subject})"
    )
