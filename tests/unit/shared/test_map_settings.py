"""The map settings are checked when a service starts, so a bad tile template never reaches a page."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from shared.settings import Settings
from shared.web import console_config


@pytest.mark.parametrize(
    ("url", "missing"),
    [
        ("https://tiles.example/{z}/{x}.png", "{y}"),
        ("https://tiles.example/tile.png", "{z}, {x}, {y}"),
        ("https://tiles.example/{x}/{y}.png", "{z}"),
    ],
)
def test_a_tile_url_without_z_x_and_y_is_refused_naming_what_is_missing(url: str, missing: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(map_tile_url=url)
    assert "LINLI_MAP_TILE_URL must be a tile template" in str(refused.value)
    assert f"missing {missing}" in str(refused.value)


def test_a_tile_url_that_is_not_a_url_is_refused() -> None:
    with pytest.raises(ValidationError, match="http"):
        Settings(map_tile_url="javascript:{z}{x}{y}")


def test_the_refusal_comes_from_the_environment_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINLI_MAP_TILE_URL", "https://tiles.example/{z}/{x}")
    with pytest.raises(ValidationError, match=re.escape("missing {y}")):
        Settings()


def test_a_good_template_and_its_datum_reach_the_pages() -> None:
    settings = Settings(
        map_tile_url="https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}&style=8",
        map_tile_datum="gcj02",
        map_app="amap",
    )
    config = console_config(settings)
    assert config["map_tile_url"].endswith("&z={z}&style=8")
    assert (config["map_tile_datum"], config["map_app"]) == ("gcj02", "amap")


def test_an_empty_tile_url_means_no_tiles() -> None:
    assert Settings(map_tile_url="").map_tile_url is None
    with pytest.raises(ValidationError):
        Settings(map_app="google")  # type: ignore[arg-type]
