"""A demo living circle around an old estate in Nanjing: what `make run` puts on the map.

A supermarket, a wet market with four stalls (vegetables, pork, fish, tofu), and a
convenience store, all within a 15-minute walk; prices in fen, weighed goods per kg.

Hours are realistic: the wet market and its stalls trade 06:00-12:00 and 16:00-19:00 (the
tofu stall from 05:30, the fish stall only in the morning on Mondays), the supermarket
08:00-22:00, and the convenience store is always open, so a demo can order at any hour.
`LINLI_DEMO_ALWAYS_OPEN=true` seeds every location always open instead. Hours and delivery fees
are set when a location is first seeded; later seeds keep whatever staff changed.

Delivery fees are what such shops charge in a neighbourhood: the supermarket 3 yuan, the wet
market 2 yuan for a bag from any of its stalls (stalls charge nothing of their own), and the
convenience store nothing, as it competes with walking downstairs. Low-stock thresholds make
search show "low" before a shelf is empty: about two portions of weighed goods, a few pieces.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from services.inventory.domain.shop_hours import windows_of
from shared.vocabulary.opening_hours import ALWAYS_OPEN, Hours


def _daily(*spans: tuple[str, str], days: range = range(7)) -> list[dict[str, Any]]:
    return [
        {"day": d, "opens": time.fromisoformat(a).isoformat(), "closes": time.fromisoformat(b).isoformat()}
        for d in days
        for a, b in spans
    ]


MARKET_HOURS = _daily(("06:00", "12:00"), ("16:00", "19:00"))
HOURS: dict[str, list[dict[str, Any]] | None] = {
    "suguo-daxinggong": _daily(("08:00", "22:00")),
    "xiaoshi-market": MARKET_HOURS,
    "xiaoshi-veg": MARKET_HOURS,
    "xiaoshi-pork": MARKET_HOURS,
    "xiaoshi-fish": _daily(("06:00", "12:00"), days=range(1))
    + _daily(("06:00", "12:00"), ("16:00", "19:00"), days=range(1, 7)),
    "xiaoshi-tofu": _daily(("05:30", "12:00"), ("16:00", "19:00")),
    "kedi-corner": None,  # open around the clock
}

DELIVERY_FEES_FEN: dict[str, int] = {"suguo-daxinggong": 300, "xiaoshi-market": 200, "kedi-corner": 0}

LOCATIONS: list[dict[str, Any]] = [
    {
        "id": "suguo-daxinggong",
        "kind": "shop",
        "category": "supermarket",
        "name_zh": "苏果超市（大行宫店）",
        "name_en": "Suguo Supermarket (Daxinggong)",
        "lat": 32.0432,
        "lon": 118.7926,
    },
    {
        "id": "xiaoshi-market",
        "kind": "market",
        "category": "wet_market",
        "name_zh": "小市菜场",
        "name_en": "Xiaoshi Wet Market",
        "lat": 32.0448,
        "lon": 118.7889,
    },
    {
        "id": "xiaoshi-veg",
        "kind": "stall",
        "parent_id": "xiaoshi-market",
        "category": "stall",
        "name_zh": "王阿姨蔬菜摊",
        "name_en": "Auntie Wang's Vegetables",
        "lat": 32.0448,
        "lon": 118.7889,
    },
    {
        "id": "xiaoshi-pork",
        "kind": "stall",
        "parent_id": "xiaoshi-market",
        "category": "stall",
        "name_zh": "老李猪肉铺",
        "name_en": "Old Li's Pork",
        "lat": 32.0448,
        "lon": 118.7890,
    },
    {
        "id": "xiaoshi-fish",
        "kind": "stall",
        "parent_id": "xiaoshi-market",
        "category": "stall",
        "name_zh": "长江鲜鱼档",
        "name_en": "Yangtze Fresh Fish",
        "lat": 32.0449,
        "lon": 118.7890,
    },
    {
        "id": "xiaoshi-tofu",
        "kind": "stall",
        "parent_id": "xiaoshi-market",
        "category": "stall",
        "name_zh": "陈记豆腐坊",
        "name_en": "Chen's Tofu",
        "lat": 32.0449,
        "lon": 118.7889,
    },
    {
        "id": "kedi-corner",
        "kind": "shop",
        "category": "convenience",
        "name_zh": "可的便利店（文昌巷）",
        "name_en": "Kedi Convenience (Wenchang Lane)",
        "lat": 32.0419,
        "lon": 118.7861,
    },
]

# Each product: its id, location, Chinese and English names, category, unit, price in fen,
# grams per piece (weighed goods) and the stock on hand.
_PRODUCTS: list[tuple[str, str, str, str, str, str, int, int | None, int]] = [
    ("suguo-rice-5kg", "suguo-daxinggong", "东北大米 5kg", "Northeast rice 5 kg", "grain", "piece", 4590, None, 40),
    ("suguo-oil-1l8", "suguo-daxinggong", "花生油 1.8L", "Peanut oil 1.8 L", "grocery", "piece", 3990, None, 30),
    ("suguo-eggs-10", "suguo-daxinggong", "鲜鸡蛋 10枚", "Fresh eggs, 10", "eggs", "piece", 1290, None, 60),
    ("suguo-milk-1l", "suguo-daxinggong", "纯牛奶 1L", "Whole milk 1 L", "dairy", "piece", 1180, None, 80),
    ("suguo-apples", "suguo-daxinggong", "红富士苹果", "Fuji apples", "fruit", "g", 1280, 250, 30000),
    ("veg-bokchoy", "xiaoshi-veg", "小青菜", "Bok choy", "vegetables", "g", 600, 500, 20000),
    ("veg-tomato", "xiaoshi-veg", "西红柿", "Tomatoes", "vegetables", "g", 800, 200, 15000),
    ("veg-scallion", "xiaoshi-veg", "小葱", "Spring onions", "vegetables", "piece", 150, None, 50),
    ("pork-belly", "xiaoshi-pork", "五花肉", "Pork belly", "meat", "g", 3200, 500, 12000),
    ("pork-ribs", "xiaoshi-pork", "猪小排", "Pork spare ribs", "meat", "g", 4600, 500, 8000),
    ("fish-grass-carp", "xiaoshi-fish", "新鲜草鱼", "Fresh grass carp", "fish", "g", 1800, 600, 18000),
    ("fish-crucian", "xiaoshi-fish", "鲫鱼", "Crucian carp", "fish", "g", 2400, 300, 6000),
    ("tofu-firm", "xiaoshi-tofu", "老豆腐", "Firm tofu", "tofu", "piece", 300, None, 40),
    ("tofu-soymilk", "xiaoshi-tofu", "现磨豆浆", "Fresh soy milk", "tofu", "piece", 400, None, 30),
    ("kedi-water", "kedi-corner", "矿泉水 550ml", "Mineral water 550 ml", "drinks", "piece", 200, None, 120),
    ("kedi-noodles", "kedi-corner", "方便面", "Instant noodles", "grocery", "piece", 450, None, 70),
    ("kedi-tissue", "kedi-corner", "抽纸 3包", "Tissues, 3 packs", "household", "piece", 990, None, 25),
]

PRODUCTS: list[dict[str, Any]] = [
    {
        "id": pid,
        "location_id": loc,
        "name_zh": zh,
        "name_en": en,
        "category": cat,
        "unit": unit,
        "price_fen": price,
        "grams_per_piece": gpp,
        "on_hand": on_hand,
        "low_stock_threshold": 2 * gpp if gpp else 5,
    }
    for pid, loc, zh, en, cat, unit, price, gpp, on_hand in _PRODUCTS
]


@dataclass(frozen=True)
class ClosedNow:
    """A demo shop or market closed at some moment, and when it next opens by its seeded hours."""

    id: str
    name_en: str
    opens: datetime | None


def closed_at(at: datetime, timezone: str, hours: Mapping[str, list[dict[str, Any]] | None] = HOURS) -> list[ClosedNow]:
    """The demo's shops and markets (stalls trade within their market's hours) closed at `at`."""
    closed = []
    for location in LOCATIONS:
        if location["kind"] == "stall":
            continue
        timetable = Hours(windows=tuple(windows_of(hours.get(location["id"])) or ALWAYS_OPEN), timezone=timezone)
        if not timetable.is_open(at):
            closed.append(ClosedNow(location["id"], location["name_en"], timetable.next_opening(at)))
    return closed


def all_closed(at: datetime, timezone: str, hours: Mapping[str, list[dict[str, Any]] | None] = HOURS) -> bool:
    """True when no demo shop or market would take an order at `at`: a first order would be refused."""
    shops = sum(1 for location in LOCATIONS if location["kind"] != "stall")
    return len(closed_at(at, timezone, hours)) == shops


def hours_note(at: datetime, timezone: str, hours: Mapping[str, list[dict[str, Any]] | None] = HOURS) -> str | None:
    """What `linli up` says about the demo shops closed at `at` (their seeded hours); None if all are open.

    Inventory seeded those hours, so it answers this on /health (`demo_hours_note`) and the CLI
    prints it: a newcomer starting at night learns why a first order would be refused.
    """
    closed = closed_at(at, timezone, hours)
    if not closed:
        return None
    local = at.astimezone(ZoneInfo(timezone))
    opens = "; ".join(
        f"{c.name_en} opens {c.opens.strftime('%a %H:%M') if c.opens else 'not in the next two weeks'}" for c in closed
    )
    how = (
        "To open them round the clock, stop and start again with `make run ARGS=--always-open` "
        "(`linli up --always-open`); a --keep run keeps the hours it first seeded, which staff can change "
        "at the counter."
    )
    if all_closed(at, timezone, hours):
        return f"Every demo shop is closed now ({local:%H:%M} {timezone}), so an order would be refused: {opens}. {how}"
    return f"Closed now ({local:%H:%M} {timezone}): {opens}. {how}"
