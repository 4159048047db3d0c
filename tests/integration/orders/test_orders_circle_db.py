"""Orders' read models of the catalog and the circle, fed by events, and discovery and search over
them against real PostgreSQL (no broker: the consumers are driven with the bytes Kafka would carry)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.discovery import Mode
from services.orders.entrypoints.answers import LockerAnswer, ProductAnswer, ShopAnswer
from services.orders.entrypoints.app import SPEC
from services.orders.entrypoints.discovery_http import router
from services.orders.service_layer import discovery
from shared.auth import issue_token
from shared.events.contracts import (
    LocationUpserted,
    LockerSiteUpdated,
    ProductUpserted,
    PromiseQuoted,
    StockLevel,
    StockLevelChanged,
)
from shared.events.envelope import Event, envelope
from shared.events.topics import CATALOG, CIRCLE, Topic
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.geo import Point
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.opening_hours import Window
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.fakes import to_json
from tests.integration.orders.conftest import SETTINGS, TZ, unit_of_work
from tests.runtime import consumer_for, runtime_for

DOOR = Point(30.0, 120.0)
M_PER_DEG_LAT = 111_195.0


def north(metres: float) -> tuple[float, float]:
    return DOOR.lat + metres / M_PER_DEG_LAT, DOOR.lon


class Feed:
    """The orders service's catalog and circle consumers, as Kafka would drive them."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.runtime = runtime_for(SPEC, SETTINGS, pool)

    async def send(self, event: Event, occurred_at: datetime | None = None) -> bytes:
        raw = to_json(envelope(event, occurred_at=occurred_at))
        assert await self.deliver(event.topic, raw) == "applied", self.runtime.dead_letters.sent  # type: ignore[attr-defined]
        return raw

    async def deliver(self, topic: Topic, raw: bytes) -> str:
        return await consumer_for(self.runtime, topic).handle(raw, None, {})


async def shops(pool: asyncpg.Pool, mode: Mode, category: str | None, now: datetime) -> list[dict[str, Any]]:
    """GET /circle/shops at DOOR, as JSON."""
    async with unit_of_work(pool, readonly=True) as uow:
        found = await discovery.shops(uow, DOOR, mode, category, now, TZ)
    return [ShopAnswer.of(s).model_dump(mode="json") for s in found]


async def search(pool: asyncpg.Pool, query: str, mode: Mode) -> list[dict[str, Any]]:
    """GET /circle/search at DOOR, as JSON."""
    async with unit_of_work(pool, readonly=True) as uow:
        found = await discovery.search(uow, query, DOOR, mode, datetime.now(UTC), TZ)
    return [ProductAnswer.of(p).model_dump(mode="json") for p in found]


def location(location_id: str, metres: float, kind: LocationKind = LocationKind.SHOP, **extra: Any) -> LocationUpserted:
    lat, lon = north(metres)
    fields: dict[str, Any] = {"category": "grocery", "name_zh": location_id, "name_en": location_id.title(), **extra}
    return LocationUpserted(location_id=location_id, kind=kind, lat=lat, lon=lon, **fields)


def product(
    product_id: str, location_id: str, name_zh: str, name_en: str, store_id: str | None = None, **extra: Any
) -> ProductUpserted:
    return ProductUpserted(
        product_id=product_id,
        location_id=location_id,
        store_id=store_id or location_id,
        name_zh=name_zh,
        name_en=name_en,
        category="food",
        unit=StockUnit.PIECE,
        **{"price_fen": 1200, **extra},
    )


def level(product_id: str, store_id: str, lvl: StockLevel) -> StockLevelChanged:
    return StockLevelChanged(
        product_id=product_id,
        location_id=store_id,
        store_id=store_id,
        level=lvl,
        available=0 if lvl is StockLevel.OUT else 3,
    )


async def test_catalog_events_fill_fee_pinyin_and_availability_and_redelivery_changes_nothing(
    orders_pool: asyncpg.Pool,
) -> None:
    feed = Feed(orders_pool)
    await feed.send(location("fishmonger", 300, delivery_fee_fen=300))
    # The level travels under its own key: it may arrive before the product it is about.
    early = await feed.send(level("carp", "fishmonger", StockLevel.LOW))
    first = await feed.send(product("carp", "fishmonger", "新鲜草鱼", "Fresh Grass Carp"))
    row = await orders_pool.fetchrow("SELECT pinyin, pinyin_initials, availability FROM catalog_products")
    assert dict(row) == {"pinyin": "xinxiancaoyu", "pinyin_initials": "xxcy", "availability": "low"}
    assert await orders_pool.fetchval("SELECT delivery_fee_fen FROM catalog_locations") == 300

    await feed.send(level("carp", "fishmonger", StockLevel.OUT))
    await feed.send(product("carp", "fishmonger", "草鱼", "Grass Carp", price_fen=1500))
    # Kafka redelivers: the inbox absorbs both, so the older level and name do not come back.
    assert await feed.deliver(CATALOG, early) == "duplicate"
    assert await feed.deliver(CATALOG, first) == "duplicate"
    row = await orders_pool.fetchrow(
        "SELECT name_zh, pinyin, pinyin_initials, availability, price_fen FROM catalog_products"
    )
    assert dict(row) == {
        "name_zh": "草鱼",
        "pinyin": "caoyu",
        "pinyin_initials": "cy",
        "availability": "out",
        "price_fen": 1500,
    }


