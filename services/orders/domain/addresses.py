"""The circle's address book: its estates (小区), their buildings (楼栋) and where each entrance is.

Nobody in an old estate knows their latitude. They know "鼓楼花园 3栋 2单元 502室": the book turns
the estate and building into the point a rider rides to, and the resident adds only unit and
room. The operator loads the book from a CSV file; each row is one building:

    estate_id,estate_zh,estate_en,building,lat,lon[,estate_pinyin]

`building` is how the estate numbers it ("3", "12A"); `lat`/`lon` are its entrance in WGS-84.
Pinyin is computed from the Chinese name unless the row gives it (for a reading pypinyin gets
wrong, such as a place name's 行 read "xing").
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from services.orders.domain.search import pinyin_of
from shared.errors import Invalid
from shared.events.contracts import DeliveryAddress

COLUMNS = ("estate_id", "estate_zh", "estate_en", "building", "lat", "lon")
OPTIONAL = ("estate_pinyin",)
MAX_ROWS = 20_000
MAX_UNIT_ROOM = 20
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
_BUILDING = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff-]{1,20}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NOT_LETTERS = re.compile(r"[^a-z0-9]")


class AddressBookInvalid(Invalid):
    """A CSV file that cannot be loaded, with every row's problem (the book is left as it was)."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:50] + ([f"… and {len(problems) - 50} more"] if len(problems) > 50 else [])
        super().__init__("; ".join(shown), problems=shown)
        self.problems = problems


@dataclass(frozen=True)
class Building:
    """One building of an estate, and the point of its entrance."""

    estate_id: str
    estate_zh: str
    estate_en: str
    building: str  # as the estate numbers it: "3", "12A"
    lat: float
    lon: float
    pinyin: str = ""  # the estate's toneless pinyin, "gulouhuayuan"
    initials: str = ""  # and its initials, "glhy"

    @property
    def building_id(self) -> str:
        return f"{self.estate_id}/{self.building}"

    @property
    def label_zh(self) -> str:
        return f"{self.estate_zh} {self.building}栋"

    @property
    def label_en(self) -> str:
        return f"{self.estate_en}, Building {self.building}"

    @property
    def search_text(self) -> str:
        """What a query is matched in: Chinese, English, pinyin, initials and the building's number."""
        return " ".join(
            (
                self.estate_zh,
                self.estate_en.lower(),
                self.pinyin,
                self.initials,
                self.label_zh,
                f"#{self.building.lower()}#",
            )
        )

    def door(self, unit: str | None, room: str) -> DeliveryAddress:
        """The delivery address of a flat in this building: its text, and the entrance's point."""
        unit_text = check_unit_or_room("unit", unit) if unit else None
        room_text = check_unit_or_room("room", room)
        text = f"{self.estate_zh} {self.building}栋" + (f" {unit_text}单元" if unit_text else "") + f" {room_text}室"
        return DeliveryAddress(text=text, lat=self.lat, lon=self.lon)


def check_unit_or_room(name: str, value: str) -> str:
    """A unit or room as a resident types it ("2", "502", "B-1103"); refuses what no door carries."""
    cleaned = value.strip()
    if _CONTROL.search(value):
        raise Invalid(f"the {name} number has control characters; type only what is on the door, e.g. 502")
    if not cleaned:
        raise Invalid(f"the {name} number is empty; type what is on the door, e.g. 502")
    if len(cleaned) > MAX_UNIT_ROOM:
        raise Invalid(f"the {name} number is longer than {MAX_UNIT_ROOM} characters; type only what is on the door")
    return cleaned


def parse_book(text: str) -> list[Building]:
    """Every building of a CSV file, or AddressBookInvalid naming each bad row by its line number."""
    if text.startswith("\ufeff"):
        text = text[1:]  # Excel's "CSV UTF-8" starts with a byte-order mark
    if "\x00" in text:
        raise AddressBookInvalid(["the file holds NUL bytes: it is not a text file (save it as 'CSV UTF-8')"])
    try:
        return _parse(text)
    except csv.Error as e:  # a field past the csv module's limit, a broken quote
        raise AddressBookInvalid([f"not a CSV file this can read: {e}"]) from None


