"""HTTP routes for discovering the circle: shops, products and lockers near a point.

Any signed-in user may ask; the answer depends only on the point, not on who asks.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.orders.domain.discovery import Mode
from services.orders.domain.search import MAX_QUERY_CHARS, normalise
from services.orders.entrypoints.answers import LockerAnswer, ProductAnswer, ShopAnswer
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer import discovery
from shared.auth import CurrentPrincipal
from shared.errors import Invalid
from shared.service import runtime_of
from shared.vocabulary.geo import Point

router = APIRouter(prefix="/circle", tags=["discovery"])

Lat = Annotated[float, Query(ge=-90, le=90, description="the shopper's latitude (WGS84 degrees)")]
Lon = Annotated[float, Query(ge=-180, le=180, description="the shopper's longitude (WGS84 degrees)")]
ModeQuery = Annotated[
    Mode, Query(description="delivery: shops whose radius covers the point; pickup: shops within a 15-minute walk")
]


@router.get("/shops")
async def circle_shops(
    request: Request,
    _: CurrentPrincipal,
    lat: Lat,
    lon: Lon,
    mode: ModeQuery = Mode.DELIVERY,
    category: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
) -> list[ShopAnswer]:
    """Shops and markets that serve the point, open first, then nearest."""
    timezone = runtime_of(request).settings.timezone
    async with unit_of_work(request, readonly=True) as uow:
        found = await discovery.shops(uow, Point(lat, lon), mode, category, uow.now(), timezone)
    return [ShopAnswer.of(s) for s in found]


@router.get("/search")
async def circle_search(
    request: Request,
    _: CurrentPrincipal,
    lat: Lat,
    lon: Lon,
    q: Annotated[
        str,
        Query(min_length=1, max_length=MAX_QUERY_CHARS, description="Chinese, English or pinyin (whole or initials)"),
    ],
    mode: ModeQuery = Mode.DELIVERY,
) -> list[ProductAnswer]:
    """Products in the shops that serve the point: open first, then in stock, then nearest."""
    if not normalise(q):
        raise Invalid("q is only spaces: type part of a product's name, in Chinese, English or pinyin")
    timezone = runtime_of(request).settings.timezone
    async with unit_of_work(request, readonly=True) as uow:
        found = await discovery.search(uow, q, Point(lat, lon), mode, uow.now(), timezone)
    return [ProductAnswer.of(p) for p in found]


@router.get("/lockers")
async def circle_lockers(request: Request, _: CurrentPrincipal, lat: Lat, lon: Lon) -> list[LockerAnswer]:
    """Locker sites within a 15-minute walk, with their free compartments by size, nearest first."""
    async with unit_of_work(request, readonly=True) as uow:
        return [LockerAnswer.of(n) for n in await discovery.lockers(uow, Point(lat, lon))]
