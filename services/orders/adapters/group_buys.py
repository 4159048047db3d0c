"""Group buys, their shares, the leaders' grants and the shares' ledger entries in PostgreSQL.

A deal is loaded with every share and every share's entries; `get(..., for_update=True)` locks the
deal's row, which is what serialises joining: whoever holds it decides against the remaining cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from services.orders.adapters.repository import ORDER_CHANNEL, ConcurrentUpdate
from services.orders.adapters.settlement import Journal
from services.orders.domain import settlement
from services.orders.domain.group_buys import (
    DealItem,
    DealStatus,
    GroupBuy,
    PickupPoint,
    Share,
    ShareStatus,
    Window,
)
from services.orders.domain.ledger import Account, Kind, Posting
from shared.vocabulary import geo

ANY_SHOP = "*"  # an admin's grant: the shopper may lead deals with any shop


class GroupLeaders:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def grant(self, shopper: str, scope: str, by: str, at: datetime) -> dict[str, Any]:
        row = await self.conn.fetchrow(
            "INSERT INTO group_leaders (shopper, scope, granted_by, granted_at) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT (shopper, scope) DO UPDATE SET granted_by = excluded.granted_by, "
            "granted_at = excluded.granted_at, revoked_by = NULL, revoked_at = NULL RETURNING *",
            shopper,
            scope,
            by,
            at,
        )
        return dict(row)

    async def revoke(self, shopper: str, scope: str, by: str, at: datetime) -> dict[str, Any] | None:
        row = await self.conn.fetchrow(
            "UPDATE group_leaders SET revoked_by = $3, revoked_at = $4 "
            "WHERE shopper = $1 AND scope = $2 AND revoked_at IS NULL RETURNING *",
            shopper,
            scope,
            by,
            at,
        )
        return dict(row) if row else None

    async def may_lead(self, shopper: str, store_id: str) -> bool:
        return bool(
            await self.conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM group_leaders WHERE shopper = $1 AND scope = any($2::text[]) "
                "AND revoked_at IS NULL)",
                shopper,
                [ANY_SHOP, store_id],
            )
        )

    async def of(self, shopper: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch("SELECT * FROM group_leaders WHERE shopper = $1 ORDER BY scope", shopper)
        return [dict(r) for r in rows]

    async def live(self) -> list[dict[str, Any]]:
        """Every grant not revoked, for the operator console."""
        rows = await self.conn.fetch("SELECT * FROM group_leaders WHERE revoked_at IS NULL ORDER BY shopper, scope")
        return [dict(r) for r in rows]


def _window(w: dict[str, str] | None) -> Window | None:
    return Window(datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"])) if w else None


def _pickup_json(p: PickupPoint) -> dict[str, Any]:
    return {
        "kind": p.kind,
        "name": p.name,
        "lat": p.point.lat,
        "lon": p.point.lon,
        "locker_site_id": p.locker_site_id,
        "delivered": p.delivered,
    }


def _posting(r: asyncpg.Record) -> Posting:
    return Posting(Kind(r["kind"]), r["amount_fen"], Account(r["account"]), r["note"])


class GroupBuys:
    def __init__(self, conn: asyncpg.Connection, journal: Journal | None = None) -> None:
        self.conn = conn
        self.journal = journal  # settlement books every share's entry with it (adapters/settlement.py)

    async def add(self, deal: GroupBuy) -> None:
        await self.conn.execute(
            "INSERT INTO group_buys (id, store_id, leader, title, status, items, minimum_kind, minimum, cutoff_at, "
            "pickup, window_start, window_end, uncollected, second_window, platform_fee_fen, commission_bp, "
            "cash_allowed, created_at) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8,$9,$10::jsonb,$11,$12,$13,$14::jsonb,"
            "$15,$16,$17,$18)",
            deal.id,
            deal.store_id,
            deal.leader,
            deal.title,
            deal.status.value,
            [vars(i) for i in deal.items],
            deal.minimum_kind,
            deal.minimum,
            deal.cutoff_at,
            _pickup_json(deal.pickup),
            deal.window.start,
            deal.window.end,
            deal.uncollected,
            {"start": deal.second_window.start.isoformat(), "end": deal.second_window.end.isoformat()}
            if deal.second_window
            else None,
            deal.platform_fee_fen,
            deal.commission_bp,
            deal.cash_allowed,
            deal.created_at,
        )

    async def get(self, deal_id: str, *, for_update: bool = False) -> GroupBuy | None:
        row = await self.conn.fetchrow(
            "SELECT * FROM group_buys WHERE id = $1" + (" FOR UPDATE" if for_update else ""), deal_id
        )
        if row is None:
            return None
        deal = self._deal(row)
        entries = await self.conn.fetch(
            "SELECT holder, kind, account, amount_fen, note FROM ledger_entries WHERE group_buy_id = $1 ORDER BY id",
            deal_id,
        )
        postings: dict[str, list[Posting]] = {}
        for e in entries:
            postings.setdefault(e["holder"], []).append(_posting(e))
        for s in await self.conn.fetch("SELECT * FROM group_buy_shares WHERE group_buy_id = $1", deal_id):
            deal.shares[s["holder"]] = Share(
                deal_id=deal_id,
                holder=s["holder"],
                joined_by=s["joined_by"],
                status=ShareStatus(s["status"]),
                pieces={int(k): int(v) for k, v in s["pieces"].items()},
                joined_at=s["joined_at"],
                updated_at=s["updated_at"],
                postings=postings.get(s["holder"], []),
                number=s["number"],
                code=s["code"],
                collected_at=s["collected_at"],
                collected_by=s["collected_by"],
                returned_at=s["returned_at"],
                payment=s["payment"],
                packed_fen=s["packed_fen"],
                packed=list(s["packed"].get("items", [])),
                cash_fen=s["cash_fen"],
                cash_by=s["cash_by"],
                cash_at=s["cash_at"],
            )
        return deal

    def _deal(self, r: asyncpg.Record) -> GroupBuy:
        pickup = r["pickup"]
        return GroupBuy(
            id=r["id"],
            store_id=r["store_id"],
            leader=r["leader"],
            title=r["title"],
            status=DealStatus(r["status"]),
            items=[DealItem(**i) for i in r["items"]],
            minimum_kind=r["minimum_kind"],
            minimum=r["minimum"],
            cutoff_at=r["cutoff_at"],
            pickup=PickupPoint(
                pickup["kind"],
                pickup["name"],
                geo.Point(pickup["lat"], pickup["lon"]),
                pickup.get("locker_site_id"),
                bool(pickup.get("delivered", False)),
            ),
            window=Window(r["window_start"], r["window_end"]),
            uncollected=r["uncollected"],
            second_window=_window(r["second_window"]),
            created_at=r["created_at"],
            platform_fee_fen=r["platform_fee_fen"],
            commission_bp=r["commission_bp"],
            cash_allowed=r["cash_allowed"],
            reason=r["reason"],
            details=r["details"],
            decided_by=r["decided_by"],
            arrived_at=r["arrived_at"],
            arrived_by=r["arrived_by"],
            pickup_ends_at=r["pickup_ends_at"],
            second_window_used=r["second_window_used"],
            version=r["version"],
        )

    async def save(self, deal: GroupBuy, shares: Sequence[Share] | None = None) -> None:
        """The deal's state, and the shares that changed (None: all of them)."""
        done = await self.conn.fetchval(
            "UPDATE group_buys SET status = $3, reason = $4, details = $5::jsonb, decided_by = $6, arrived_at = $7, "
            "arrived_by = $8, pickup_ends_at = $9, second_window_used = $10, "
            "version = version + 1 WHERE id = $1 AND version = $2 RETURNING version",
            deal.id,
            deal.version,
            deal.status.value,
            deal.reason,
            deal.details,
            deal.decided_by,
            deal.arrived_at,
            deal.arrived_by,
            deal.pickup_ends_at,
            deal.second_window_used,
        )
        if done is None:
            raise ConcurrentUpdate(f"group buy {deal.id} changed since it was loaded")
        deal.version = done
        await self.conn.execute("SELECT pg_notify($1, $2)", ORDER_CHANNEL, deal.id)  # the leader's page follows it
        changed = list(deal.shares.values()) if shares is None else list(shares)
        if not changed:
            return
        await self.conn.execute(
            "INSERT INTO group_buy_shares (group_buy_id, holder, joined_by, status, pieces, number, joined_at, "
            "updated_at, code, collected_at, collected_by, returned_at, payment, packed_fen, packed, cash_fen, "
            "cash_by, cash_at) SELECT $1, * FROM unnest($2::text[], "
            "$3::text[], $4::text[], $5::jsonb[], $6::int[], $7::timestamptz[], $8::timestamptz[], $9::text[], "
            "$10::timestamptz[], $11::text[], $12::timestamptz[], $13::text[], $14::bigint[], $15::jsonb[], "
            "$16::bigint[], $17::text[], $18::timestamptz[]) ON CONFLICT (group_buy_id, holder) DO UPDATE SET "
            "joined_by = excluded.joined_by, status = excluded.status, pieces = excluded.pieces, "
            "number = excluded.number, joined_at = excluded.joined_at, updated_at = excluded.updated_at, "
            "code = excluded.code, collected_at = excluded.collected_at, collected_by = excluded.collected_by, "
            "returned_at = excluded.returned_at, payment = excluded.payment, packed_fen = excluded.packed_fen, "
            "packed = excluded.packed, cash_fen = excluded.cash_fen, cash_by = excluded.cash_by, "
            "cash_at = excluded.cash_at",
            deal.id,
            [s.holder for s in changed],
            [s.joined_by for s in changed],
            [s.status.value for s in changed],
            [{str(k): v for k, v in s.pieces.items()} for s in changed],
            [s.number for s in changed],
            [s.joined_at for s in changed],
            [s.updated_at for s in changed],
            [s.code for s in changed],
            [s.collected_at for s in changed],
            [s.collected_by for s in changed],
            [s.returned_at for s in changed],
            [s.payment for s in changed],
            [s.packed_fen for s in changed],
            [{"items": s.packed} for s in changed],  # an object: a list would read as an array
            [s.cash_fen for s in changed],
            [s.cash_by for s in changed],
            [s.cash_at for s in changed],
        )

    async def post(self, holder: str, deal_id: str, postings: Sequence[Posting], by: str, at: datetime) -> None:
        """A share's entries on its holder's ledger; the balance moves with them (locked by the caller), but
        for cash taken at pickup, which is recorded on the deal's ledger only."""
        if self.journal is not None:
            self.journal.add(
                settlement.for_posting(p, holder=holder, by=by, at=at, group_buy_id=deal_id) for p in postings
            )
        for p in postings:
            if p.account is Account.CASH:
                await self.conn.execute(
                    "INSERT INTO ledger_entries (holder, group_buy_id, kind, account, amount_fen, note, by, at) "
                    "VALUES ($1, $2, $3, 'cash', $4, $5, $6, $7)",
                    holder,
                    deal_id,
                    p.kind.value,
                    p.amount_fen,
                    p.note,
                    by,
                    at,
                )
                continue
            await self.conn.execute(
                "WITH moved AS (INSERT INTO balances (holder, balance_fen) VALUES ($1, $4) ON CONFLICT (holder) "
                "DO UPDATE SET balance_fen = balances.balance_fen + excluded.balance_fen, updated_at = now() "
                "RETURNING balance_fen) "
                "INSERT INTO ledger_entries (holder, group_buy_id, kind, account, amount_fen, balance_after_fen, "
                "note, by, at) SELECT $1, $2, $3, 'balance', $4, balance_fen, $5, $6, $7 FROM moved",
                holder,
                deal_id,
                p.kind.value,
                p.amount_fen,
                p.note,
                by,
                at,
            )

    async def listed(self, store_id: str | None, statuses: Sequence[DealStatus], limit: int = 50) -> list[GroupBuy]:
        rows = await self.conn.fetch(
            "SELECT id FROM group_buys WHERE ($1::text IS NULL OR store_id = $1) AND status = any($2::text[]) "
            "ORDER BY cutoff_at LIMIT $3",
            store_id,
            [s.value for s in statuses],
            limit,
        )
        found = [await self.get(r["id"]) for r in rows]
        return [d for d in found if d is not None]

    async def shares_of(self, holder: str) -> list[str]:
        """The deals someone has (or had) a share in, newest first."""
        rows = await self.conn.fetch(
            "SELECT group_buy_id FROM group_buy_shares WHERE holder = $1 ORDER BY joined_at DESC LIMIT 100", holder
        )
        return [r["group_buy_id"] for r in rows]
