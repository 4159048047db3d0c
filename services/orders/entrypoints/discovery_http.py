"""HTTP routes for discovering the circle: shops, products and lockers near a point.

Any signed-in user may ask; the answer depends only on the point, not on who asks.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from services.orders.domain.discovery import Mode
from services.orders.domain.search import MAX_QUERY_CHARS, normalise
from services.orders.service_layer import discovery
from shared.auth import CurrentPrincipal
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
) -> list[dict[str, Any]]:
    """Shops and markets that serve the point, open first, then nearest."""
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        return await discovery.shops(
            conn, Point(lat, lon), mode, category, datetime.now(UTC), runtime.settings.timezone
        )


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
) -> list[dict[str, Any]]:
    """Products in the shops that serve the point: open first, then in stock, then nearest."""
    if not normalise(q):
        raise HTTPException(422, "q is only spaces: type part of a product's name, in Chinese, English or pinyin")
    runtime = runtime_of(request)
    async with runtime.pool.acquire() as conn:
        return await discovery.search(conn, q, Point(lat, lon), mode, datetime.now(UTC), runtime.settings.timezone)


@router.get("/lockers")
async def circle_lockers(request: Request, _: CurrentPrincipal, lat: Lat, lon: Lon) -> list[dict[str, Any]]:
    """Locker sites within a 15-minute walk, with their free compartments by size, nearest first."""
    async with runtime_of(request).pool.acquire() as conn:
        return await discovery.lockers(conn, Point(lat, lon))
