"""Finding a product the way shoppers type: Chinese, English, pinyin whole or by initials."""

from __future__ import annotations

from services.orders.domain.search import Hit, Searchable, matches, normalise, pinyin_of


def product(name_zh: str, name_en: str) -> Searchable:
    spelled = pinyin_of(name_zh)
    return Searchable(name_zh, name_en, spelled.full, spelled.initials)


GRASS_CARP = product("新鲜草鱼", "Fresh Grass Carp")
GREEN_BEANS = product("绿豆", "Mung beans")


def find(query: str, p: Searchable = GRASS_CARP) -> bool:
    return matches(normalise(query), p)


def test_pinyin_is_toneless_and_joined_and_initials_are_its_first_letters() -> None:
    assert pinyin_of("新鲜草鱼").full == "xinxiancaoyu"
    assert pinyin_of("新鲜草鱼").initials == "xxcy"
    # ü is typed v on a phone; letters in a name are kept as words.
    assert pinyin_of("绿豆").full == "lvdou"
    assert pinyin_of("A级 草鱼") == pinyin_of("a级草鱼")
    assert pinyin_of("A级草鱼").full == "ajicaoyu"


def test_a_chinese_substring_finds_the_product() -> None:
    assert find("草鱼")
    assert find("新鲜")
    assert not find("鲤鱼")


def test_pinyin_whole_partial_or_initials_finds_it_with_spaces_and_capitals_ignored() -> None:
    for query in ("caoyu", "xinxiancaoyu", "xxcy", "cy", "Cao Yu", " XXCY "):
        assert find(query), query
    assert not find("liyu")
    assert find("lvdou", GREEN_BEANS)
    assert find("ld", GREEN_BEANS)


def test_english_is_matched_case_insensitively_and_spaces_are_ignored() -> None:
    assert find("grass carp")
    assert find("GRASSCARP")
    assert find("carp")
    assert not find("salmon")


def test_a_query_of_only_spaces_matches_nothing() -> None:
    assert normalise(" \t　") == ""
    assert not find("   ")


def hit(pid: str, open_now: bool, availability: str, distance_m: int) -> Hit:
    return Hit(pid, "shop", "shop", pid, pid, "piece", 100, None, availability, open_now, distance_m)


def test_results_rank_open_first_then_in_stock_then_nearest() -> None:
    hits = [
        hit("closed-near", False, "in_stock", 100),
        hit("open-out-near", True, "out", 50),
        hit("open-instock-far", True, "in_stock", 900),
        hit("open-instock-near", True, "in_stock", 300),
        hit("open-low", True, "low", 10),
        hit("open-unknown", True, "unknown", 10),
    ]
    ranked = [h.product_id for h in sorted(hits, key=lambda h: h.rank())]
    assert ranked == [
        "open-instock-near",
        "open-instock-far",
        "open-low",
        "open-unknown",
        "open-out-near",
        "closed-near",
    ]
