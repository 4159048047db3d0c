"""Placing in PostgreSQL: everything a checkout needs in one statement, the placed order at commit.

`needs()` reads the helper's standing with the person ordered for (and their resident
record), that person's remembered substitution choices, the products (asked, named as
substitutes, and remembered substitutes), the store and every location those products come
from, the locker sites (for a locker order), dispatch's latest promise quote for the store, and
the balance, which stays locked until commit when the order may be prepaid, so two orders cannot
both spend the same money.

`save()` keeps the placement for the unit of work's commit, which writes it together with
the events and the Idempotency-Key's answer (adapters/commit.py).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.orders.adapters.circle import locker_site_of
from services.orders.adapters.commit import AtCommit
from services.orders.adapters.repository import catalog_location, catalog_product
from services.orders.adapters.residents import resident_of
from services.orders.domain.discovery import quote_of
from services.orders.domain.helpers import HelpedBy
from services.orders.domain.lines import SubstitutionChoice
from services.orders.domain.placing import Placement, PlacingAsk, PlacingNeeds
from shared.events.contracts import SubstitutionMode

NEEDS = """
WITH remembered AS (
    SELECT product_id, mode, substitute_product_id FROM substitution_prefs
    WHERE holder = $2 AND product_id = any($4::text[])
), products AS (
    SELECT * FROM catalog_products
    WHERE product_id = any($3::text[]) OR product_id IN (SELECT substitute_product_id FROM remembered)
)
SELECT
    (SELECT to_jsonb(r) FROM residents r WHERE r.resident_id = $2 AND r.helper = $1::text) AS resident,
    EXISTS (SELECT 1 FROM named_helpers WHERE shopper = $2 AND helper = $1::text) AS named,
    (SELECT jsonb_agg(to_jsonb(m)) FROM remembered m) AS remembered,
    (SELECT jsonb_agg(to_jsonb(p)) FROM products p) AS products,
    (SELECT jsonb_agg(to_jsonb(l)) FROM catalog_locations l
        WHERE l.location_id = $5 OR l.location_id IN (SELECT location_id FROM products)) AS locations,
    (SELECT jsonb_agg(to_jsonb(c)) FROM circle_lockers c
        WHERE c.site_id = $6::text OR ($6::text IS NOT NULL AND c.active)) AS lockers,
    (SELECT to_jsonb(q) FROM circle_promises q WHERE q.location_id = $5) AS quote,
    (SELECT balance_fen FROM balances WHERE holder = $2{lock}) AS balance
"""
NEEDS_LOCKED = NEEDS.format(lock=" FOR UPDATE")
NEEDS_READ = NEEDS.format(lock="")


class PlacingStore:
    def __init__(self, conn: asyncpg.Connection, at_commit: AtCommit) -> None:
        self.conn = conn
        self.at_commit = at_commit

    async def needs(self, ask: PlacingAsk) -> PlacingNeeds:
        row = await self.conn.fetchrow(
            NEEDS_LOCKED if ask.lock_balance else NEEDS_READ,
            ask.helper,
            ask.placed_for,
            sorted(set(ask.product_ids)),
            sorted(set(ask.open_ids)),
            ask.store_id,
            ask.locker_site_id,
        )
        assert row is not None
        resident = resident_of(row["resident"]) if row["resident"] else None
        held = frozenset({ask.placed_for})
        return PlacingNeeds(
            helped=HelpedBy(held if resident else frozenset(), held if row["named"] else frozenset()),
            resident=resident,
            remembered={
                r["product_id"]: SubstitutionChoice(SubstitutionMode(r["mode"]), r["substitute_product_id"])
                for r in _rows(row["remembered"])
            },
            products={r["product_id"]: catalog_product(r) for r in _rows(row["products"])},
            locations={r["location_id"]: catalog_location(r) for r in _rows(row["locations"])},
            locker_sites={r["site_id"]: locker_site_of(r) for r in _rows(row["lockers"])},
            balance_fen=int(row["balance"] or 0),
            quote=quote_of(row["quote"]) if row["quote"] else None,
        )

    async def save(self, placement: Placement) -> None:
        """Kept for the commit, which writes the order with the events and the key's answer in one statement."""
        self.at_commit.placements.append(placement)


def _rows(value: Any) -> list[dict[str, Any]]:
    return list(value or [])
