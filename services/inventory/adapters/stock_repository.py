"""Stock, holds and their movements in PostgreSQL.

`holds` says which order line holds how much of which product; `stock.reserved` is changed
only together with a hold, so reserved is always the sum of the live holds. The CHECK
constraints of `stock` stay the last line of defence: reserved never exceeds on-hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from services.inventory.domain.availability import Watched
from services.inventory.domain.stock import Hold, Movement, Shortage, StockLevel
from shared.errors import Invalid


def _hold(r: asyncpg.Record) -> Hold:
    return Hold(r["order_id"], r["line_no"], r["product_id"], r["quantity"])


class StockRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock(self, product_ids: Iterable[str]) -> dict[str, StockLevel]:
        """Lock the stock rows in id order, as every other writer does, so two baskets sharing products
        cannot deadlock."""
        rows = await self.conn.fetch(
            "SELECT s.product_id, p.location_id, p.unit, s.on_hand, s.reserved FROM stock s "
            "JOIN products p ON p.id = s.product_id WHERE s.product_id = any($1::text[]) "
            "ORDER BY s.product_id FOR UPDATE OF s",
            sorted(set(product_ids)),
        )
        return {
            r["product_id"]: StockLevel(r["product_id"], r["location_id"], r["unit"], r["on_hand"], r["reserved"])
            for r in rows
        }

    async def lock_for_orders(self, product_ids: Iterable[str]) -> tuple[dict[str, StockLevel], dict[str, Watched]]:
        """Lock the stock rows of every product of a run of orders in one statement, in id order as every
        writer locks them: their levels, and what was last published about each (`check_low_stock`'s view)."""
        rows = await self.conn.fetch(
            "SELECT s.product_id, p.location_id, p.store_id, p.unit, p.low_stock_threshold, s.on_hand, s.reserved, "
            "s.low_flagged, s.published_level FROM stock s JOIN products p ON p.id = s.product_id "
            "WHERE s.product_id = any($1::text[]) ORDER BY s.product_id FOR UPDATE OF s",
            sorted(set(product_ids)),
        )
        levels = {
            r["product_id"]: StockLevel(r["product_id"], r["location_id"], r["unit"], r["on_hand"], r["reserved"])
            for r in rows
        }
        watched = {
            r["product_id"]: Watched(
                r["product_id"],
                r["location_id"],
                r["store_id"],
                r["low_stock_threshold"],
                r["on_hand"] - r["reserved"],
                r["low_flagged"],
                r["published_level"],
            )
            for r in rows
        }
        return levels, watched

    async def save_reserved(
        self,
        levels: Sequence[StockLevel],
        watched: Mapping[str, Watched],
        movements: Sequence[Movement],
        holds: Sequence[Hold],
        actor: str,
    ) -> None:
        """Whole baskets reserved (their rows locked by `lock_for_orders`): the new reserved numbers with what was
        published about them, one movement per order and product, and the holds; one statement for any run."""
        if not (levels or movements or holds):
            return
        known = [watched.get(lvl.product_id) for lvl in levels]
        await self.conn.execute(
            "WITH levels AS (UPDATE stock s SET reserved = u.reserved, "
            "published_level = coalesce(u.published_level, s.published_level), "
            "low_flagged = coalesce(u.low_flagged, s.low_flagged) "
            "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::boolean[]) "
            "AS u(product_id, reserved, published_level, low_flagged) WHERE s.product_id = u.product_id RETURNING 1), "
            "moved AS (INSERT INTO stock_movements (product_id, reserved_delta, reason, order_id, actor) "
            "SELECT m.product_id, m.reserved_delta, m.reason, m.order_id, $9 "
            "FROM unnest($5::text[], $6::bigint[], $7::text[], $8::text[]) WITH ORDINALITY "
            "AS m(product_id, reserved_delta, reason, order_id, n) ORDER BY m.n RETURNING 1), "
            "held AS (INSERT INTO holds (order_id, line_no, product_id, quantity) "
            "SELECT * FROM unnest($10::text[], $11::int[], $12::text[], $13::bigint[]) RETURNING 1) "
            "SELECT (SELECT count(*) FROM levels), (SELECT count(*) FROM moved), (SELECT count(*) FROM held)",
            [lvl.product_id for lvl in levels],
            [lvl.reserved for lvl in levels],
            [w.published_level if w else None for w in known],
            [w.low_flagged if w else None for w in known],
            [m.product_id for m in movements],
            [m.reserved_delta for m in movements],
            [m.reason for m in movements],
            [m.order_id for m in movements],
            actor,
            [h.order_id for h in holds],
            [h.line_no for h in holds],
            [h.product_id for h in holds],
            [h.quantity for h in holds],
        )

    async def _move(
        self, product_id: str, on_hand_delta: int, reserved_delta: int, reason: str, order_id: str | None, actor: str
    ) -> None:
        row = await self.conn.fetchrow(
            "SELECT on_hand, reserved FROM stock WHERE product_id = $1 FOR UPDATE", product_id
        )
        if row is None:
            raise Shortage(f"product {product_id} has no stock")
        on_hand, reserved = row["on_hand"] + on_hand_delta, row["reserved"] + reserved_delta
        if reserved < 0 or on_hand < 0:
            raise Shortage(f"{product_id}: that would leave {on_hand} on hand and {reserved} reserved")
        if reserved > on_hand:
            raise Shortage(
                f"{product_id}: only {row['on_hand'] - row['reserved']} available "
                f"({row['on_hand']} on hand, {row['reserved']} reserved for orders)"
            )
        await self.conn.execute(
            "UPDATE stock SET on_hand = $2, reserved = $3 WHERE product_id = $1", product_id, on_hand, reserved
        )
        await self.conn.execute(
            "INSERT INTO stock_movements (product_id, on_hand_delta, reserved_delta, reason, order_id, actor) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            product_id,
            on_hand_delta,
            reserved_delta,
            reason,
            order_id,
            actor,
        )

    async def holds(self, order_id: str, line_no: int | None = None) -> list[Hold]:
        if line_no is None:
            rows = await self.conn.fetch(
                "SELECT * FROM holds WHERE order_id = $1 ORDER BY line_no, product_id", order_id
            )
        else:
            rows = await self.conn.fetch(
                "SELECT * FROM holds WHERE order_id = $1 AND line_no = $2 ORDER BY product_id", order_id, line_no
            )
        return [_hold(r) for r in rows]

    async def set_hold(
        self, order_id: str, line_no: int, product_id: str, quantity: int, reason: str, actor: str
    ) -> int:
        """Make the line hold exactly `quantity` of the product (0 releases it); returns the change."""
        current = (
            await self.conn.fetchval(
                "SELECT quantity FROM holds WHERE order_id = $1 AND line_no = $2 AND product_id = $3",
                order_id,
                line_no,
                product_id,
            )
            or 0
        )
        delta = quantity - current
        if delta == 0:
            return 0
        await self._move(product_id, 0, delta, reason, order_id, actor)
        if quantity == 0:
            await self.conn.execute(
                "DELETE FROM holds WHERE order_id = $1 AND line_no = $2 AND product_id = $3",
                order_id,
                line_no,
                product_id,
            )
        else:
            await self.conn.execute(
                "INSERT INTO holds (order_id, line_no, product_id, quantity) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (order_id, line_no, product_id) DO UPDATE SET quantity = excluded.quantity",
                order_id,
                line_no,
                product_id,
                quantity,
            )
        return delta

    async def release_line(self, order_id: str, line_no: int, reason: str, actor: str) -> None:
        for hold in await self.holds(order_id, line_no):
            await self.set_hold(order_id, line_no, hold.product_id, 0, reason, actor)

    async def commit_line(
        self, order_id: str, line_no: int, reason: str, actor: str, quantity: int | None = None
    ) -> None:
        """The goods left the shop: on-hand and reserved both go down by what the line holds."""
        for hold in await self.holds(order_id, line_no):
            qty = hold.quantity if quantity is None else min(quantity, hold.quantity)
            if qty <= 0:
                continue
            await self._move(hold.product_id, -qty, -qty, reason, order_id, actor)
            if qty == hold.quantity:
                await self.conn.execute(
                    "DELETE FROM holds WHERE order_id = $1 AND line_no = $2 AND product_id = $3",
                    order_id,
                    line_no,
                    hold.product_id,
                )
            else:
                await self.conn.execute(
                    "UPDATE holds SET quantity = quantity - $4 WHERE order_id = $1 "
                    "AND line_no = $2 AND product_id = $3",
                    order_id,
                    line_no,
                    hold.product_id,
                    qty,
                )

    async def change_on_hand(
        self, product_id: str, delta: int, reason: str, actor: str, order_id: str | None = None
    ) -> None:
        await self._move(product_id, delta, 0, reason, order_id, actor)

    async def note(self, product_id: str, reason: str, actor: str, order_id: str | None) -> None:
        """A movement that changes no number: written-off goods that had already left the shop."""
        await self.conn.execute(
            "INSERT INTO stock_movements (product_id, reason, order_id, actor) VALUES ($1, $2, $3, $4)",
            product_id,
            reason,
            order_id,
            actor,
        )

    async def watched(self, product_ids: Iterable[str]) -> list[Watched]:
        """The products' levels and what was last published about them; the stock rows are locked (in id
        order, as every writer locks them) so two transactions cannot both publish the same change."""
        rows = await self.conn.fetch(
            "SELECT p.id, p.location_id, p.store_id, p.low_stock_threshold, s.on_hand - s.reserved AS available, "
            "s.low_flagged, s.published_level FROM products p JOIN stock s ON s.product_id = p.id "
            "WHERE p.id = any($1::text[]) ORDER BY p.id FOR UPDATE OF s",
            sorted(set(product_ids)),
        )
        return [
            Watched(
                r["id"],
                r["location_id"],
                r["store_id"],
                r["low_stock_threshold"],
                r["available"],
                r["low_flagged"],
                r["published_level"],
            )
            for r in rows
        ]

    async def remember_notices(self, levels: Mapping[str, str], flags: Mapping[str, bool]) -> None:
        """What was last published about these products (their level) and whether LowStock is armed, in one
        statement; a product missing from one mapping keeps that column as it was."""
        ids = sorted(set(levels) | set(flags))
        if not ids:
            return
        await self.conn.execute(
            "UPDATE stock s SET published_level = coalesce(u.level, s.published_level), "
            "low_flagged = coalesce(u.flagged, s.low_flagged) "
            "FROM unnest($1::text[], $2::text[], $3::boolean[]) AS u(product_id, level, flagged) "
            "WHERE s.product_id = u.product_id",
            ids,
            [levels.get(i) for i in ids],
            [flags.get(i) for i in ids],
        )

    async def never_published(self) -> list[str]:
        return [
            r["product_id"]
            for r in await self.conn.fetch(
                "SELECT product_id FROM stock WHERE published_level IS NULL ORDER BY product_id"
            )
        ]

    async def level(self, product_id: str) -> StockLevel | None:
        found = await self.levels([product_id])
        return found.get(product_id)

    async def levels(self, product_ids: Iterable[str]) -> dict[str, StockLevel]:
        rows = await self.conn.fetch(
            "SELECT s.product_id, p.location_id, p.unit, s.on_hand, s.reserved FROM stock s "
            "JOIN products p ON p.id = s.product_id WHERE s.product_id = any($1::text[])",
            sorted(set(product_ids)),
        )
        return {
            r["product_id"]: StockLevel(r["product_id"], r["location_id"], r["unit"], r["on_hand"], r["reserved"])
            for r in rows
        }

    async def movements(self, product_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.fetch("SELECT * FROM stock_movements WHERE product_id = $1 ORDER BY at, id", product_id)
        return [dict(r) for r in rows]

    async def set_on_hand(self, product_id: str, on_hand: int, reason: str, actor: str) -> None:
        """Count the shelf: never below what is already promised to orders."""
        row = await self.conn.fetchrow(
            "SELECT on_hand, reserved FROM stock WHERE product_id = $1 FOR UPDATE", product_id
        )
        if row is None:
            await self.conn.execute("INSERT INTO stock (product_id, on_hand) VALUES ($1, $2)", product_id, on_hand)
            delta = on_hand
        else:
            if on_hand < row["reserved"]:
                raise Invalid(f"on_hand {on_hand} is below the {row['reserved']} already reserved for orders")
            await self.conn.execute("UPDATE stock SET on_hand = $2 WHERE product_id = $1", product_id, on_hand)
            delta = on_hand - row["on_hand"]
        if delta:
            await self.conn.execute(
                "INSERT INTO stock_movements (product_id, on_hand_delta, reason, actor) VALUES ($1, $2, $3, $4)",
                product_id,
                delta,
                reason,
                actor,
            )

    async def count_many(self, counted: Mapping[str, int], reason: str, actor: str) -> int:
        """Shelves counted (absolute numbers, rows created for new products) in one statement, with a movement for
        each product whose on-hand changed; returns how many moved. The caller has locked the rows and checked
        the counts against what is reserved; the table's CHECK stays the last line of defence."""
        if not counted:
            return 0
        ids = sorted(counted)
        moved = await self.conn.fetchval(
            "WITH u AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS u(product_id, on_hand)), "
            "before AS (SELECT s.product_id, s.on_hand FROM stock s JOIN u USING (product_id)), "
            "counted AS (INSERT INTO stock (product_id, on_hand) SELECT product_id, on_hand FROM u "
            "ON CONFLICT (product_id) DO UPDATE SET on_hand = excluded.on_hand RETURNING 1), "
            "moved AS (INSERT INTO stock_movements (product_id, on_hand_delta, reason, actor) "
            "SELECT u.product_id, u.on_hand - coalesce(b.on_hand, 0), $3, $4 "
            "FROM u LEFT JOIN before b USING (product_id) "
            "WHERE u.on_hand <> coalesce(b.on_hand, 0) ORDER BY u.product_id RETURNING 1) "
            "SELECT count(*) FROM moved",  # a data-changing WITH runs whether or not it is read
            ids,
            [counted[i] for i in ids],
            reason,
            actor,
        )
        return int(moved)

    async def ensure_row(self, product_id: str) -> None:
        await self.conn.execute(
            "INSERT INTO stock (product_id, on_hand) VALUES ($1, 0) ON CONFLICT DO NOTHING", product_id
        )
