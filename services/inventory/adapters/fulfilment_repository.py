"""Orders as the shops fulfil them, in PostgreSQL: reservations, their parts, their lines and the lines' history.

Reservations and parts carry a `version`: each save names the version it loaded and raises it
by one, so a save over a newer write changes nothing and raises `StaleVersion` (a Conflict,
409 at a route; a consumer retries the whole event in a fresh unit of work, which loads the
newer state). Every save tells the live consoles which queues changed (NOTIFY, delivered only
if the transaction commits). Many aggregates load and save in one statement each (`get_many`,
`save_many`), so a batch of events costs a few round trips, not a few per event.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import asyncpg

from services.inventory.domain.fulfilment import Part, PartStatus
from services.inventory.domain.picking import Line, LineState
from services.inventory.domain.reservation import Reservation, ReservationStatus
from shared.errors import Conflict
from shared.events.contracts import HandoverTo
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.units import StockUnit

# Told, in the changing transaction, which shops, markets and stalls' queues changed (live consoles).
QUEUE_CHANNEL = "linli_queue"


class StaleVersion(Conflict):
    """Someone else changed it since it was loaded; the change was not saved."""


async def _queue_changed(conn: asyncpg.Connection, order_ids: Iterable[str]) -> None:
    """NOTIFY the orders' shops or markets and each stall with a part; sent only if the transaction commits."""
    ids = sorted(set(order_ids))
    if not ids:
        return
    await conn.execute(
        "SELECT pg_notify($2, loc) FROM (SELECT store_id AS loc FROM reservations WHERE order_id = any($1::text[]) "
        "UNION SELECT location_id FROM fulfilment_parts WHERE order_id = any($1::text[])) AS touched",
        ids,
        QUEUE_CHANNEL,
    )


class _Versioned(Protocol):
    order_id: str
    version: int


async def _save_versioned(
    conn: asyncpg.Connection,
    saved: Sequence[_Versioned],
    key: Callable[[Any], tuple[str, ...]],
    update: str,
    columns: Sequence[Sequence[Any]],
    stale: Callable[[list[tuple[str, ...]]], str],
) -> None:
    """Run one versioned UPDATE for many aggregates (it RETURNs the keys it changed) in a savepoint: a stale
    aggregate in the batch leaves no row changed and raises StaleVersion (`stale` says which); otherwise each
    version goes up by one and the consoles hear of the changed queues."""
    async with conn.transaction():
        done = {tuple(r.values()) for r in await conn.fetch(update, *columns)}
        behind = sorted({key(x) for x in saved} - done)
        if behind:
            raise StaleVersion(stale(behind))
    for x in saved:
        x.version += 1
    await _queue_changed(conn, (x.order_id for x in saved))


def _reservation(r: asyncpg.Record) -> Reservation:
    return Reservation(
        order_id=r["order_id"],
        store_id=r["store_id"],
        status=ReservationStatus(r["status"]),
        accept_deadline=r["accept_deadline"],
        fulfilment_mode=FulfilmentMode(r["fulfilment_mode"]),
        placed_by=r["placed_by"],
        placed_for=r["placed_for"],
        flags=dict(r["flags"] or {}),
        shown_fen=r["shown_fen"],
        note=r["note"],
        slot_start=r["slot_start"],
        slot_end=r["slot_end"],
        release_at=r["release_at"],
        final_fen=r["final_fen"],
        handover_code=r["handover_code"],
        bags=r["bags"],
        weight_g=r["weight_g"],
        packed_at=r["packed_at"],
        handed_over_to=HandoverTo(r["handed_over_to"]) if r["handed_over_to"] else None,
        handed_over_by=r["handed_over_by"],
        handed_over_at=r["handed_over_at"],
        returned_at=r["returned_at"],
        release_reason=r["release_reason"],
        created_at=r["created_at"],
        version=r["version"],
    )


class ReservationRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, order_id: str, *, for_update: bool = False) -> Reservation | None:
        """The order; lock it to serialise everything done to one order."""
        found = await self.get_many([order_id], for_update=for_update)
        return found.get(order_id)

    async def get_many(self, order_ids: Sequence[str], *, for_update: bool = False) -> dict[str, Reservation]:
        """Locked in id order, as every writer locks them, so two batches cannot deadlock."""
        rows = await self.conn.fetch(
            "SELECT * FROM reservations WHERE order_id = any($1::text[]) ORDER BY order_id"
            + (" FOR UPDATE" if for_update else ""),
            sorted(set(order_ids)),
        )
        return {r["order_id"]: _reservation(r) for r in rows}

    async def add(self, res: Reservation) -> None:
        await self.add_many([res])

    async def add_many(self, reservations: Sequence[Reservation]) -> None:
        """New reservations, in one statement however many."""
        if not reservations:
            return
        await self.conn.execute(
            "INSERT INTO reservations (order_id, store_id, status, accept_deadline, placed_by, placed_for, "
            "fulfilment_mode, flags, shown_fen, note, slot_start, slot_end, release_at) "
            "SELECT r.order_id, r.store_id, r.status, r.accept_deadline, r.placed_by, r.placed_for, "
            "r.fulfilment_mode, r.flags::jsonb, r.shown_fen, r.note, r.slot_start, r.slot_end, r.release_at "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], "
            "$8::text[], $9::bigint[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[]) "
            "AS r(order_id, store_id, status, accept_deadline, placed_by, placed_for, fulfilment_mode, flags, "
            "shown_fen, note, slot_start, slot_end, release_at)",
            [x.order_id for x in reservations],
            [x.store_id for x in reservations],
            [x.status.value for x in reservations],
            [x.accept_deadline for x in reservations],
            [x.placed_by for x in reservations],
            [x.placed_for for x in reservations],
            [x.fulfilment_mode.value for x in reservations],
            [json.dumps(x.flags) for x in reservations],
            [x.shown_fen for x in reservations],
            [x.note for x in reservations],
            [x.slot_start for x in reservations],
            [x.slot_end for x in reservations],
            [x.release_at for x in reservations],
        )

    async def save(self, res: Reservation) -> None:
        await self.save_many([res])

    async def save_many(self, reservations: Sequence[Reservation]) -> None:
        if not reservations:
            return
        await _save_versioned(
            self.conn,
            reservations,
            lambda x: (x.order_id,),
            "UPDATE reservations r SET status = u.status, release_reason = u.release_reason, "
            "fulfilment_mode = u.fulfilment_mode, final_fen = u.final_fen, handover_code = u.handover_code, "
            "bags = u.bags, weight_g = u.weight_g, packed_at = u.packed_at, handed_over_to = u.handed_over_to, "
            "handed_over_by = u.handed_over_by, handed_over_at = u.handed_over_at, returned_at = u.returned_at, "
            "version = r.version + 1, updated_at = now() "
            "FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], "
            "$8::int[], $9::bigint[], $10::timestamptz[], $11::text[], $12::text[], $13::timestamptz[], "
            "$14::timestamptz[]) AS u(order_id, version, status, release_reason, fulfilment_mode, final_fen, "
            "handover_code, bags, weight_g, packed_at, handed_over_to, handed_over_by, handed_over_at, "
            "returned_at) "
            "WHERE r.order_id = u.order_id AND r.version = u.version RETURNING r.order_id",
            [
                [x.order_id for x in reservations],
                [x.version for x in reservations],
                [x.status.value for x in reservations],
                [x.release_reason for x in reservations],
                [x.fulfilment_mode.value for x in reservations],
                [x.final_fen for x in reservations],
                [x.handover_code for x in reservations],
                [x.bags for x in reservations],
                [x.weight_g for x in reservations],
                [x.packed_at for x in reservations],
                [x.handed_over_to.value if x.handed_over_to else None for x in reservations],
                [x.handed_over_by for x in reservations],
                [x.handed_over_at for x in reservations],
                [x.returned_at for x in reservations],
            ],
            lambda stale: f"order(s) {', '.join(k[0] for k in stale)} changed meanwhile; nothing was saved: try again",
        )


