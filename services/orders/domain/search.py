"""Finding a product by what a shopper types: Chinese, English, or pinyin whole or by initials.

Many older shoppers type pinyin without tones, or only its initials (`xxcy` for 新鲜草鱼), and
phones insert spaces freely; so a query and every name are compared lowercased with all spaces
removed. Pinyin is computed once, when a product reaches the catalog read model, never per query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypinyin import lazy_pinyin

MAX_QUERY_CHARS = 50

# Open first, then in stock: a product the shop has is better than one it may have (unknown,
# not yet reported), and both are better than one it has run out of.
AVAILABILITY_ORDER = ("in_stock", "low", "unknown", "out")

_SPACES = re.compile(r"\s+")
_NOT_LETTERS = re.compile(r"[^0-9a-z]+")


def normalise(text: str) -> str:
    """Lowercase, every kind of space removed: how queries and names are compared."""
    return _SPACES.sub("", text).lower()


@dataclass(frozen=True)
class Pinyin:
    full: str  # 新鲜草鱼 -> "xinxiancaoyu"
    initials: str  # 新鲜草鱼 -> "xxcy"


def pinyin_of(name_zh: str) -> Pinyin:
    """Toneless pinyin of a Chinese name, and its initials; letters and digits in the name are kept.

    ü is written `v`, as on a phone's pinyin keyboard (绿 -> "lv").
    """
    syllables: list[str] = []
    for part in lazy_pinyin(name_zh):
        # Non-Chinese runs come back as they were ("A级" -> ["A", "ji"]): keep their words.
        syllables.extend(w for w in (_NOT_LETTERS.sub("", word.lower()) for word in part.split()) if w)
    return Pinyin("".join(syllables), "".join(s[0] for s in syllables))


@dataclass(frozen=True)
class Hit:
    """A product found in a shop that serves the shopper, as the search returns it."""

    product_id: str
    location_id: str  # who fulfils it: the shop, or a market's stall
    store_id: str  # who takes the order: the shop or the market
    name_zh: str
    name_en: str
    unit: str
    price_fen: int
    grams_per_piece: int | None
    availability: str  # in_stock | low | out | unknown
    open_now: bool  # the shop (and the stall) taking orders now
    distance_m: int

    def rank(self) -> tuple[bool, int, int, str]:
        return rank_key(self.open_now, self.availability, self.distance_m, self.name_en)


def availability_rank(availability: str) -> int:
    try:
        return AVAILABILITY_ORDER.index(availability)
    except ValueError:
        return AVAILABILITY_ORDER.index("unknown")


def rank_key(open_now: bool, availability: str, distance_m: int, name: str) -> tuple[bool, int, int, str]:
    """Open first, then in stock, then nearest; the name only to make the order stable."""
    return (not open_now, availability_rank(availability), distance_m, name)
