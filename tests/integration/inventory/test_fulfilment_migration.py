"""002_fulfilment.sql on a database that already has orders: parts, holds and deadline keys carry over."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from services.inventory.service_layer import reservations
from shared import db
from shared.deadlines import Deadline
from tests.integration.inventory.support import MIGRATIONS, check_books, run, types


async def test_waiting_and_accepted_orders_from_before_parts_carry_over(pool: asyncpg.Pool, tmp_path: Path) -> None:
    old = tmp_path / "inventory" / "migrations"
    old.mkdir(parents=True)
    shutil.copy(MIGRATIONS / "001_stock.sql", old)
    due = datetime.now(UTC) + timedelta(minutes=3)
    async with pool.acquire() as conn:
        await db.migrate(conn, [old])
        await conn.execute("""
            INSERT INTO locations (id, kind, category, name_zh, name_en, lat, lon) VALUES
                ('m', 'market', 'wet_market', 'm', 'M', 0, 0);
            INSERT INTO locations (id, kind, parent_id, category, name_zh, name_en, lat, lon) VALUES
                ('fish', 'stall', 'm', 'stall', 'f', 'F', 0, 0), ('veg', 'stall', 'm', 'stall', 'v', 'V', 0, 0);
            INSERT INTO products (id, location_id, store_id, name_zh, name_en, category, unit, price_fen) VALUES
                ('carp', 'fish', 'm', 'c', 'c', 'fish', 'piece', 100),
                ('leek', 'veg', 'm', 'l', 'l', 'veg', 'piece', 50);
            INSERT INTO stock (product_id, on_hand, reserved) VALUES ('carp', 10, 3), ('leek', 10, 2);
        """)
        await conn.execute(
            "INSERT INTO reservations (order_id, store_id, status, accept_deadline) VALUES "
            "('waiting', 'm', 'held', $1), ('taken', 'm', 'accepted', $1), "
            "('gone', 'm', 'released', $1)",
            due,
        )
        await conn.execute("""
            INSERT INTO reservation_lines (order_id, line_no, product_id, location_id, quantity) VALUES
                ('waiting', 1, 'carp', 'fish', 2), ('waiting', 2, 'leek', 'veg', 2), ('taken', 1, 'carp', 'fish', 1),
                ('gone', 1, 'leek', 'veg', 4);
        """)
        await conn.execute("INSERT INTO deadlines (kind, key, due_at) VALUES ('accept', 'waiting', $1)", due)
        applied = await db.migrate(conn, [MIGRATIONS])
    first = ["inventory/002_fulfilment.sql", "inventory/003_shopper_side.sql", "inventory/004_versions.sql"]
    assert applied[:3] == first
    assert applied == sorted(applied), "and any later ones, in order"

    parts = {(r["order_id"], r["location_id"]): r["status"] for r in await pool.fetch("SELECT * FROM fulfilment_parts")}
    assert parts == {
        ("waiting", "fish"): "waiting",
        ("waiting", "veg"): "waiting",
        ("taken", "fish"): "accepted",
        ("gone", "veg"): "released",
    }
    live = {
        r["key"]
        for r in await pool.fetch(
            "SELECT key FROM deadlines WHERE kind = 'accept' AND cancelled_at IS NULL AND fired_at IS NULL"
        )
    }
    assert live == {"waiting:fish", "waiting:veg"}
    await check_books(pool)

    for key in ("waiting:fish", "waiting:veg"):
        await run(pool, lambda uow, key=key: reservations.on_accept_deadline(uow, Deadline("accept", key, due)))
    assert (await types(pool, "waiting"))[-2:] == ["StockReleased", "ShopRejected"]
    assert await pool.fetchval("SELECT reserved FROM stock WHERE product_id = 'leek'") == 0
    await check_books(pool)
