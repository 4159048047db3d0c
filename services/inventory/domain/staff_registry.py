"""The staff registry: who may act for which shop, stall or market.

Identities come from the identity provider; a `store_staff` token's `store` claim says where its
holder works. The registry narrows that: once a location has live entries, only the subjects
listed for it may use a token naming it. A location with none admits every token naming it, so
development tokens keep working for shops nobody has registered yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StaffEntry:
    location_id: str
    subject: str
    granted_by: str
    granted_at: datetime
    revoked_by: str | None = None
    revoked_at: datetime | None = None

    @property
    def live(self) -> bool:
        return self.revoked_at is None


def admits(registered: Collection[str], subject: str) -> bool:
    """Whether a token's subject may act for a location whose live entries name `registered`."""
    return not registered or subject in registered


def refusal_reason(subject: str, location_id: str) -> str:
    return (
        f"{subject!r} is not on the staff registry of {location_id}: "
        "ask an operator to add you (PUT /admin/staff/{location}/{subject})"
    )
