"""A price list read row by row: each invalid row is refused with its reason, each valid one says what it changes."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from services.inventory.adapters.price_list_files import read_table
from services.inventory.domain.catalog import Location, Product, Stocked
from services.inventory.domain.price_list import Change, Plan, plan, read_rows
from shared.errors import Invalid
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.units import StockUnit

HEADER = ["product_id", "name_zh", "name_en", "unit", "price_fen", "grams_per_piece", "stall", "counted"]
MARKET = Location("market", LocationKind.MARKET, "c", "市场", "Market", 32.0, 118.0)
FISH = Location("fish", LocationKind.STALL, "c", "鱼", "Fish", 32.0, 118.0, parent_id="market")
OTHER_STALL = Location("elsewhere", LocationKind.STALL, "c", "别", "Else", 32.0, 118.0, parent_id="other-market")
SHOP = Location("shop", LocationKind.SHOP, "c", "店", "Shop", 32.0, 118.0)
CARP = Product("carp", "fish", "market", "鲤鱼", "Carp", "fish", StockUnit.GRAM, 1800, grams_per_piece=600)


def _plan(*lines: list[str], location: Location = MARKET, existing: dict[str, Stocked] | None = None) -> Plan:
    rows, refused = read_rows([HEADER, *lines])
    return plan(location, {"fish": FISH}, rows, refused, existing or {})


def test_each_bad_row_is_refused_with_its_reason_and_the_good_ones_still_planned() -> None:
    result = _plan(
        ["carp", "鲤鱼", "Carp", "g", "1800", "600", "fish", "6000"],
        ["eel", "鳝鱼", "Eel", "g", "-5", "300", "fish", "10"],
        ["crab", "螃蟹", "Crab", "box", "900", "", "fish", "3"],
        ["carp", "鲤鱼", "Carp", "g", "1900", "600", "fish", "10"],
        ["prawn", "虾", "Prawn", "piece", "300", "", "elsewhere", "3"],
        ["perch", "鲈鱼", "Perch", "g", "2000", "", "fish", "3"],
        ["", "", "", "", "", "", "", ""],
    )
    assert not result.valid
    assert [(r.line, r.reason) for r in result.refused] == [
        (3, "price_fen cannot be negative (-5)"),
        (4, "unknown unit 'box': use 'piece' or 'g'"),
        (5, "duplicate product id carp: line 2 has it too"),
        (6, "stall 'elsewhere' is not a stall of the market market"),
        (7, "a weighed product (unit 'g') needs grams_per_piece, the estimated weight of one piece"),
    ]
    assert [p.product.id for p in result.planned] == ["carp"]
    assert result.refusal().message.startswith("5 row(s) of the price list are invalid, so nothing was written")


def test_a_row_is_new_a_price_change_a_stock_change_or_unchanged() -> None:
    existing = {
        "carp": Stocked(CARP, on_hand=6000, reserved=0),
        "crucian": Stocked(
            Product("crucian", "fish", "market", "鲫鱼", "Crucian", "fish", StockUnit.GRAM, 2400, 300), 3000, 0
        ),
        "bream": Stocked(
            Product("bream", "fish", "market", "鳊鱼", "Bream", "fish", StockUnit.GRAM, 2000, 500), 100, 0
        ),
    }
    result = _plan(
        ["carp", "鲤鱼", "Carp", "g", "1800", "600", "fish", "6000"],
        ["crucian", "鲫鱼", "Crucian", "g", "2600", "300", "fish", "3000"],
        ["bream", "鳊鱼", "Bream", "g", "2000", "500", "fish", "80"],
        ["eel", "鳝鱼", "Eel", "g", "3000", "300", "fish", "900"],
        existing=existing,
    )
    assert result.valid
    assert {p.product.id: p.changes for p in result.planned} == {
        "carp": (),
        "crucian": (Change.PRICE,),
        "bream": (Change.STOCK,),
        "eel": (Change.NEW,),
    }
    assert [p.product.id for p in result.to_write] == ["crucian", "bream", "eel"]
    eel = result.planned[3].product
    assert (eel.store_id, eel.location_id, eel.category) == ("market", "fish", "other")


def test_a_count_below_what_is_reserved_is_refused_for_that_row() -> None:
    result = _plan(
        ["carp", "鲤鱼", "Carp", "g", "1800", "600", "fish", "1000"],
        existing={"carp": Stocked(CARP, on_hand=6000, reserved=1200)},
    )
    assert [r.reason for r in result.refused] == ["counted 1000 is below the 1200 reserved for orders of carp"]


def test_a_market_row_names_its_stall_and_a_shop_row_names_no_other_place() -> None:
    assert [r.reason for r in _plan(["carp", "鲤鱼", "Carp", "g", "1800", "600", "", "1"]).refused] == [
        "market is a market: say which of its stalls sells carp"
    ]
    shop = _plan(["tea", "茶", "Tea", "piece", "500", "", "fish", "1"], location=SHOP)
    assert [r.reason for r in shop.refused] == ["stall 'fish' is not shop, the shop this list is for"]
    assert _plan(["tea", "茶", "Tea", "piece", "500", "", "", "1"], location=SHOP).valid


def test_a_product_of_another_shop_cannot_be_taken_over_by_a_list() -> None:
    theirs = Stocked(Product("tea", "shop", "shop", "茶", "Tea", "c", StockUnit.PIECE, 500), 5, 0)
    result = _plan(["tea", "茶", "Tea", "piece", "500", "", "fish", "5"], existing={"tea": theirs})
    assert [r.reason for r in result.refused] == ["product tea is sold by shop, not here"]


def test_a_list_without_a_needed_column_is_refused_whole() -> None:
    with pytest.raises(Invalid, match="lacks the column"):
        read_rows([["product_id", "name_zh", "price_fen"], ["a", "b", "1"]])


def test_csv_and_xlsx_read_to_the_same_rows() -> None:
    rows = [HEADER, ["carp", "鲤鱼", "Carp", "g", "1800", "600", "fish", "6000"]]
    csv_bytes = "\ufeff" + "\n".join(",".join(r) for r in rows) + "\n"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(["carp", "鲤鱼", "Carp", "g", 1800, 600, "fish", 6000])
    out = io.BytesIO()
    book.save(out)
    assert read_table(csv_bytes.encode()) == read_table(out.getvalue()) == rows


def test_a_file_that_is_neither_is_refused() -> None:
    with pytest.raises(Invalid, match="UTF-8"):
        read_table(b"\xff\xfe\x00garbage")
    with pytest.raises(Invalid, match=r"not a readable \.xlsx"):
        read_table(b"PK\x03\x04 not really a zip")
