"""Price lists against real PostgreSQL over HTTP: preview writes nothing, apply writes the whole list in one
transaction, the same list again changes nothing, and one bad row refuses the list with nothing written."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook

from services.inventory.entrypoints.price_lists_http import router
from services.inventory.service_layer import reservations
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.inventory.support import SETTINGS, as_, placed, run

HEADER = ["product_id", "name_zh", "name_en", "unit", "price_fen", "grams_per_piece", "stall", "counted"]
MARKET_STAFF = as_(Role.STORE_STAFF, "market")
FISH_STAFF = as_(Role.STORE_STAFF, "fish")
SHOP_STAFF = as_(Role.STORE_STAFF, "shop")
XLSX = {"Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CSV = {"Content-Type": "text/csv"}

MARKET_LIST = [
    HEADER,
    ["carp", "carp", "carp", "g", 1900, 600, "fish", 5000],  # a new price, a new count (seeded names are ids)
    ["crucian", "crucian", "crucian", "g", 2400, 300, "fish", 3000],  # as it is
    ["tomato", "tomato", "tomato", "piece", 150, None, "veg", 25],  # counted more
    ["eel", "鳝鱼", "Eel", "g", 3200, 250, "fish", 1500],  # new
]


@pytest.fixture
async def prices(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    application = FastAPI()
    application.state.settings = SETTINGS
    application.state.runtime = runtime
    install_error_handlers(application)
    application.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://inventory") as c:
        yield c


def xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv(rows: list[list[object]]) -> bytes:
    return "\n".join(",".join("" if v is None else str(v) for v in row) for row in rows).encode()


async def books(pool: asyncpg.Pool) -> tuple[int, int, int, list[tuple[str, int, int]]]:
    """How many events, movements and history entries there are, and every product's price and stock."""
    return (
        await pool.fetchval("SELECT count(*) FROM outbox"),
        await pool.fetchval("SELECT count(*) FROM stock_movements"),
        await pool.fetchval("SELECT count(*) FROM product_changes"),
        [
            (r["id"], r["price_fen"], r["on_hand"])
            for r in await pool.fetch(
                "SELECT p.id, p.price_fen, s.on_hand FROM products p JOIN stock s ON s.product_id = p.id ORDER BY p.id"
            )
        ],
    )


async def test_a_market_previews_applies_and_reapplies_its_xlsx_list(
    inv: asyncpg.Pool, prices: httpx.AsyncClient
) -> None:
    before = await books(inv)
    preview = await prices.post(
        "/locations/market/price-list/preview", headers=MARKET_STAFF | XLSX, content=xlsx(MARKET_LIST)
    )
    assert preview.status_code == 200, preview.text
    answer = preview.json()
    assert {r["product_id"]: r["changes"] for r in answer["rows"]} == {
        "carp": ["price", "stock"],
        "crucian": [],
        "tomato": ["stock"],
        "eel": ["new"],
    }
    assert (answer["new"], answer["changed"], answer["unchanged"], answer["refused"]) == (1, 2, 1, [])
    assert await books(inv) == before  # a preview writes nothing

    last = await inv.fetchval("SELECT max(id) FROM outbox")
    applied = await prices.post("/locations/market/price-list", headers=MARKET_STAFF | XLSX, content=xlsx(MARKET_LIST))
    assert applied.status_code == 200, applied.text
    assert applied.json()["applied"] is True
    stock = {
        r["product_id"]: (r["on_hand"], r["reason"])
        for r in await inv.fetch(
            "SELECT product_id, on_hand, reason FROM stock s JOIN stock_movements m USING (product_id) "
            "WHERE m.id > (SELECT coalesce(max(id), 0) - 3 FROM stock_movements) ORDER BY m.id"
        )
    }
    assert stock == {"carp": (5000, "counted"), "eel": (1500, "counted"), "tomato": (25, "counted")}
    assert await inv.fetchval("SELECT price_fen FROM products WHERE id = 'carp'") == 1900
    eel = await inv.fetchrow("SELECT location_id, store_id, unit, grams_per_piece FROM products WHERE id = 'eel'")
    assert tuple(eel) == ("fish", "market", "g", 250)
    published = [
        (r["event_type"], r["envelope"]["payload"].get("product_id"))
        for r in await inv.fetch("SELECT event_type, envelope FROM outbox WHERE id > $1 ORDER BY id", last)
    ]
    assert ("ProductUpserted", "carp") in published
    assert ("ProductUpserted", "eel") in published
    assert ("ProductUpserted", "tomato") not in published  # only its stock changed
    assert ("StockLevelChanged", "eel") in published
    after = await books(inv)
    assert after[1] - before[1] == 3
    assert after[2] - before[2] == 2

    again = await prices.post("/locations/market/price-list", headers=MARKET_STAFF | XLSX, content=xlsx(MARKET_LIST))
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == 4
    assert await books(inv) == after  # no event, no movement, no history


