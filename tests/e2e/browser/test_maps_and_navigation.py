"""The kit's maps in the browser: its navigation links give Amap GCJ-02 and Baidu BD-09 exactly as
shared/vocabulary/china_coordinates.py does (itself tested against published points), and on
tiles drawn in GCJ-02 the markers are shifted onto them, not left hundreds of metres away."""

from __future__ import annotations

import math
import re
import uuid
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from shared.vocabulary.china_coordinates import MapApp, app_uri, geo_uri, wgs84_to_gcj02
from shared.vocabulary.geo import Point, metres
from shared.vocabulary.roles import Role
from tests.e2e.browser.conftest import new_context, signed_in_page
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

PLACES = [
    (Point(32.0432, 118.7926), "苏果超市 大行宫店"),
    (Point(32.0415, 118.7911), "鼓楼测试花园 3栋"),
    (Point(39.915, 116.404), "Tiananmen"),
    (Point(51.5007, -0.1246), "Westminster"),  # outside China: left as it is
]
TILES = "/app/common/icons/rider.svg?z={z}&x={x}&y={y}"  # served by the kit: no internet needed


async def rider_page(system: System, browser: Browser) -> Page:
    context = await new_context(browser, mobile=True)
    return await signed_in_page(
        context, system, "dispatch", Role.RIDER, f"rider-{uuid.uuid4().hex[:6]}", path="/app/rider/"
    )


async def links_in_page(page: Page, app: str) -> list[list[dict[str, str]]]:
    places = [{"lat": p.lat, "lon": p.lon, "label": label} for p, label in PLACES]
    links: list[list[dict[str, str]]] = await page.evaluate(
        """async ([app, places]) => {
            const kit = await import("/app/common/linli.js");
            kit.config.map_app = app;
            return places.map((p) => kit.navigationLinks(p, p.label));
        }""",
        [app, places],
    )
    return links


@pytest.mark.parametrize("app", ["amap", "baidu"])
async def test_navigate_links_carry_each_apps_datum_as_the_python_module_builds_them(
    system: System, browser: Browser, app: MapApp
) -> None:
    page = await rider_page(system, browser)
    for (point, label), links in zip(PLACES, await links_in_page(page, app), strict=True):
        assert links == [
            {"app": "geo", "href": geo_uri(point, label)},
            {"app": app, "href": app_uri(app, point, label)},
        ]
    await page.context.close()


async def test_without_a_map_app_only_geo_is_offered(system: System, browser: Browser) -> None:
    page = await rider_page(system, browser)
    links = await links_in_page(page, "")
    assert [[link["app"] for link in row] for row in links] == [["geo"]] * len(PLACES)
    await page.context.close()


def _tile_point(marker: tuple[float, float], tile: dict[str, Any]) -> Point:
    """The point under a marker, read off the web-mercator tile drawn beneath it."""
    z, i, j = (int(v) for v in re.findall(r"[zxy]=(\d+)", tile["href"]))
    n = 2**z
    fx = (marker[0] - tile["x"]) / tile["width"]
    fy = (marker[1] - tile["y"]) / tile["height"]
    lon = (i + fx) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (j + fy) / n))))
    return Point(lat, lon)


async def marker_on_tiles(page: Page, datum: str, at: Point) -> Point:
    drawn: dict[str, Any] = await page.evaluate(
        """async ([datum, tiles, lat, lon]) => {
            const kit = await import("/app/common/linli.js");
            Object.assign(kit.config, { map_tile_url: tiles, map_tile_datum: datum });
            const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
            svg.setAttribute("style", "width: 400px; height: 300px");
            document.body.append(svg);
            kit.drawMap(svg, { points: [
                { id: "door", lat, lon, kind: "home" },
                { id: "shop", lat: lat + 0.004, lon: lon + 0.004, kind: "shop" },
            ] });
            const moved = svg.querySelector("[data-id='door']").getAttribute("transform");
            const m = moved.match(/translate\\(([-\\d.e]+),([-\\d.e]+)\\)/);
            const x = Number(m[1]), y = Number(m[2]);
            const tiles_ = [...svg.querySelectorAll("image")].map((t) => ({ href: t.getAttribute("href"),
                x: Number(t.getAttribute("x")), y: Number(t.getAttribute("y")),
                width: Number(t.getAttribute("width")), height: Number(t.getAttribute("height")) }));
            const under = tiles_.find((t) => x >= t.x && x < t.x + t.width && y >= t.y && y < t.y + t.height);
            svg.remove();
            return { x, y, tile: under };
        }""",
        [datum, TILES, at.lat, at.lon],
    )
    assert drawn["tile"] is not None, drawn
    return _tile_point((drawn["x"], drawn["y"]), drawn["tile"])


async def test_markers_sit_on_gcj02_tiles_where_those_tiles_draw_the_place(system: System, browser: Browser) -> None:
    page = await rider_page(system, browser)
    door = Point(32.0415, 118.7911)
    on_gcj = await marker_on_tiles(page, "gcj02", door)
    assert metres(on_gcj, wgs84_to_gcj02(door)) < 10  # where Amap's tiles draw the door
    assert metres(on_gcj, door) > 300  # not the raw GPS point, ~500 m off in Nanjing
    on_osm = await marker_on_tiles(page, "wgs84", door)
    assert metres(on_osm, door) < 10  # OpenStreetMap's tiles are WGS-84: no shift
    await page.context.close()
