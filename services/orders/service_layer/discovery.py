"""Discovering the circle: which shops serve a shopper, what they sell, and where the lockers are.

Answered from orders' own read models (catalog, circle) and tables (orders, ratings): orders
never calls another service to answer a shopper, and a read model may be a moment behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.orders.domain.basket import CatalogLocation
from services.orders.domain.discovery import (
    Found,
    Mode,
    NearbyLocker,
    Quote,
    Storefront,
    lockers_within_walk,
    open_state,
    promise_minutes,
    serving,
)
from services.orders.domain.search import Hit, normalise
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.vocabulary.geo import Point

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Stall:
    storefront: Storefront
    open_now: bool


@dataclass(frozen=True)
class ShopServing:
    """A shop or market that serves the shopper, with how busy it is, how it is rated, what it promises."""

    found: Found
    open_orders: int
    rating: tuple[float, int] | None  # average stars, how many ratings
    quote: Quote | None  # dispatch's latest promise for the shop
    promise_minutes: int | None
    stalls: list[Stall]


@dataclass(frozen=True)
class ProductFound:
    hit: Hit
    store: CatalogLocation
    stall: CatalogLocation | None  # the market's stall that sells it


def _stalls_by_market(storefronts: list[Storefront]) -> dict[str, list[Storefront]]:
    stalls: dict[str, list[Storefront]] = {}
    for s in storefronts:
        if s.location.kind == "stall" and s.location.parent_id:
            stalls.setdefault(s.location.parent_id, []).append(s)
    return stalls


async def shops(
    uow: OrdersUnitOfWork, door: Point, mode: Mode, category: str | None, now: datetime, timezone: str
) -> list[ShopServing]:
    """GET /circle/shops: the shops and markets serving `door`, open first, then nearest."""
    storefronts = await uow.catalog.storefronts()
    stalls = _stalls_by_market(storefronts)
    found = serving(storefronts, door, mode, now, timezone, category=category, stalls_of=stalls)
    ids = [f.shop.location_id for f in found]
    busy, ratings = await uow.standing.open_orders(ids), await uow.standing.ratings(ids)
    quotes = await uow.circle.quotes(ids)
    answers = []
    for f in found:
        shop_id = f.shop.location_id
        quote = quotes.get(shop_id)
        answers.append(
            ShopServing(
                found=f,
                open_orders=busy.get(shop_id, 0),
                rating=ratings.get(shop_id),
                quote=quote,
                promise_minutes=promise_minutes(quote, f.shop.point, door) if f.reach.delivers_here else None,
                stalls=[
                    Stall(s, open_state(s.location.hours(timezone), now).open_now)
                    for s in sorted(stalls.get(shop_id, []), key=lambda s: s.location_id)
                ],
            )
        )
    return answers


async def search(
    uow: OrdersUnitOfWork,
    query: str,
    door: Point,
    mode: Mode,
    now: datetime,
    timezone: str,
    *,
    limit: int = SEARCH_LIMIT,
) -> list[ProductFound]:
    """GET /circle/search: products matching `query` in the shops serving `door`; open first, then
    in stock, then nearest. The text is matched in SQL, never by loading the catalog."""
    storefronts = await uow.catalog.storefronts()
    stalls = _stalls_by_market(storefronts)
    found = {f.shop.location_id: f for f in serving(storefronts, door, mode, now, timezone)}
    stall_states = {
        s.location_id: (s, open_state(s.location.hours(timezone), now))
        for market in found
        for s in stalls.get(market, [])
    }
    locations = [(sid, True) for sid in found] + [(sid, state.open_now) for sid, (_, state) in stall_states.items()]
    hits = await uow.catalog.search(
        normalise(query), [(sid, f.state.open_now, f.reach.distance_m) for sid, f in found.items()], locations, limit
    )
    return [
        ProductFound(
            hit,
            found[hit.store_id].shop.location,
            stall_states[hit.location_id][0].location if hit.location_id in stall_states else None,
        )
        for hit in sorted(hits, key=lambda h: h.rank())
    ]


async def lockers(uow: OrdersUnitOfWork, door: Point) -> list[NearbyLocker]:
    """GET /circle/lockers: active locker sites within the circle's walk, nearest first."""
    return lockers_within_walk(await uow.circle.locker_sites(), door)