async def test_one_bad_row_refuses_the_list_row_by_row_and_writes_nothing(
    inv: asyncpg.Pool, prices: httpx.AsyncClient
) -> None:
    bad = [
        *MARKET_LIST,
        ["perch", "鲈鱼", "Perch", "g", -100, 400, "fish", 10],
        ["crab", "螃蟹", "Crab", "box", 900, None, "fish", 3],
        ["carp", "carp", "carp", "g", 1800, 600, "fish", 1],
        ["water", "水", "Water", "piece", 200, None, "shop", 50],
    ]
    before = await books(inv)
    preview = await prices.post("/locations/market/price-list/preview", headers=MARKET_STAFF | CSV, content=csv(bad))
    assert preview.status_code == 200, preview.text
    expected = [
        {"line": 6, "product_id": "perch", "reason": "price_fen cannot be negative (-100)"},
        {"line": 7, "product_id": "crab", "reason": "unknown unit 'box': use 'piece' or 'g'"},
        {"line": 8, "product_id": "carp", "reason": "duplicate product id carp: line 2 has it too"},
        {"line": 9, "product_id": "water", "reason": "stall 'shop' is not a stall of the market market"},
    ]
    assert preview.json()["refused"] == expected
    refused = await prices.post("/locations/market/price-list", headers=MARKET_STAFF | CSV, content=csv(bad))
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("4 row(s) of the price list are invalid, so nothing was written")
    assert refused.json()["refused"] == expected
    assert await books(inv) == before


async def test_a_count_below_what_orders_reserved_is_refused_for_that_row(
    inv: asyncpg.Pool, prices: httpx.AsyncClient
) -> None:
    await run(inv, lambda uow: reservations.on_order_placed(uow, placed("o1", [("carp", 2)])))  # 1200 g held
    rows = [HEADER, ["carp", "carp", "carp", "g", 1800, 600, "fish", 1000]]
    before = await books(inv)
    answer = await prices.post("/locations/fish/price-list", headers=FISH_STAFF | CSV, content=csv(rows))
    assert answer.status_code == 422, answer.text
    assert answer.json()["refused"] == [
        {"line": 2, "product_id": "carp", "reason": "counted 1000 is below the 1200 reserved for orders of carp"}
    ]
    assert await books(inv) == before
    rows[1][-1] = 1200  # exactly what is held is fine
    assert (
        await prices.post("/locations/fish/price-list", headers=FISH_STAFF | CSV, content=csv(rows))
    ).status_code == 200
    assert await inv.fetchrow("SELECT on_hand, reserved FROM stock WHERE product_id = 'carp'") == (1200, 1200)


async def test_a_shop_loads_its_csv_and_staff_of_another_shop_are_refused(
    inv: asyncpg.Pool, prices: httpx.AsyncClient
) -> None:
    rows = [
        HEADER,
        ["water", "矿泉水", "Water", "piece", 250, None, "", 60],
        ["tea", "茶", "Tea", "piece", 800, None, "shop", 12],
    ]
    before = await books(inv)
    for who in (MARKET_STAFF, FISH_STAFF, as_(Role.SHOPPER)):
        for path in ("/locations/shop/price-list/preview", "/locations/shop/price-list"):
            refused = await prices.post(path, headers=who | CSV, content=csv(rows))
            assert refused.status_code == 403, refused.text
    assert await books(inv) == before
    done = await prices.post("/locations/shop/price-list", headers=SHOP_STAFF | CSV, content=csv(rows))
    assert done.status_code == 200, done.text
    assert await inv.fetchrow(
        "SELECT p.price_fen, s.on_hand FROM products p JOIN stock s ON s.product_id = p.id WHERE p.id = 'water'"
    ) == (250, 60)
    admin = await prices.post("/locations/shop/price-list", headers=as_(Role.ADMIN) | CSV, content=csv(rows))
    assert admin.status_code == 200
    assert admin.json()["unchanged"] == 2
