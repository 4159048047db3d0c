"""Discovering the circle: which shops serve a shopper, what they sell, and where the lockers are.

Answered from orders' own read models (catalog, circle) and tables (orders, ratings): orders
never calls another service to answer a shopper, and a read model may be a moment behind.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from services.orders.adapters.circle import CircleReadModel, ShopStanding
from services.orders.adapters.repository import CatalogReadModel
from services.orders.domain.discovery import (
    Found,
    Mode,
    OpenState,
    Quote,
    Storefront,
    busy_level,
    lockers_within_walk,
    open_state,
    promise_minutes,
    serving,
)
from services.orders.domain.search import normalise
from shared.vocabulary.geo import Point

SEARCH_LIMIT = 50


def _stalls_by_market(storefronts: list[Storefront]) -> dict[str, list[Storefront]]:
    stalls: dict[str, list[Storefront]] = {}
    for s in storefronts:
        if s.location.kind == "stall" and s.location.parent_id:
            stalls.setdefault(s.location.parent_id, []).append(s)
    return stalls


def _when(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


async def shops(
    conn: asyncpg.Connection, door: Point, mode: Mode, category: str | None, now: datetime, timezone: str
) -> list[dict[str, Any]]:
    """GET /circle/shops: the shops and markets serving `door`, open first, then nearest."""
    storefronts = await CatalogReadModel(conn).storefronts()
    stalls = _stalls_by_market(storefronts)
    found = serving(storefronts, door, mode, now, timezone, category, stalls)
    ids = [f.shop.location_id for f in found]
    standing = ShopStanding(conn)
    busy, ratings = await standing.open_orders(ids), await standing.ratings(ids)
    quotes = await CircleReadModel(conn).quotes(ids)
    return [
        _shop_view(
            f,
            door,
            busy.get(f.shop.location_id, 0),
            ratings.get(f.shop.location_id),
            quotes.get(f.shop.location_id),
            stalls.get(f.shop.location_id, []),
            now,
            timezone,
        )
        for f in found
    ]


def _shop_view(
    f: Found,
    door: Point,
    open_orders: int,
    rating: tuple[float, int] | None,
    quote: Quote | None,
    stalls: list[Storefront],
    now: datetime,
    timezone: str,
) -> dict[str, Any]:
    loc = f.shop.location
    promise = promise_minutes(quote, f.shop.point, door) if f.reach.delivers_here else None
    view: dict[str, Any] = {
        "store_id": loc.location_id,
        "kind": loc.kind,
        "category": f.shop.category,
        "name_zh": loc.name_zh,
        "name_en": loc.name_en,
        "lat": f.shop.point.lat,
        "lon": f.shop.point.lon,
        "distance_m": f.reach.distance_m,
        "walk_minutes": f.reach.walk_minutes,
        "delivers_here": f.reach.delivers_here,
        **_state_view(f.state),
        "busy": {"open_orders": open_orders, "level": busy_level(open_orders).value},
        "delivery_fee_fen": loc.delivery_fee_fen,
        "promise_minutes": promise,
        "ready_minutes": quote.ready_minutes if quote else None,
        "rating": {"stars": rating[0], "count": rating[1]} if rating else {"stars": None, "count": 0},
        "stalls": [
            {
                "location_id": s.location_id,
                "name_zh": s.location.name_zh,
                "name_en": s.location.name_en,
                "category": s.category,
                "open_now": open_state(s.location.hours(timezone), now).open_now,
            }
            for s in sorted(stalls, key=lambda s: s.location_id)
        ],
    }
    if quote is not None and quote.rider_to_shop_minutes is None:
        view["no_rider"] = True  # pickup still works
    return view


def _state_view(state: OpenState) -> dict[str, Any]:
    return {
        "open_now": state.open_now,
        "opens_at": _when(state.opens_at),
        "closes_at": _when(state.closes_at),
        "paused": state.paused,
    }


async def search(
    conn: asyncpg.Connection,
    query: str,
    door: Point,
    mode: Mode,
    now: datetime,
    timezone: str,
    limit: int = SEARCH_LIMIT,
) -> list[dict[str, Any]]:
    """GET /circle/search: products matching `query` in the shops serving `door`; open first, then
    in stock, then nearest. The text is matched in SQL, never by loading the catalog."""
    catalog = CatalogReadModel(conn)
    storefronts = await catalog.storefronts()
    stalls = _stalls_by_market(storefronts)
    found = {f.shop.location_id: f for f in serving(storefronts, door, mode, now, timezone)}
    stall_states = {
        s.location_id: (s, open_state(s.location.hours(timezone), now))
        for market in found
        for s in stalls.get(market, [])
    }
    locations = [(sid, True) for sid in found] + [(sid, state.open_now) for sid, (_, state) in stall_states.items()]
    hits = await catalog.search(
        normalise(query), [(sid, f.state.open_now, f.reach.distance_m) for sid, f in found.items()], locations, limit
    )
    views = []
    for hit in sorted(hits, key=lambda h: h.rank()):
        store = found[hit.store_id].shop.location
        shop: dict[str, Any] = {
            "store_id": hit.store_id,
            "location_id": hit.location_id,
            "name_zh": store.name_zh,
            "name_en": store.name_en,
            "distance_m": hit.distance_m,
            "open_now": hit.open_now,
        }
        if hit.location_id in stall_states:
            stall = stall_states[hit.location_id][0].location
            shop["stall"] = {"name_zh": stall.name_zh, "name_en": stall.name_en}
        views.append(
            {
                "product_id": hit.product_id,
                "name_zh": hit.name_zh,
                "name_en": hit.name_en,
                "unit": hit.unit,
                "price_fen": hit.price_fen,
                "grams_per_piece": hit.grams_per_piece,
                "availability": hit.availability,
                "shop": shop,
            }
        )
    return views


async def lockers(conn: asyncpg.Connection, door: Point) -> list[dict[str, Any]]:
    """GET /circle/lockers: active locker sites within the circle's walk, nearest first."""
    near = lockers_within_walk(await CircleReadModel(conn).locker_sites(), door)
    return [
        {
            "site_id": n.site.site_id,
            "name": n.site.name,
            "lat": n.site.point.lat,
            "lon": n.site.point.lon,
            "distance_m": n.distance_m,
            "walk_minutes": n.walk_minutes,
            "free": n.site.free,
            "has_room": n.site.has_room,
        }
        for n in near
    ]