async def test_products_stored_before_pinyin_was_kept_get_it_at_start_up(orders_pool: asyncpg.Pool) -> None:
    feed = Feed(orders_pool)
    await feed.send(product("beans", "grocer", "绿豆", "Mung beans"))
    await orders_pool.execute("UPDATE catalog_products SET pinyin = NULL, pinyin_initials = NULL")
    async with unit_of_work(orders_pool) as uow:
        assert await uow.catalog.fill_missing_pinyin() == 1
        assert await uow.catalog.fill_missing_pinyin() == 0
    row = await orders_pool.fetchrow("SELECT pinyin, pinyin_initials FROM catalog_products")
    assert tuple(row) == ("lvdou", "ld")


async def test_circle_events_keep_the_latest_site_and_promise_even_when_an_old_one_is_late(
    orders_pool: asyncpg.Pool,
) -> None:
    feed = Feed(orders_pool)
    lat, lon = north(200)
    now = datetime.now(UTC)
    site = LockerSiteUpdated(site_id="gate-3", name="North gate", lat=lat, lon=lon, free={"S": 2, "M": 1})
    older = to_json(envelope(site.model_copy(update={"free": {"S": 5}}), occurred_at=now - timedelta(minutes=1)))
    newest = await feed.send(site, occurred_at=now)
    assert await feed.deliver(CIRCLE, newest) == "duplicate"
    assert await feed.deliver(CIRCLE, older) == "applied"  # a different event, but older: no effect
    assert await orders_pool.fetchval("SELECT free FROM circle_lockers WHERE site_id = 'gate-3'") == {"S": 2, "M": 1}

    await feed.send(
        PromiseQuoted(
            location_id="fishmonger", ready_minutes=12, rider_to_shop_minutes=4, riders_available=2, quoted_at=now
        )
    )
    await feed.send(
        PromiseQuoted(
            location_id="fishmonger",
            ready_minutes=30,
            rider_to_shop_minutes=None,
            riders_available=0,
            quoted_at=now - timedelta(minutes=2),
        )
    )
    row = await orders_pool.fetchrow("SELECT ready_minutes, rider_to_shop_minutes FROM circle_promises")
    assert tuple(row) == (12, 4)

    async with unit_of_work(orders_pool, readonly=True) as uow:
        lockers = [LockerAnswer.of(n).model_dump(mode="json") for n in await discovery.lockers(uow, DOOR)]
    assert [(s["site_id"], s["free"], s["has_room"], s["distance_m"]) for s in lockers] == [
        ("gate-3", {"S": 2, "M": 1}, True, 260)
    ]


async def seed_circle(feed: Feed) -> None:
    """A near fishmonger, a far supermarket, a closed grocer and a market with a fish stall."""
    in_three_days = (datetime.now(ZoneInfo(TZ)).weekday() + 3) % 7
    closed_now = [Window(day=in_three_days, opens=time(6), closes=time(7))]
    await feed.send(location("fishmonger", 300, delivery_radius_m=1000, delivery_fee_fen=300))
    await feed.send(location("supermarket", 700, delivery_radius_m=2000, delivery_fee_fen=0))
    await feed.send(location("grocer", 100, windows=closed_now))
    await feed.send(location("toofar", 3000, delivery_radius_m=1000))
    await feed.send(location("market", 500, LocationKind.MARKET, category="wet_market"))
    await feed.send(location("market-fish", 500, LocationKind.STALL, parent_id="market", category="fish", paused=True))
    await feed.send(product("carp-1", "fishmonger", "新鲜草鱼", "Fresh Grass Carp"))
    await feed.send(product("carp-2", "supermarket", "草鱼块", "Grass carp pieces"))
    await feed.send(product("carp-3", "grocer", "草鱼", "Grass Carp"))
    await feed.send(product("carp-4", "toofar", "草鱼", "Grass Carp"))
    await feed.send(product("carp-5", "market-fish", "活草鱼", "Live grass carp", store_id="market"))
    await feed.send(product("carp-6", "supermarket", "冻草鱼", "Frozen grass carp"))
    await feed.send(product("gone", "fishmonger", "草鱼干", "Dried carp", active=False))
    await feed.send(product("bread", "supermarket", "面包", "Bread"))
    await feed.send(level("carp-2", "supermarket", StockLevel.IN_STOCK))
    await feed.send(level("carp-6", "supermarket", StockLevel.OUT))


