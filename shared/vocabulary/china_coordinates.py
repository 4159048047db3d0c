"""China's map coordinates: WGS-84 (GPS, OpenStreetMap), GCJ-02 (Amap, Tencent, China's tile servers)
and BD-09 (Baidu).

A phone's GPS and Linli's stored points are WGS-84. Maps published in China must use GCJ-02, an
obfuscated datum drifting a few hundred metres from WGS-84, and Baidu shifts GCJ-02 once more.
Send a raw point to Amap and the pin lands in the wrong street, so every point leaving Linli for
a Chinese map goes through here. The WGS-84 -> GCJ-02 formula is the widely published one
(Krasovsky ellipsoid, the leaked polynomial); outside China it is the identity, as there.
"""

from __future__ import annotations

import math
from typing import Literal
from urllib.parse import quote

from shared.vocabulary.geo import Point

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as GCJ-02 uses
_EE = 0.00669342162296594323  # its first eccentricity squared
_BD_PI = math.pi * 3000.0 / 180.0

MapApp = Literal["amap", "baidu"]


def out_of_china(p: Point) -> bool:
    """The rough box GCJ-02 applies to; outside it, points stay as they are."""
    return not (73.66 < p.lon < 135.05 and 3.86 < p.lat < 53.55)


def _shift_lat(x: float, y: float) -> float:
    d = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    d += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    d += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return d


def _shift_lon(x: float, y: float) -> float:
    d = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    d += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    d += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    d += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return d


def wgs84_to_gcj02(p: Point) -> Point:
    """Where Amap (and a GCJ-02 tile server) draws a GPS point."""
    if out_of_china(p):
        return p
    d_lat = _shift_lat(p.lon - 105.0, p.lat - 35.0)
    d_lon = _shift_lon(p.lon - 105.0, p.lat - 35.0)
    rad = p.lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return Point(lat=p.lat + d_lat, lon=p.lon + d_lon)


def gcj02_to_bd09(p: Point) -> Point:
    """Baidu's further shift of a GCJ-02 point."""
    z = math.sqrt(p.lon * p.lon + p.lat * p.lat) + 0.00002 * math.sin(p.lat * _BD_PI)
    theta = math.atan2(p.lat, p.lon) + 0.000003 * math.cos(p.lon * _BD_PI)
    return Point(lat=z * math.sin(theta) + 0.006, lon=z * math.cos(theta) + 0.0065)


def wgs84_to_bd09(p: Point) -> Point:
    """Where Baidu Maps draws a GPS point."""
    return gcj02_to_bd09(wgs84_to_gcj02(p))


def geo_uri(p: Point, label: str) -> str:
    """RFC 5870 `geo:` in WGS-84, which Android hands to whatever map app the phone has."""
    return f"geo:{p.lat:.6f},{p.lon:.6f}?q={p.lat:.6f},{p.lon:.6f}({quote(label)})"


def app_uri(app: MapApp, p: Point, label: str) -> str:
    """Amap's or Baidu's own link to navigate to a WGS-84 point, in the datum that app expects."""
    if app == "amap":
        g = wgs84_to_gcj02(p)
        return (
            f"https://uri.amap.com/navigation?to={g.lon:.6f},{g.lat:.6f},{quote(label)}"
            "&mode=ride&coordinate=gaode&callnative=1&src=linli"
        )
    b = wgs84_to_bd09(p)
    return (
        f"https://api.map.baidu.com/direction?destination=latlng:{b.lat:.6f},{b.lon:.6f}|name:{quote(label)}"
        "&mode=riding&coord_type=bd09ll&output=html&src=linli"
    )
