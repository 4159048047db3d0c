"""How fast a shopper's product search answers, beside a primary-key lookup on the same database.

The orders service answers `GET /circle/search` from its catalog read model: which shops serve
the door (in Python, over at most a few hundred locations), then the text match in SQL
(Chinese, English, pinyin or initials, by substring). This bench fills a fresh orders database
with a neighbourhood of `--shops` shops of `--products` products each, runs every query in
QUERIES `--repeat` times through the same use case the route calls, and in the same run the
same number of single-row primary-key SELECTs on the same connection: the floor any query on
this server pays. It prints both and writes JSON to `bench/results/`.

    make bench-search ARGS="--shops 40 --products 100"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from shared import db
from shared.events.contracts import LocationUpserted, ProductUpserted
from shared.vocabulary.geo import Point
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit

ORDERS_MIGRATIONS = Path(__file__).parents[1] / "services" / "orders" / "migrations"
HOME = Point(32.0425, 118.7870)
# What people search for, and what they type: characters, whole pinyin, initials, English.
NAMES = [
    ("新鲜草鱼", "Fresh grass carp"),
    ("鲫鱼", "Crucian carp"),
    ("上海青", "Bok choy"),
    ("西红柿", "Tomato"),
    ("土豆", "Potato"),
    ("五花肉", "Pork belly"),
    ("嫩豆腐", "Silken tofu"),
    ("豆浆", "Soy milk"),
    ("鸡蛋", "Eggs"),
    ("大米", "Rice"),
    ("矿泉水", "Mineral water"),
    ("方便面", "Instant noodles"),
    ("酱油", "Soy sauce"),
    ("苹果", "Apple"),
    ("香蕉", "Banana"),
    ("牛奶", "Milk"),
    ("面包", "Bread"),
    ("韭菜", "Chinese chives"),
    ("黄瓜", "Cucumber"),
    ("茄子", "Aubergine"),
]
QUERIES = ["草鱼", "caoyu", "xxcy", "doufu", "milk", "鸡蛋", "x", "product 12"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def fill(conn: asyncpg.Connection, shops: int, products: int, rng: random.Random) -> None:
    from services.orders.adapters.repository import CatalogReadModel

    catalog = CatalogReadModel(conn)
    for s in range(shops):
        location_id = f"bench-shop-{s}"
        # Shops scattered within ~1.5 km of home: some deliver there, some only for pickup, some neither.
        lat, lon = HOME.lat + rng.uniform(-0.014, 0.014), HOME.lon + rng.uniform(-0.016, 0.016)
        await catalog.upsert_location(
            LocationUpserted(
                location_id=location_id,
                kind=LocationKind.SHOP,
                category="supermarket",
                name_zh=f"超市{s}",
                name_en=f"Shop {s}",
                lat=lat,
                lon=lon,
                delivery_radius_m=rng.choice([800, 1500, 2500]),
            )
        )
        for p in range(products):
            name_zh, name_en = NAMES[p % len(NAMES)]
            await catalog.upsert_product(
                ProductUpserted(
                    product_id=f"{location_id}-p{p}",
                    location_id=location_id,
                    store_id=location_id,
                    name_zh=f"{name_zh}{p // len(NAMES) or ''}",
                    name_en=f"{name_en} product {p}",
                    category="food",
                    unit=StockUnit.PIECE,
                    price_fen=rng.randint(100, 5000),
                )
            )


async def run(opts: argparse.Namespace, server_url: str) -> dict[str, Any]:
    from services.orders.domain.discovery import Mode
    from services.orders.service_layer.discovery import search
    from services.orders.service_layer.unit_of_work import PostgresOrdersUnitOfWork
    from shared.clock import SystemClock
    from shared.settings import Settings

    name = f"bench_search_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database_url = server_url.rsplit("/", 1)[0] + f"/{name}"
    conn = await db.connect(database_url)
    pool = await db.create_pool(database_url, 1, 2)
    zone = Settings().timezone
    try:
        await db.migrate(conn, [db.SHARED_MIGRATIONS, ORDERS_MIGRATIONS])
        t0 = time.perf_counter()
        await fill(conn, opts.shops, opts.products, random.Random(7))
        fill_s = time.perf_counter() - t0
        now = datetime.now(UTC)
        found: dict[str, int] = {}
        timings: dict[str, list[float]] = {}
        # One read-only unit of work for every search, as the route opens one per request: the
        # timing is the search's statements, not BEGIN/COMMIT and a pool checkout.
        async with PostgresOrdersUnitOfWork(pool, clock=SystemClock(), readonly=True) as uow:
            for query in QUERIES:
                found[query] = len(await search(uow, query, HOME, Mode.DELIVERY, now, zone))  # warm
                timings[query] = []
                for _ in range(opts.repeat):
                    start = time.perf_counter()
                    await search(uow, query, HOME, Mode.DELIVERY, now, zone)
                    timings[query].append((time.perf_counter() - start) * 1000)
        baseline: list[float] = []
        for i in range(opts.repeat * len(QUERIES)):
            start = time.perf_counter()
            await conn.fetchval(
                "SELECT name_zh FROM catalog_products WHERE product_id = $1",
                f"bench-shop-{i % opts.shops}-p{i % opts.products}",
            )
            baseline.append((time.perf_counter() - start) * 1000)
    finally:
        await pool.close()
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}"')
        await admin.close()
    every = [ms for values in timings.values() for ms in values]
    return {
        "bench": "search",
        "at": datetime.now(UTC).isoformat(),
        "conditions": {
            "shops": opts.shops,
            "products_per_shop": opts.products,
            "products": opts.shops * opts.products,
            "repeat": opts.repeat,
            "database": "embedded PostgreSQL, one connection, same machine",
        },
        "fill_s": round(fill_s, 2),
        "search_ms": {
            "p50": round(statistics.median(every), 2),
            "p95": round(percentile(every, 95), 2),
            "max": round(max(every), 2),
        },
        "per_query_p50_ms": {q: round(statistics.median(v), 2) for q, v in timings.items()},
        "results_per_query": found,
        "baseline_pk_select_ms": {
            "p50": round(statistics.median(baseline), 3),
            "p95": round(percentile(baseline, 95), 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shops", type=int, default=40)
    parser.add_argument("--products", type=int, default=100, help="per shop")
    parser.add_argument("--repeat", type=int, default=30, help="runs of each query")
    parser.add_argument("--results-dir", type=Path, default=Path("bench/results"))
    opts = parser.parse_args()
    from shared.stack import start_infrastructure

    with tempfile.TemporaryDirectory(prefix="linli-bench-search-") as home:
        infra = start_infrastructure(Path(home))
        try:
            result = asyncio.run(run(opts, infra.database_url))
        finally:
            infra.stop()
    opts.results_dir.mkdir(parents=True, exist_ok=True)
    out = opts.results_dir / f"search-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    s, b = result["search_ms"], result["baseline_pk_select_ms"]
    print(f"{result['conditions']['products']} products in {opts.shops} shops (filled in {result['fill_s']} s)")
    print(f"search: p50 {s['p50']} ms, p95 {s['p95']} ms, max {s['max']} ms")
    print(f"baseline, a primary-key SELECT on the same connection: p50 {b['p50']} ms, p95 {b['p95']} ms")
    print("per query p50 (ms):", result["per_query_p50_ms"])
    print("results per query:", result["results_per_query"])
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