def _parse(text: str) -> list[Building]:
    reader = csv.DictReader(io.StringIO(text))
    header = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise AddressBookInvalid(
            [f"the first line must name the columns {','.join(COLUMNS)}; missing {', '.join(missing)}"]
        )
    unknown = [c for c in header if c not in COLUMNS + OPTIONAL]
    if unknown:
        raise AddressBookInvalid(
            [f"unknown columns {', '.join(unknown)}; the columns are {','.join(COLUMNS + OPTIONAL)}"]
        )
    problems: list[str] = []
    buildings: dict[str, Building] = {}
    estates: dict[str, tuple[str, str]] = {}
    for row in reader:
        line = reader.line_num
        if len(buildings) >= MAX_ROWS:
            problems.append(f"more than {MAX_ROWS} buildings; split the book by circle")
            break
        values = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if None in row:
            problems.append(f"line {line}: more values than columns")
            continue
        try:
            building = _building_of(values)
        except ValueError as e:
            problems.append(f"line {line}: {e}")
            continue
        named = estates.setdefault(building.estate_id, (building.estate_zh, building.estate_en))
        if named != (building.estate_zh, building.estate_en):
            problems.append(f"line {line}: estate {building.estate_id} is named {named[0]} / {named[1]} above")
        elif building.building_id in buildings:
            problems.append(f"line {line}: building {building.building} of {building.estate_id} is listed twice")
        else:
            buildings[building.building_id] = building
    if problems:
        raise AddressBookInvalid(problems)
    if not buildings:
        raise AddressBookInvalid(["no buildings: after the header, give one line per building"])
    return list(buildings.values())


def _building_of(values: dict[str, str]) -> Building:
    for column in COLUMNS:
        if not values.get(column):
            raise ValueError(f"{column} is empty")
        if _CONTROL.search(values[column]):
            raise ValueError(f"{column} has control characters")
    estate_id, zh, en, number = (values[c] for c in ("estate_id", "estate_zh", "estate_en", "building"))
    if not _ID.match(estate_id):
        raise ValueError(f"estate_id {estate_id!r} must be lower-case letters, digits and '-' (e.g. gulou-garden)")
    if len(zh) > 100 or len(en) > 100:
        raise ValueError("an estate's name is at most 100 characters")
    if not _BUILDING.match(number):
        raise ValueError(f"building {number!r} must be up to 20 letters, digits or Chinese characters (e.g. 3, 12A)")
    try:
        lat, lon = float(values["lat"]), float(values["lon"])
    except ValueError:
        raise ValueError(f"lat and lon must be numbers in degrees, not {values['lat']!r}, {values['lon']!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"lat {lat} / lon {lon} is not on Earth: lat is -90..90, lon -180..180 (WGS-84)")
    given = _NOT_LETTERS.sub("", values.get("estate_pinyin", "").lower())
    reading = pinyin_of(zh)
    pinyin = given or reading.full
    initials = reading.initials if not given else "".join(w[0] for w in values["estate_pinyin"].lower().split() if w)
    return Building(estate_id, zh, en, number, lat, lon, pinyin=pinyin, initials=initials or reading.initials)


def query_words(query: str) -> list[str]:
    """The words a search must all find, so "gulou 3" or "鼓楼 3栋" both find 鼓楼花园 3栋; a bare
    number is the building's own, so "3" does not find building 13."""
    words = _CONTROL.sub(" ", query).lower().replace("栋", " ").replace("号楼", " ").replace(",", " ").split()
    return [f"#{w}#" if w.isdigit() else w for w in words][:6]


def split_building_id(building_id: str) -> tuple[str, str] | None:
    """`estate/building` as the book names it, or None for anything no building of a book is called."""
    estate_id, _, number = building_id.partition("/")
    return (estate_id, number) if _ID.match(estate_id) and _BUILDING.match(number) else None


def not_in_book(building_id: str) -> Invalid:
    return Invalid(
        f"building {building_id!r} is not in the circle's address book: pick your estate and building from "
        "GET /addresses/buildings?q=<estate name>, or give the address as text with lat and lon "
        "(tap your home on the map)"
    )