def _part(r: asyncpg.Record) -> Part:
    return Part(
        order_id=r["order_id"],
        location_id=r["location_id"],
        status=PartStatus(r["status"]),
        accept_deadline=r["accept_deadline"],
        decided_by=r["decided_by"],
        decided_at=r["decided_at"],
        reason=r["reason"],
        note=r["note"],
        bags=r["bags"],
        weight_g=r["weight_g"],
        packed_by=r["packed_by"],
        packed_at=r["packed_at"],
        created_at=r["created_at"],
        version=r["version"],
    )


LIVE_QUEUE = ("waiting", "accepted", "picking", "packed")
ENDED_ORDERS = ("released", "committed", "returned")


class PartRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def of_order(self, order_id: str) -> list[Part]:
        return await self.get_many([order_id])

    async def get_many(self, order_ids: Sequence[str]) -> list[Part]:
        """Every part of these orders, by order then location."""
        rows = await self.conn.fetch(
            "SELECT * FROM fulfilment_parts WHERE order_id = any($1::text[]) ORDER BY order_id, location_id",
            sorted(set(order_ids)),
        )
        return [_part(r) for r in rows]

    async def add_many(self, parts: Sequence[Part]) -> None:
        if not parts:
            return
        await self.conn.executemany(
            "INSERT INTO fulfilment_parts (order_id, location_id, status, accept_deadline) VALUES ($1, $2, $3, $4)",
            [(p.order_id, p.location_id, p.status.value, p.accept_deadline) for p in parts],
        )
        await _queue_changed(self.conn, (p.order_id for p in parts))

    async def save(self, part: Part) -> None:
        await self.save_many([part])

    async def save_many(self, parts: Sequence[Part]) -> None:
        if not parts:
            return
        await _save_versioned(
            self.conn,
            parts,
            lambda p: (p.order_id, p.location_id),
            "UPDATE fulfilment_parts p SET status = u.status, decided_by = u.decided_by, "
            "decided_at = u.decided_at, "
            "reason = u.reason, note = u.note, bags = u.bags, weight_g = u.weight_g, packed_by = u.packed_by, "
            "packed_at = u.packed_at, version = p.version + 1 "
            "FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], "
            "$8::text[], $9::int[], $10::bigint[], $11::text[], $12::timestamptz[]) "
            "AS u(order_id, location_id, version, status, decided_by, decided_at, reason, note, bags, weight_g, "
            "packed_by, packed_at) "
            "WHERE p.order_id = u.order_id AND p.location_id = u.location_id AND p.version = u.version "
            "RETURNING p.order_id, p.location_id",
            [
                [p.order_id for p in parts],
                [p.location_id for p in parts],
                [p.version for p in parts],
                [p.status.value for p in parts],
                [p.decided_by for p in parts],
                [p.decided_at for p in parts],
                [p.reason for p in parts],
                [p.note for p in parts],
                [p.bags for p in parts],
                [p.weight_g for p in parts],
                [p.packed_by for p in parts],
                [p.packed_at for p in parts],
            ],
            lambda stale: (
                ", ".join(f"{loc}'s part of order {order}" for order, loc in stale)
                + " changed meanwhile; nothing was saved: try again"
            ),
        )

    async def queue(self, location_ids: Sequence[str]) -> list[Part]:
        """The live parts at these locations of orders still at the shop, soonest accept deadline first."""
        rows = await self.conn.fetch(
            "SELECT p.* FROM fulfilment_parts p JOIN reservations r USING (order_id) "
            "WHERE p.location_id = any($1::text[]) AND p.status = any($2::text[]) "
            "AND NOT r.status = any($3::text[]) ORDER BY p.accept_deadline, p.order_id",
            list(location_ids),
            list(LIVE_QUEUE),
            list(ENDED_ORDERS),
        )
        return [_part(r) for r in rows]


