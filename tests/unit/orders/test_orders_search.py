"""Finding a product the way shoppers type: Chinese, English, pinyin whole or by initials."""

from __future__ import annotations

from services.orders.domain.search import Hit, normalise, pinyin_of


def test_pinyin_is_toneless_and_joined_and_initials_are_its_first_letters() -> None:
    assert pinyin_of("新鲜草鱼").full == "xinxiancaoyu"
    assert pinyin_of("新鲜草鱼").initials == "xxcy"
    # ü is typed v on a phone; letters in a name are kept as words.
    assert pinyin_of("绿豆").full == "lvdou"
    assert pinyin_of("A级 草鱼") == pinyin_of("a级草鱼")
    assert pinyin_of("A级草鱼").full == "ajicaoyu"


def test_a_query_of_only_spaces_is_empty() -> None:
    assert normalise(" \t　") == ""
    assert normalise(" Cao Yu ") == "caoyu"


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