async def test_search_finds_by_pinyin_in_shops_that_deliver_here_open_then_in_stock_then_nearest(
    orders_pool: asyncpg.Pool,
) -> None:
    feed = Feed(orders_pool)
    await seed_circle(feed)
    found = await search(orders_pool, "caoyu", Mode.DELIVERY)
    by_initials = await search(orders_pool, "C Y", Mode.DELIVERY)
    english = await search(orders_pool, "GRASS carp", Mode.DELIVERY)
    pickup = await search(orders_pool, "草鱼", Mode.PICKUP)
    nothing = await search(orders_pool, "xxxx", Mode.DELIVERY)
    # Open shops first: the in-stock supermarket beats the nearer fishmonger whose stock is unknown;
    # the out-of-stock carp comes after; the closed grocer and the paused stall come last.
    assert [r["product_id"] for r in found] == ["carp-2", "carp-1", "carp-6", "carp-3", "carp-5"]
    assert [r["product_id"] for r in by_initials] == [r["product_id"] for r in found]
    assert {r["product_id"] for r in english} == {"carp-1", "carp-2", "carp-6", "carp-3", "carp-5"}
    first = found[0]
    assert first["availability"] == "in_stock"
    assert first["price_fen"] == 1200
    assert first["shop"] == {
        "store_id": "supermarket",
        "location_id": "supermarket",
        "name_zh": "supermarket",
        "name_en": "Supermarket",
        "distance_m": 910,
        "open_now": True,
    }
    stall_hit = found[-1]["shop"]
    assert stall_hit["store_id"] == "market"
    assert stall_hit["location_id"] == "market-fish"
    assert stall_hit["open_now"] is False
    assert stall_hit["stall"]["name_zh"] == "market-fish"
    # On foot, the supermarket (910 street metres, 13 minutes) is in; the far shop never is.
    assert "carp-4" not in {r["product_id"] for r in pickup}
    assert "carp-2" in {r["product_id"] for r in pickup}
    assert nothing == []


async def test_shops_show_fee_busy_rating_promise_and_stalls(orders_pool: asyncpg.Pool) -> None:
    feed = Feed(orders_pool)
    await seed_circle(feed)
    now = datetime.now(UTC)
    await feed.send(
        PromiseQuoted(
            location_id="fishmonger", ready_minutes=12, rider_to_shop_minutes=4, riders_available=2, quoted_at=now
        )
    )
    await feed.send(
        PromiseQuoted(
            location_id="supermarket", ready_minutes=8, rider_to_shop_minutes=None, riders_available=0, quoted_at=now
        )
    )
    async with orders_pool.acquire() as conn:
        for n, status in enumerate(["CONFIRMED", "ACCEPTED", "PICKING", "PLACED", "DELIVERED"]):
            oid = f"o-{n}"
            await conn.execute(
                "INSERT INTO orders (id, store_id, placed_by, placed_by_role, placed_for, fulfilment, status, "
                "total_fen, created_at) VALUES ($1, 'fishmonger', 'p', 'shopper', 'p', '{}'::jsonb, $2, 100, now())",
                oid,
                status,
            )
        await conn.executemany(
            "INSERT INTO order_ratings (order_id, store_id, placed_for, shop_stars, rated_at) "
            "VALUES ($1, 'fishmonger', 'p', $2, now())",
            [("o-3", 5), ("o-4", 4)],
        )
    serving = await shops(orders_pool, Mode.DELIVERY, None, now)
    fish_only = await shops(orders_pool, Mode.DELIVERY, "fish", now)

    assert [s["store_id"] for s in serving] == ["fishmonger", "market", "supermarket", "grocer"]
    fish = serving[0]
    assert fish["delivery_fee_fen"] == 300
    assert fish["distance_m"] == 390
    assert fish["walk_minutes"] == 6
    assert fish["busy"] == {"open_orders": 3, "level": "busy"}
    assert fish["rating"] == {"stars": 4.5, "count": 2}
    assert fish["promise_minutes"] == 12 + 2 + 5
    assert "no_rider" not in fish
    assert fish["open_now"]
    assert fish["closes_at"] is None
    supermarket = serving[2]
    assert supermarket["promise_minutes"] is None
    assert supermarket["no_rider"] is True
    assert supermarket["rating"] == {"stars": None, "count": 0}
    grocer = serving[-1]
    assert not grocer["open_now"]
    assert grocer["opens_at"] is not None
    assert serving[1]["stalls"] == [
        {
            "location_id": "market-fish",
            "name_zh": "market-fish",
            "name_en": "Market-Fish",
            "category": "fish",
            "open_now": False,
        }
    ]
    assert [s["store_id"] for s in fish_only] == ["market"]


