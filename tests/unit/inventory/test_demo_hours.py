"""The demo at any hour: `linli up` says which demo shops are closed when it starts, and says so
plainly when every one is (a first order would be refused), with how to open them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from services.inventory.adapters import demo_neighbourhood as demo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """A moment in Nanjing, handed in as the clock (Tuesday 1 December 2026 and the days around it)."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


# The convenience store closing at night, so that the whole neighbourhood can be closed at once.
NO_NIGHT_SHOP = {**demo.HOURS, "kedi-corner": [{"day": d, "opens": "07:00:00", "closes": "23:00:00"} for d in range(7)]}


def test_in_the_morning_every_demo_shop_is_open_and_nothing_is_said() -> None:
    assert demo.closed_at(at("2026-12-01T09:30"), "Asia/Shanghai") == []
    assert demo.hours_note(at("2026-12-01T09:30"), "Asia/Shanghai") is None


def test_late_at_night_the_supermarket_and_market_are_closed_but_the_convenience_store_is_not() -> None:
    night = at("2026-12-01T23:30")
    closed = demo.closed_at(night, "Asia/Shanghai")
    assert [c.id for c in closed] == ["suguo-daxinggong", "xiaoshi-market"]
    assert closed[1].opens == at("2026-12-02T06:00")
    assert not demo.all_closed(night, "Asia/Shanghai")
    note = demo.hours_note(night, "Asia/Shanghai")
    assert note is not None
    assert note.startswith("Closed now (23:30 Asia/Shanghai)")
    assert "Xiaoshi Wet Market opens Wed 06:00" in note
    assert "--always-open" in note


def test_when_every_shop_is_closed_the_welcome_says_so_and_how_to_open_them() -> None:
    night = at("2026-12-01T23:30")
    assert demo.all_closed(night, "Asia/Shanghai", NO_NIGHT_SHOP)
    note = demo.hours_note(night, "Asia/Shanghai", NO_NIGHT_SHOP)
    assert note is not None
    assert note.startswith("Every demo shop is closed now (23:30 Asia/Shanghai), so an order would be refused")
    assert "Kedi" in note
    assert "make run ARGS=--always-open" in note
    # Between the market's morning and evening windows the convenience store is open again.
    assert not demo.all_closed(at("2026-12-01T14:00"), "Asia/Shanghai", NO_NIGHT_SHOP)


def test_the_hours_are_read_in_the_neighbourhoods_timezone() -> None:
    # 23:30 in Nanjing is 15:30 UTC: in a neighbourhood on UTC the supermarket would be open.
    night = at("2026-12-01T23:30")
    assert "suguo-daxinggong" in [c.id for c in demo.closed_at(night, "Asia/Shanghai")]
    assert "suguo-daxinggong" not in [c.id for c in demo.closed_at(night, "UTC")]


async def test_inventorys_health_says_it_for_linli_up_to_print_and_only_while_the_demo_keeps_real_hours() -> None:
    from types import SimpleNamespace

    from services.inventory.entrypoints.app import SPEC
    from shared.settings import Settings

    assert SPEC.health_details is not None
    night = SimpleNamespace(now=lambda: at("2026-12-01T23:30"))
    demo_on = SimpleNamespace(settings=Settings(demo_seed=True, timezone="Asia/Shanghai"), clock=night)
    said = await SPEC.health_details(demo_on)  # type: ignore[arg-type]
    assert said["demo_hours_note"].startswith("Closed now (23:30 Asia/Shanghai)")
    always_open = SimpleNamespace(settings=Settings(demo_seed=True, demo_always_open=True), clock=night)
    assert await SPEC.health_details(always_open) == {}  # type: ignore[arg-type]
    no_demo = SimpleNamespace(settings=Settings(demo_seed=False), clock=night)
    assert await SPEC.health_details(no_demo) == {}  # type: ignore[arg-type]
