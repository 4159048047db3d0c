"""Residents, the helpers shoppers named, and remembered substitution choices, in PostgreSQL.

Each class works on the unit of work's connection, so it joins its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.orders.domain.helpers import HelpedBy, NamedHelper, Resident
from services.orders.domain.lines import SubstitutionChoice
from shared.events.contracts import DeliveryAddress, SubstitutionMode


class Residents:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, r: Resident) -> Resident:
        row = await self.conn.fetchrow(
            "INSERT INTO residents (resident_id, helper, name, address, phone, call_before_delivery, "
            "pay_on_delivery, note) VALUES ($1,$2,$3,$4::jsonb,$5,$6,$7,$8) RETURNING *",
            r.resident_id,
            r.helper,
            r.name,
            _json(r.address),
            r.phone,
            r.call_before_delivery,
            r.pay_on_delivery,
            r.note,
        )
        assert row is not None
        return resident_of(row)

    async def get(self, resident_id: str, *, for_update: bool = False) -> Resident | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM residents WHERE resident_id = $1" + (" FOR UPDATE" if for_update else ""), resident_id
        )
        return resident_of(row) if row else None

    async def save(self, r: Resident) -> None:
        await self.conn.execute(
            "UPDATE residents SET name = $2, address = $3::jsonb, phone = $4, call_before_delivery = $5, "
            "pay_on_delivery = $6, note = $7, updated_at = now() WHERE resident_id = $1",
            r.resident_id,
            r.name,
            _json(r.address),
            r.phone,
            r.call_before_delivery,
            r.pay_on_delivery,
            r.note,
        )

    async def registered_by(self, helper: str) -> list[Resident]:
        rows = await self.conn.fetch(
            "SELECT * FROM residents WHERE helper = $1 ORDER BY created_at, resident_id", helper
        )
        return [resident_of(r) for r in rows]

    async def every(self, helper: str | None = None) -> list[Resident]:
        """Every resident (of one helper, if named), for the operator console."""
        rows = await self.conn.fetch(
            "SELECT * FROM residents WHERE $1::text IS NULL OR helper = $1 ORDER BY helper, created_at, resident_id",
            helper,
        )
        return [resident_of(r) for r in rows]

    async def helped_by(self, helper: str, holder: str) -> HelpedBy:
        """Whether `helper` helps `holder`, as a HelpedBy holding at most that one person."""
        row = await self.conn.fetchrow(
            "SELECT EXISTS (SELECT 1 FROM residents WHERE resident_id = $2 AND helper = $1) AS resident, "
            "EXISTS (SELECT 1 FROM named_helpers WHERE shopper = $2 AND helper = $1) AS shopper",
            helper,
            holder,
        )
        assert row is not None
        return HelpedBy(
            frozenset({holder}) if row["resident"] else frozenset(),
            frozenset({holder}) if row["shopper"] else frozenset(),
        )


class NamedHelpers:
    """Shoppers who named a helper (a family member) to order for them."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def name(self, shopper: str, helper: str) -> bool:
        """True if newly named; naming twice is harmless."""
        added = await self.conn.fetchval(
            "INSERT INTO named_helpers (shopper, helper) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
            shopper,
            helper,
        )
        return bool(added)

    async def unname(self, shopper: str, helper: str) -> bool:
        done = await self.conn.execute("DELETE FROM named_helpers WHERE shopper = $1 AND helper = $2", shopper, helper)
        return bool(done != "DELETE 0")

    async def of(self, shopper: str) -> list[NamedHelper]:
        rows = await self.conn.fetch(
            "SELECT helper, named_at FROM named_helpers WHERE shopper = $1 ORDER BY named_at, helper", shopper
        )
        return [NamedHelper(r["helper"], r["named_at"]) for r in rows]

    async def every(self) -> list[tuple[str, NamedHelper]]:
        """Every shopper's named helpers, for the operator console."""
        rows = await self.conn.fetch("SELECT shopper, helper, named_at FROM named_helpers ORDER BY shopper, named_at")
        return [(r["shopper"], NamedHelper(r["helper"], r["named_at"])) for r in rows]


class SubstitutionMemory:
    """The last substitution choice each person gave for each product."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def recall(self, holder: str, product_ids: list[str] | None = None) -> dict[str, SubstitutionChoice]:
        if product_ids is None:
            rows = await self.conn.fetch(
                "SELECT * FROM substitution_prefs WHERE holder = $1 ORDER BY product_id", holder
            )
        else:
            rows = await self.conn.fetch(
                "SELECT * FROM substitution_prefs WHERE holder = $1 AND product_id = any($2::text[])",
                holder,
                product_ids,
            )
        return {
            r["product_id"]: SubstitutionChoice(SubstitutionMode(r["mode"]), r["substitute_product_id"]) for r in rows
        }


def resident_of(row: Mapping[str, Any]) -> Resident:
    """A residents row: a record, or its JSON (where the time is ISO text)."""
    created_at = row["created_at"]
    return Resident(
        resident_id=row["resident_id"],
        helper=row["helper"],
        name=row["name"],
        address=DeliveryAddress.model_validate(row["address"]) if row["address"] else None,
        phone=row["phone"],
        call_before_delivery=row["call_before_delivery"],
        pay_on_delivery=row["pay_on_delivery"],
        note=row["note"],
        created_at=datetime.fromisoformat(created_at).astimezone(UTC) if isinstance(created_at, str) else created_at,
    )


def _json(address: DeliveryAddress | None) -> dict[str, object] | None:
    return address.model_dump(mode="json") if address is not None else None
