"""The consoles: each service serves its own pages, and all of them share one small kit.

The pages are plain HTML, CSS and JavaScript modules with no build step and nothing fetched
from the internet: a browser in a shop with a poor connection loads a few kilobytes from the
service it already talks to. `/app/config.json` tells a page where the other services are, so
the same files work under `linli up`, in tests on free ports, and behind a real domain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from shared.settings import Settings

KIT = Path(__file__).parent / "static"


def console_config(settings: Settings) -> dict[str, Any]:
    return {
        "service": settings.service,
        "urls": {"orders": settings.orders_url, "inventory": settings.inventory_url, "dispatch": settings.dispatch_url},
        "map_tile_url": settings.map_tile_url,
        "map_tile_datum": settings.map_tile_datum,
        "map_app": settings.map_app,
        "dev_sign_in": settings.allow_dev_sign_in,
        "timezone": settings.timezone,
    }


def mount_console(app: FastAPI, pages: Path, settings: Settings) -> None:
    """Serve the kit under /app/common/, the service's pages under /app/, and send / there."""

    @app.get("/app/config.json", include_in_schema=False)
    async def config() -> dict[str, Any]:
        return console_config(settings)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/app/")

    app.mount("/app/common", StaticFiles(directory=KIT), name="console-kit")
    app.mount("/app", StaticFiles(directory=pages, html=True), name="console")
