"""`linli address-book load` against the running orders service: a good file replaces the book, a bad
one is refused row by row and leaves it as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.cli.main import app
from shared.vocabulary.roles import Role
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

DEMO_BOOK = Path(__file__).parents[2] / "services" / "orders" / "adapters" / "demo_address_book.csv"


def load(system: System, file: Path, role: Role = Role.ADMIN) -> tuple[int, str]:
    token = system.token(role, "circle-operator")
    args = ["address-book", "load", str(file), "--orders-url", system.url("orders"), "--token", token]
    result = CliRunner().invoke(app, args)
    return result.exit_code, " ".join(result.output.split())


async def test_the_cli_loads_the_demo_book_and_refuses_a_bad_file_row_by_row(system: System, tmp_path: Path) -> None:
    code, said = load(system, DEMO_BOOK)
    assert code == 0, said
    assert "address book loaded: 21 buildings of 4 estates" in said
    bad = tmp_path / "book.csv"
    bad.write_text("estate_id,estate_zh,estate_en,building,lat,lon\nwenchang-lane,文昌巷小区,Wenchang,1,north,118.78\n")
    code, said = load(system, bad)
    assert code == 1
    assert "refused (422); the address book is unchanged" in said
    assert "line 2: lat and lon must be numbers" in said
    code, said = load(system, bad, Role.SHOPPER)
    assert code == 1
    assert "refused (403)" in said
    code, said = load(system, tmp_path / "missing.csv")
    assert code == 2
    assert "cannot read" in said
    async with system.client("orders", Role.SHOPPER, "someone") as me:
        found = (await me.get("/addresses/buildings", params={"q": "wenchang 2"})).json()
    assert [b["building_id"] for b in found] == ["wenchang-lane/2"]
