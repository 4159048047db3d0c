"""Deliveries and offers in PostgreSQL: loaded and saved whole, one or many in one statement.

Every save names the version it loaded; a row changed meanwhile by another writer (a rider's
step against an assignment round, say) is not overwritten: the save raises `Stale`, a Conflict,
and the unit of work rolls back. See `Stale` for why that is not retried here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import datetime
from enum import Enum

import asyncpg

from services.dispatch.domain.delivery import WITH_RIDER, Delivery, DeliveryStatus, Place
from services.dispatch.domain.offers import Offer, OfferStatus
from shared.errors import Conflict
from shared.events.contracts import DeliveryAddress
from shared.vocabulary.fulfilment import FulfilmentMode


class Stale(Conflict):
    """Someone else saved this aggregate after we loaded it.

    Not retried in place: the use case decided on what it read (an offer still pending, a rider
    still at the shop), so only running it again on fresh state is right. An assignment round
    that meets one rolls back and the next round (seconds later) runs on fresh rows; a person
    gets 409 with this message and can simply try again.
    """


_QUEUED = [
    s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.OPEN, DeliveryStatus.ASSIGNED, DeliveryStatus.AT_SHOP)
]
_WITH_RIDER = [s.value for s in WITH_RIDER]
_NOT_SAVED = frozenset({"place", "created_at", "updated_at", "version"})
_COLUMNS = [f.name for f in fields(Delivery) if f.name not in _NOT_SAVED]
# What changes after a delivery is added, with the array type unnest() reads it as.
_MUTABLE: dict[str, str] = {
    "status": "text",
    "compartment_id": "text",
    "call_first": "boolean",
    "pay_on_delivery": "boolean",
    "bags": "integer",
    "weight_g": "integer",
    "handover_code": "text",
    "pickup_location": "text",
    "pickup_name_zh": "text",
    "pickup_name_en": "text",
    "packed_at": "timestamptz",
    "ready_at": "timestamptz",
    "promised_at": "timestamptz",
    "opened_at": "timestamptz",
    "rider_id": "text",
    "assigned_at": "timestamptz",
    "eta_shop_at": "timestamptz",
    "eta_door_at": "timestamptz",
    "late_risk": "boolean",
    "at_shop_at": "timestamptz",
    "picked_up_at": "timestamptz",
    "at_door_at": "timestamptz",
    "finished_at": "timestamptz",
    "answer_by": "timestamptz",
    "final_fen": "integer",
    "due_at_door_fen": "integer",
    "cash_collected_fen": "integer",
    "promise_base_at": "timestamptz",
    "promise_band": "smallint",
}
# Where the rider rides to (the pickup point, else the store) and what the store is called.
_SELECT = (
    "SELECT d.*, s.lat AS shop_lat, s.lon AS shop_lon, s.name_zh AS shop_name_zh, s.name_en AS shop_name_en, "
    "st.name_zh AS store_name_zh, st.name_en AS store_name_en FROM deliveries d "
    "LEFT JOIN shops s ON s.location_id = coalesce(d.pickup_location, d.store_id) "
    "LEFT JOIN shops st ON st.location_id = d.store_id"
)
_SAVE = (
    "UPDATE deliveries d SET "
    + ", ".join(f"{c} = u.{c}" for c in _MUTABLE)
    + ", version = d.version + 1, updated_at = now() FROM unnest($1::text[], $2::integer[], "
    + ", ".join(f"${i}::{t}[]" for i, t in enumerate(_MUTABLE.values(), 3))
    + ") AS u(order_id, version, "
    + ", ".join(_MUTABLE)
    + ") WHERE d.order_id = u.order_id AND d.version = u.version RETURNING d.order_id"
)


def _delivery(row: asyncpg.Record) -> Delivery:
    values = {c: row[c] for c in (*_COLUMNS, "created_at", "updated_at", "version")}
    values["mode"] = FulfilmentMode(values["mode"])
    values["status"] = DeliveryStatus(values["status"])
    values["address"] = DeliveryAddress.model_validate(values["address"]) if values["address"] else None
    place = Place(
        row["shop_lat"], row["shop_lon"], row["shop_name_zh"], row["shop_name_en"], row["store_name_zh"],
        row["store_name_en"],
    )  # fmt: skip
    return Delivery(**values, place=place)


def _json(value: object) -> object:
    """A column's value as jsonb_populate_recordset reads it."""
    if isinstance(value, DeliveryAddress):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _column(delivery: Delivery, name: str) -> object:
    value = getattr(delivery, name)
    return value.model_dump(mode="json") if isinstance(value, DeliveryAddress) else value


class DeliveryRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add_many(self, deliveries: Sequence[Delivery]) -> set[str]:
        """Add many in one statement; returns the order ids added (not those that already had a delivery)."""
        if not deliveries:
            return set()
        rows = json.dumps([{c: _json(getattr(d, c)) for c in _COLUMNS} for d in deliveries])
        added = await self.conn.fetch(
            f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "
            "FROM jsonb_populate_recordset(null::deliveries, ($1::text)::jsonb) "
            "ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
            rows,
        )
        return {r["order_id"] for r in added}

    async def known(self, order_ids: Sequence[str]) -> set[str]:
        """Which of these orders already have a delivery."""
        rows = await self.conn.fetch(
            "SELECT order_id FROM deliveries WHERE order_id = any($1::text[])", list(order_ids)
        )
        return {r["order_id"] for r in rows}

    async def get(self, order_id: str, *, lock: bool = False) -> Delivery | None:
        row = await self.conn.fetchrow(f"{_SELECT} WHERE d.order_id = $1{' FOR UPDATE OF d' if lock else ''}", order_id)
        return _delivery(row) if row else None

    async def get_many(self, order_ids: Sequence[str], *, lock: bool = False) -> list[Delivery]:
        """Many deliveries in one query, in the order asked for (unknown ids are left out)."""
        rows = await self.conn.fetch(
            f"{_SELECT} WHERE d.order_id = any($1::text[]) ORDER BY d.order_id{' FOR UPDATE OF d' if lock else ''}",
            list(order_ids),
        )
        found = {r["order_id"]: _delivery(r) for r in rows}
        return [found[o] for o in order_ids if o in found]

    async def save(self, delivery: Delivery) -> None:
        await self.save_many([delivery])

    async def save_many(self, deliveries: Sequence[Delivery]) -> None:
        """Save every one in one statement; Stale (nothing saved) when any changed since it was loaded."""
        if not deliveries:
            return
        columns = [[getattr(d, c) for d in deliveries] for c in _MUTABLE]
        ids = [d.order_id for d in deliveries]
        saved = {r["order_id"] for r in await self.conn.fetch(_SAVE, ids, [d.version for d in deliveries], *columns)}
        stale = [i for i in ids if i not in saved]
        if stale:
            raise Stale(f"delivery {', '.join(stale)} changed while this was being decided: try again", order_ids=stale)
        for d in deliveries:
            d.version += 1

    async def promise_misses(self, limit: int = 2000) -> list[tuple[str, int, float]]:
        """The latest delivered orders' misses (door minus the forecast's door without slack, in
        seconds), oldest first, with their shop and load band: what the promise's history learns."""
        rows = await self.conn.fetch(
            "SELECT store_id, promise_band, extract(epoch FROM at_door_at - promise_base_at) AS miss "
            "FROM deliveries WHERE promise_base_at IS NOT NULL AND promise_band IS NOT NULL "
            "AND at_door_at IS NOT NULL ORDER BY at_door_at DESC LIMIT $1",
            limit,
        )
        return [(r["store_id"], r["promise_band"], float(r["miss"])) for r in reversed(rows)]

    async def in_status(self, statuses: Iterable[DeliveryStatus]) -> list[Delivery]:
        rows = await self.conn.fetch(
            f"{_SELECT} WHERE d.status = any($1::text[]) ORDER BY d.opened_at NULLS LAST, d.created_at",
            [s.value for s in statuses],
        )
        return [_delivery(r) for r in rows]

    async def of_rider(self, rider_id: str, statuses: Iterable[DeliveryStatus] = WITH_RIDER) -> list[Delivery]:
        rows = await self.conn.fetch(
            f"{_SELECT} WHERE d.rider_id = $1 AND d.status = any($2::text[]) ORDER BY d.assigned_at",
            rider_id,
            [s.value for s in statuses],
        )
        return [_delivery(r) for r in rows]

    async def of_riders(self, rider_ids: Sequence[str]) -> list[Delivery]:
        """The deliveries with any of these riders, in the order each was given."""
        rows = await self.conn.fetch(
            f"{_SELECT} WHERE d.rider_id = any($1::text[]) AND d.status = any($2::text[]) ORDER BY d.assigned_at",
            list(rider_ids),
            _WITH_RIDER,
        )
        return [_delivery(r) for r in rows]

    async def carrying(self) -> dict[str, int]:
        """Per rider, the orders with them (assigned and not yet delivered)."""
        rows = await self.conn.fetch(
            "SELECT rider_id, count(*) AS n FROM deliveries WHERE rider_id IS NOT NULL "
            "AND status = any($1::text[]) GROUP BY rider_id",
            _WITH_RIDER,
        )
        return {r["rider_id"]: r["n"] for r in rows}

    async def queued_many(self, store_ids: Sequence[str], now: datetime) -> dict[str, int]:
        """`queued_at` for many shops in one query (a shop with nothing queued is left out)."""
        rows = await self.conn.fetch(
            "SELECT store_id, count(*) AS n FROM deliveries WHERE store_id = any($1::text[]) AND packed_at IS NULL "
            "AND status = any($2::text[]) AND (release_at IS NULL OR release_at <= $3) GROUP BY store_id",
            list(store_ids),
            _QUEUED,
            now,
        )
        return {r["store_id"]: int(r["n"]) for r in rows}

    async def in_play(self, statuses: Iterable[DeliveryStatus]) -> bool:
        """Is any delivery in one of these statuses, or any offer pending? (One indexed probe.)"""
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE status = any($1::text[])) "
                "OR EXISTS (SELECT 1 FROM offers WHERE status = 'pending')",
                [s.value for s in statuses],
            )
        )

    async def try_round_lock(self, key: int) -> bool:
        """One assignment round at a time across dispatch processes, for this transaction."""
        return bool(await self.conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", key))


_OFFER_SAVE = (
    "UPDATE offers o SET status = u.status, answered_at = u.answered_at, reason = u.reason, version = o.version + 1 "
    "FROM unnest($1::uuid[], $2::integer[], $3::text[], $4::timestamptz[], $5::text[]) "
    "AS u(id, version, status, answered_at, reason) WHERE o.id = u.id AND o.version = u.version RETURNING o.id"
)


def _offer(row: asyncpg.Record) -> Offer:
    return Offer(
        str(row["id"]), row["order_id"], row["rider_id"], OfferStatus(row["status"]), row["expires_at"],
        row["eta_shop_at"], row["eta_door_at"], row["created_at"], row["answered_at"], row["reason"], row["version"],
        tuple(row["adds_to"] or ()),
    )  # fmt: skip


class OfferRepository:
    """Offers, and who is not to be asked again for an order."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def add(self, offer: Offer) -> None:
        await self.conn.execute(
            "INSERT INTO offers (id, order_id, rider_id, eta_shop_at, eta_door_at, created_at, expires_at, adds_to) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            uuid.UUID(offer.id),
            offer.order_id,
            offer.rider_id,
            offer.eta_shop_at,
            offer.eta_door_at,
            offer.created_at,
            offer.expires_at,
            list(offer.adds_to),
        )

    async def get(self, offer_id: str, *, lock: bool = False) -> Offer | None:
        try:
            key = uuid.UUID(offer_id)
        except ValueError:
            return None
        row = await self.conn.fetchrow("SELECT * FROM offers WHERE id = $1" + (" FOR UPDATE" if lock else ""), key)
        return _offer(row) if row else None

    async def pending(
        self, *, rider_id: str | None = None, order_id: str | None = None, lapsed_at: datetime | None = None
    ) -> list[Offer]:
        rows = await self.conn.fetch(
            "SELECT * FROM offers WHERE status = 'pending' AND ($1::text IS NULL OR rider_id = $1) "
            "AND ($2::text IS NULL OR order_id = $2) AND ($3::timestamptz IS NULL OR expires_at <= $3) "
            "ORDER BY created_at",
            rider_id,
            order_id,
            lapsed_at,
        )
        return [_offer(r) for r in rows]

    async def save_many(self, offers: Sequence[Offer]) -> None:
        """Save every answer in one statement; Stale (nothing saved) when any changed since it was loaded."""
        if not offers:
            return
        found = await self.conn.fetch(
            _OFFER_SAVE,
            [uuid.UUID(o.id) for o in offers],
            [o.version for o in offers],
            [o.status.value for o in offers],
            [o.answered_at for o in offers],
            [o.reason for o in offers],
        )
        saved = {str(r["id"]) for r in found}
        stale = [o.id for o in offers if o.id not in saved]
        if stale:
            raise Stale(f"offer {', '.join(stale)} was answered meanwhile: try again", offer_ids=stale)
        for o in offers:
            o.version += 1

    async def save(self, offer: Offer) -> None:
        await self.save_many([offer])

    async def exclude(self, order_id: str, rider_id: str, reason: str) -> None:
        await self.conn.execute(
            "INSERT INTO offer_exclusions (order_id, rider_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            order_id,
            rider_id,
            reason,
        )

    async def exclude_many(self, exclusions: Sequence[tuple[str, str, str]]) -> None:
        await self.conn.executemany(
            "INSERT INTO offer_exclusions (order_id, rider_id, reason) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            exclusions,
        )

    async def exclusions(self, order_ids: list[str]) -> dict[str, frozenset[str]]:
        rows = await self.conn.fetch(
            "SELECT order_id, rider_id FROM offer_exclusions WHERE order_id = any($1)", order_ids
        )
        found: dict[str, set[str]] = {}
        for r in rows:
            found.setdefault(r["order_id"], set()).add(r["rider_id"])
        return {k: frozenset(v) for k, v in found.items()}
