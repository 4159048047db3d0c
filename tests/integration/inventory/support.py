"""Plain helpers for inventory's integration tests (no fixtures here: they are in conftest.py):
seeding a shop and a two-stall market, placing orders, running a use case in its own unit of
work, and reading the outbox and the stock books back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from services.inventory.domain.catalog import LocationChanges, ProductChanges
from services.inventory.service_layer import catalog
from services.inventory.service_layer.policy import Policy
from services.inventory.service_layer.unit_of_work import InventoryUnitOfWork, PostgresInventoryUnitOfWork
from shared import db
from shared.auth import issue_token
from shared.clock import Clock, SystemClock
from shared.events.contracts import OrderedLine, OrderPlaced, SubstitutionPreference
from shared.settings import Settings
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit, line_price

MIGRATIONS = Path(__file__).parents[3] / "services" / "inventory" / "migrations"
SETTINGS = Settings(service="inventory", accept_limit_s=600, approval_limit_s=300, weight_tolerance_pct=10)
POLICY = Policy.from_settings(SETTINGS)


def as_(role: Role, store: str | None = None) -> dict[str, str]:
    """The Authorization header of someone with that role (at that store)."""
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, 'someone', store)}"}


def unit_of_work(pool: asyncpg.Pool, clock: Clock | None = None) -> PostgresInventoryUnitOfWork:
    return PostgresInventoryUnitOfWork(pool, clock=clock or SystemClock(), policy=POLICY)


# id -> (location, unit, price_fen, grams_per_piece, on_hand)
PRODUCTS: dict[str, tuple[str, str, int, int | None, int]] = {
    "water": ("shop", "piece", 200, None, 50),
    "juice": ("shop", "piece", 500, None, 20),
    "cola": ("shop", "piece", 300, None, 20),
    "carp": ("fish", "g", 1800, 600, 6000),
    "crucian": ("fish", "g", 2400, 300, 3000),
    "bokchoy": ("veg", "piece", 300, None, 10),
    "tomato": ("veg", "piece", 150, None, 10),
}


async def add_location(
    uow: InventoryUnitOfWork, location_id: str, kind: LocationKind, parent_id: str | None = None, **more: Any
) -> None:
    """A location named after its id, through the use case admins use."""
    changes = LocationChanges(
        parent_id=parent_id, category="c", name_zh=location_id, name_en=location_id.title(), lat=32.0, lon=118.0, **more
    )
    await catalog.upsert_location(uow, location_id, kind, changes)


async def add_product(
    uow: InventoryUnitOfWork,
    product_id: str,
    location_id: str,
    on_hand: int,
    *,
    unit: StockUnit = StockUnit.PIECE,
    price_fen: int = 200,
    grams_per_piece: int | None = None,
    category: str = "c",
) -> None:
    """A product named after its id with that much on the shelf, through the use case admins use."""
    changes = ProductChanges(
        location_id=location_id,
        name_zh=product_id,
        name_en=product_id,
        category=category,
        unit=unit,
        price_fen=price_fen,
        grams_per_piece=grams_per_piece,
    )
    await catalog.upsert_product(uow, product_id, changes, "test", on_hand=on_hand)


async def migrate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await db.migrate(conn, [MIGRATIONS])


async def seed(pool: asyncpg.Pool) -> None:
    await migrate(pool)
    async with unit_of_work(pool) as uow:
        for loc, kind, parent in (
            ("shop", LocationKind.SHOP, None),
            ("market", LocationKind.MARKET, None),
            ("fish", LocationKind.STALL, "market"),
            ("veg", LocationKind.STALL, "market"),
        ):
            await add_location(uow, loc, kind, parent)
        for pid, (loc, unit, price, gpp, on_hand) in PRODUCTS.items():
            await add_product(
                uow,
                pid,
                loc,
                on_hand,
                unit=StockUnit(unit),
                price_fen=price,
                grams_per_piece=gpp,
                category="fish" if unit == "g" else "c",
            )


def placed(
    order_id: str,
    lines: list[tuple[str, int]] | list[tuple[str, int, SubstitutionPreference]],
    *,
    store: str | None = None,
    mode: FulfilmentMode = FulfilmentMode.PICKUP,
) -> OrderPlaced:
    ordered = []
    for n, spec in enumerate(lines, 1):
        pid, pieces = spec[0], spec[1]
        pref = spec[2] if len(spec) > 2 else SubstitutionPreference()  # type: ignore[misc]
        loc, unit, price, gpp, _ = PRODUCTS[pid]
        qty = pieces * (gpp or 1)
        ordered.append(
            OrderedLine(
                line_no=n,
                product_id=pid,
                location_id=loc,
                quantity=pieces,
                unit=StockUnit(unit),
                stock_quantity=qty,
                unit_price_fen=price,
                estimated_fen=line_price(StockUnit(unit), price, qty),
                substitution=pref,
            )
        )
    store = store or ("shop" if ordered[0].location_id == "shop" else "market")
    return OrderPlaced(
        order_id=order_id,
        store_id=store,
        placed_by="u",
        placed_for="u",
        fulfilment_mode=mode,
        total_fen=sum(ln.estimated_fen for ln in ordered),
        lines=ordered,
    )


async def run(
    pool: asyncpg.Pool, use_case: Callable[[InventoryUnitOfWork], Awaitable[Any]], clock: Clock | None = None
) -> Any:
    """Run one use case in its own unit of work (committed unless it raises)."""
    async with unit_of_work(pool, clock) as uow:
        return await use_case(uow)


async def events(pool: asyncpg.Pool, order_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    rows = await pool.fetch("SELECT event_type, envelope FROM outbox ORDER BY id")
    return [
        (r["event_type"], r["envelope"]["payload"])
        for r in rows
        if order_id is None or r["envelope"]["payload"].get("order_id") == order_id
    ]


async def types(pool: asyncpg.Pool, order_id: str) -> list[str]:
    return [t for t, _ in await events(pool, order_id)]


async def stock(pool: asyncpg.Pool, product_id: str) -> tuple[int, int]:
    row = await pool.fetchrow("SELECT on_hand, reserved FROM stock WHERE product_id = $1", product_id)
    return int(row["on_hand"]), int(row["reserved"])


async def check_books(pool: asyncpg.Pool) -> None:
    """reserved is exactly the sum of live holds, and never above on-hand."""
    rows = await pool.fetch(
        "SELECT s.product_id, s.on_hand, s.reserved, coalesce(sum(h.quantity), 0) AS held "
        "FROM stock s LEFT JOIN holds h USING (product_id) GROUP BY 1, 2, 3"
    )
    for r in rows:
        assert r["reserved"] == r["held"], dict(r)
        assert 0 <= r["reserved"] <= r["on_hand"], dict(r)
