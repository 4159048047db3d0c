"""China's datums against points published with the widely used implementations' own tests."""

from __future__ import annotations

import pytest

from shared.vocabulary.china_coordinates import (
    app_uri,
    gcj02_to_bd09,
    geo_uri,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from shared.vocabulary.geo import Point, metres

# (WGS-84, GCJ-02) from wandergis/coordtransform's and googollee/eviltransform's tests.
WGS_TO_GCJ = [
    (Point(39.915, 116.404), Point(39.91640428150164, 116.41024449916938)),  # Tiananmen, coordtransform
    (Point(31.1774276, 121.5272106), Point(31.17530398364597, 121.531541859215)),  # Shanghai, eviltransform
    (Point(22.543847, 113.912316), Point(22.540796131694766, 113.9171764808363)),  # Shenzhen, eviltransform
    (Point(39.911954, 116.377817), Point(39.91334545536069, 116.38404722455657)),  # Beijing, eviltransform
    (Point(30.6107779, 121.0917077), Point(30.608604331756705, 121.09626935575027)),  # Jiaxing, geotool
]


@pytest.mark.parametrize(("wgs", "gcj"), WGS_TO_GCJ)
def test_wgs84_to_gcj02_lands_within_a_metre_of_the_published_point(wgs: Point, gcj: Point) -> None:
    assert metres(wgs84_to_gcj02(wgs), gcj) < 1.0


def test_the_gcj02_shift_is_hundreds_of_metres_in_nanjing() -> None:
    gulou = Point(32.0603, 118.7778)
    assert 300 < metres(gulou, wgs84_to_gcj02(gulou)) < 800


def test_gcj02_to_bd09_matches_the_published_point() -> None:
    bd = gcj02_to_bd09(Point(39.915, 116.404))  # coordtransform: (116.41036949371029, 39.92133699351021)
    assert bd.lat == pytest.approx(39.92133699351021, abs=1e-9)
    assert bd.lon == pytest.approx(116.41036949371029, abs=1e-9)


def test_wgs84_to_bd09_goes_through_gcj02() -> None:
    bd = wgs84_to_bd09(Point(30.6107779, 121.0917077))  # geotool: (121.10271732371203, 30.61484572185035)
    assert metres(bd, Point(30.61484572185035, 121.10271732371203)) < 1.0


def test_points_outside_china_are_left_alone() -> None:
    london = Point(51.5007, -0.1246)
    assert out_of_china(london)
    assert wgs84_to_gcj02(london) == london


def test_navigation_links_carry_each_apps_datum() -> None:
    door = Point(32.0603, 118.7778)
    assert geo_uri(door, "鼓楼 3栋").startswith("geo:32.060300,118.777800?q=32.060300,118.777800(")
    g, b = wgs84_to_gcj02(door), wgs84_to_bd09(door)
    assert f"to={g.lon:.6f},{g.lat:.6f}," in app_uri("amap", door, "door")
    assert f"latlng:{b.lat:.6f},{b.lon:.6f}|" in app_uri("baidu", door, "door")