@pytest.fixture
async def client(orders_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    runtime = orders_runtime
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


def as_(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, 'someone-' + uuid.uuid4().hex[:4])}"}


async def test_the_routes_answer_any_signed_in_role_and_explain_bad_input(
    client: httpx.AsyncClient, orders_pool: asyncpg.Pool
) -> None:
    await seed_circle(Feed(orders_pool))
    point = {"lat": DOOR.lat, "lon": DOOR.lon}
    assert (await client.get("/circle/shops", params=point)).status_code == 401
    for role in (Role.SHOPPER, Role.HELPER, Role.RIDER):
        response = await client.get("/circle/search", params={**point, "q": "xxcy"}, headers=as_(role))
        assert response.status_code == 200, response.text
        assert [r["product_id"] for r in response.json()] == ["carp-1"]
    shopper = as_(Role.SHOPPER)
    pickup = await client.get("/circle/shops", params={**point, "mode": "pickup"}, headers=shopper)
    assert [s["store_id"] for s in pickup.json()] == ["fishmonger", "market", "supermarket", "grocer"]
    bad = {"lat": "91", "lon": "120"}
    response = await client.get("/circle/shops", params=bad, headers=shopper)
    assert response.status_code == 422
    assert "lat" in response.json()["detail"]
    response = await client.get("/circle/lockers", params={"lat": "north", "lon": "120"}, headers=shopper)
    assert response.status_code == 422
    assert "lat" in response.json()["detail"]
    response = await client.get("/circle/shops", params={**point, "mode": "drone"}, headers=shopper)
    assert response.status_code == 422
    assert "mode" in response.json()["detail"]
    for q in ("", "x" * 51):
        response = await client.get("/circle/search", params={**point, "q": q}, headers=shopper)
        assert response.status_code == 422
        assert "q" in response.json()["detail"]
    response = await client.get("/circle/search", params={**point, "q": "   "}, headers=shopper)
    assert response.status_code == 422
    assert "spaces" in response.json()["detail"]
    assert (await client.get("/circle/search", params=point, headers=shopper)).status_code == 422
    # Wildcards are text, not patterns.
    response = await client.get("/circle/search", params={**point, "q": "%"}, headers=shopper)
    assert response.status_code == 200
    assert response.json() == []


# The matching rule, as the read model's SQL applies it: a substring of the Chinese or English
# name (case and spaces ignored), or of the pinyin, whole or by initials (ü typed as v).
FOUND, NOT_FOUND = True, False


@pytest.mark.parametrize(
    ("query", "product_name", "found"),
    [
        ("草鱼", "新鲜草鱼", FOUND),
        ("新鲜", "新鲜草鱼", FOUND),
        ("鲤鱼", "新鲜草鱼", NOT_FOUND),
        ("caoyu", "新鲜草鱼", FOUND),
        ("xinxiancaoyu", "新鲜草鱼", FOUND),
        ("xxcy", "新鲜草鱼", FOUND),
        ("cy", "新鲜草鱼", FOUND),
        ("Cao Yu", "新鲜草鱼", FOUND),
        (" XXCY ", "新鲜草鱼", FOUND),
        ("liyu", "新鲜草鱼", NOT_FOUND),
        ("lvdou", "绿豆", FOUND),
        ("ld", "绿豆", FOUND),
        ("grass carp", "新鲜草鱼", FOUND),
        ("GRASSCARP", "新鲜草鱼", FOUND),
        ("carp", "新鲜草鱼", FOUND),
        ("salmon", "新鲜草鱼", NOT_FOUND),
        ("   ", "新鲜草鱼", NOT_FOUND),
    ],
)
async def test_a_product_is_found_the_way_shoppers_type(
    orders_pool: asyncpg.Pool, query: str, product_name: str, found: bool
) -> None:
    feed = Feed(orders_pool)
    await feed.send(location("fishmonger", 200, category="fish"))
    english = {"新鲜草鱼": "Fresh Grass Carp", "绿豆": "Mung beans"}[product_name]
    await feed.send(product("p1", "fishmonger", product_name, english))
    hits = [r["product_id"] for r in await search(orders_pool, query, Mode.PICKUP)]
    assert hits == (["p1"] if found else [])