def _line(r: asyncpg.Record) -> Line:
    return Line(
        order_id=r["order_id"],
        line_no=r["line_no"],
        product_id=r["product_id"],
        location_id=r["location_id"],
        quantity=r["quantity"],
        unit=StockUnit(r["unit"]),
        ordered_pieces=r["ordered_pieces"],
        unit_price_fen=r["unit_price_fen"],
        estimated_fen=r["estimated_fen"],
        substitution=dict(r["substitution"] or {}),
        state=LineState(r["state"]),
        picked_quantity=r["picked_quantity"],
        pending_quantity=r["pending_quantity"],
        charged_fen=r["charged_fen"],
        substitute=dict(r["substitute"]) if r["substitute"] is not None else None,
    )


class LineRepository:
    """An order's lines change only under its reservation's lock, so they need no version of their own."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def of_order(self, order_id: str, location_id: str | None = None) -> list[Line]:
        lines = await self.get_many([order_id])
        return [ln for ln in lines if location_id is None or ln.location_id == location_id]

    async def get_many(self, order_ids: Sequence[str]) -> list[Line]:
        rows = await self.conn.fetch(
            "SELECT * FROM reservation_lines WHERE order_id = any($1::text[]) ORDER BY order_id, line_no",
            sorted(set(order_ids)),
        )
        return [_line(r) for r in rows]

    async def get(self, order_id: str, line_no: int) -> Line | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM reservation_lines WHERE order_id = $1 AND line_no = $2", order_id, line_no
        )
        return _line(row) if row is not None else None

    async def add_many(self, lines: Sequence[Line]) -> None:
        if not lines:
            return
        await self.conn.executemany(
            "INSERT INTO reservation_lines (order_id, line_no, product_id, location_id, quantity, unit, "
            "ordered_pieces, unit_price_fen, estimated_fen, substitution) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
            [
                (
                    ln.order_id,
                    ln.line_no,
                    ln.product_id,
                    ln.location_id,
                    ln.quantity,
                    ln.unit.value,
                    ln.ordered_pieces,
                    ln.unit_price_fen,
                    ln.estimated_fen,
                    ln.substitution,
                )
                for ln in lines
            ],
        )

    async def save(self, line: Line) -> None:
        await self.save_many([line])

    async def save_many(self, lines: Sequence[Line]) -> None:
        if not lines:
            return
        await self.conn.executemany(
            "UPDATE reservation_lines SET state = $3, picked_quantity = $4, pending_quantity = $5, "
            "charged_fen = $6, substitute = $7::jsonb WHERE order_id = $1 AND line_no = $2",
            [
                (
                    ln.order_id,
                    ln.line_no,
                    ln.state.value,
                    ln.picked_quantity,
                    ln.pending_quantity,
                    ln.charged_fen,
                    ln.substitute,
                )
                for ln in lines
            ],
        )
        await _queue_changed(self.conn, (ln.order_id for ln in lines))

    async def record(self, order_id: str, line_no: int, actor: str, action: str, details: dict[str, Any]) -> None:
        """Every weight change and substitution: who, when, what."""
        await self.conn.execute(
            "INSERT INTO line_history (order_id, line_no, actor, action, details) VALUES ($1, $2, $3, $4, $5::jsonb)",
            order_id,
            line_no,
            actor,
            action,
            json.loads(json.dumps(details, default=str)),
        )

    async def history(self, order_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch(
            "SELECT line_no, actor, at, action, details FROM line_history WHERE order_id = $1 ORDER BY at, id", order_id
        )
        return [dict(r) for r in rows]
