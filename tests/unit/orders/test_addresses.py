"""The address book's rules: what a CSV file must hold, how a query finds a building, what a door reads."""

from __future__ import annotations

import pytest

from services.orders.domain.addresses import (
    AddressBookInvalid,
    Building,
    check_unit_or_room,
    parse_book,
    query_words,
    split_building_id,
)
from shared.errors import Invalid

HEADER = "estate_id,estate_zh,estate_en,building,lat,lon"


def test_a_book_from_excel_with_a_byte_order_mark_and_its_own_pinyin_loads() -> None:
    text = "\ufeff" + HEADER + ",estate_pinyin\nchangle-li,长乐里,Changle Lane,2,32.0426,118.7898,Chang Le Li\n"
    [building] = parse_book(text)
    assert building.building_id == "changle-li/2"
    assert (building.pinyin, building.initials) == ("changleli", "cll")
    assert building.label_zh == "长乐里 2栋"


def test_pinyin_is_computed_when_the_row_gives_none() -> None:
    [building] = parse_book(HEADER + "\nwenchang-lane,文昌巷小区,Wenchang Lane Estate,3,32.04,118.78\n")
    assert (building.pinyin, building.initials) == ("wenchangxiangxiaoqu", "wcxxq")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("estate,name\n", "missing estate_id"),
        (HEADER + ",colour\n", "unknown columns colour"),
        (HEADER + "\n", "no buildings"),
        (HEADER + "\na,甲,A,1,32,118,extra\n", "line 2: more values than columns"),
        (HEADER + "\na,甲,A,,32,118\n", "line 2: building is empty"),
        (HEADER + "\na,甲,A,1 号,32,118\n", "building '1 号' must be"),
        (HEADER + "\na,甲\x07,A,1,32,118\n", "estate_zh has control characters"),
        (HEADER + "\na,甲,A,1,32,118\na,乙,A,2,32,118\n", "line 3: estate a is named 甲 / A above"),
        (HEADER + "\na,甲,A,1,32,118\x00\n", "NUL bytes"),
        (HEADER + '\na,"' + "甲" * 140_000 + '",A,1,32,118\n', "not a CSV file"),  # past the csv field limit
    ],
)
def test_a_bad_file_is_refused_saying_which_line_and_why(text: str, says: str) -> None:
    with pytest.raises(AddressBookInvalid) as refused:
        parse_book(text)
    assert says in str(refused.value)


def test_a_door_reads_estate_building_unit_and_room_and_is_the_entrance() -> None:
    building = Building("wenchang-lane", "文昌巷小区", "Wenchang Lane Estate", "3", 32.0418, 118.7852)
    door = building.door(" 2 ", "502")
    assert (door.text, door.lat, door.lon) == ("文昌巷小区 3栋 2单元 502室", 32.0418, 118.7852)
    assert building.door(None, "B-1103").text == "文昌巷小区 3栋 B-1103室"


@pytest.mark.parametrize(
    ("room", "says"), [("50\x002", "control"), ("5\u2028", "control"), (" ", "empty"), ("5" * 21, "20")]
)
def test_a_room_no_door_carries_is_refused(room: str, says: str) -> None:
    with pytest.raises(Invalid, match=says):
        check_unit_or_room("room", room)


def test_a_bare_number_in_a_query_is_a_buildings_whole_number() -> None:
    assert query_words("鼓楼 3栋") == ["鼓楼", "#3#"]
    assert query_words("Wenchang, 12A") == ["wenchang", "12a"]
    assert query_words("wen\x00chang\n3") == ["wen", "chang", "#3#"]


def test_a_building_id_is_an_estate_and_a_number_or_nothing() -> None:
    assert split_building_id("wenchang-lane/3") == ("wenchang-lane", "3")
    for bad in ("wenchang-lane", "wenchang-lane/", "/3", "Wenchang/3", "a/3\x00", "a/3/4"):
        assert split_building_id(bad) is None
