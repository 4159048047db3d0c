"""The staff registry: who may act for which shop, stall or market.

Identities come from the identity provider; a `store_staff` token's `store` claim says where its
holder works. The registry narrows that: once a location has live entries, only the subjects
listed for it may use a token naming it. A location with none admits every token naming it, so
development tokens keep working for shops nobody has registered yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.staff_registry import admits, refusal_reason

__all__ = ["StaffEntry", "admits", "refusal_reason"]


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
