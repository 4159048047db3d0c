"""Orders' record of changes over HTTP on real PostgreSQL: residents registered and changed, helpers named
and removed, group leaders granted and revoked, each with who did it; the console's admin lists."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from services.orders.entrypoints.app import SPEC
from shared.auth import issue_token
from shared.service import Runtime, build_app
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import SETTINGS


def as_(role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject)}"}


ADMIN = as_(Role.ADMIN, "ops-1")
LI = as_(Role.HELPER, "helper-li")


@pytest.fixture
async def http(orders_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(SPEC, SETTINGS)
    app.state.runtime = orders_runtime
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


async def changes(http: httpx.AsyncClient, **params: str) -> list[dict[str, object]]:
    answer = await http.get("/admin/audit", headers=ADMIN, params=params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["changes"])


async def test_residents_helpers_and_group_leaders_are_recorded(
    orders_pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    body = {"helper": "helper-li", "name": "Zhou Ayi", "phone": "+86 139 0000 0000", "call_before_delivery": True}
    registered = await http.post("/admin/residents", headers=ADMIN, json=body)
    assert registered.status_code == 201, registered.text
    resident = registered.json()["resident_id"]
    assert registered.json()["helper"] == "helper-li"
    # The helper the desk registered her for orders for her and sees her in their own list.
    assert [r["resident_id"] for r in (await http.get("/residents", headers=LI)).json()] == [resident]
    changed = await http.patch(f"/residents/{resident}", headers=LI, json={"phone": "+86 139 1111 1111"})
    assert changed.status_code == 200, changed.text
    listed = (await http.get("/admin/residents", headers=ADMIN)).json()
    assert [(r["name"], r["helper"], r["phone"]) for r in listed] == [("Zhou Ayi", "helper-li", "+86 139 1111 1111")]
    change, registration = await changes(http, entity="resident", entity_id=resident)
    assert (registration["action"], registration["actor"]) == ("registered", "admin:ops-1")
    assert (change["action"], change["actor"]) == ("changed", "helper:helper-li")
    assert (change["before"]["phone"], change["after"]["phone"]) == ("+86 139 0000 0000", "+86 139 1111 1111")  # type: ignore[index]

    named = await http.put("/admin/helpers/dad/son", headers=ADMIN)
    assert named.status_code == 200, named.text
    assert named.json()["new"] is True
    assert (await http.put("/admin/helpers/dad/son", headers=ADMIN)).json()["new"] is False  # once is once
    assert [(n["shopper"], n["helper"]) for n in (await http.get("/admin/helpers", headers=ADMIN)).json()] == [
        ("dad", "son")
    ]
    assert (await http.delete("/admin/helpers/dad/son", headers=ADMIN)).status_code == 204
    assert (await http.delete("/admin/helpers/dad/son", headers=ADMIN)).status_code == 404
    assert (await http.put("/admin/helpers/dad/dad", headers=ADMIN)).status_code == 422
    assert [c["action"] for c in await changes(http, entity="helper", entity_id="dad/son")] == ["unnamed", "named"]

    assert (await http.post("/group-leaders", headers=ADMIN, json={"shopper": "auntie"})).status_code == 201
    assert [g["shopper"] for g in (await http.get("/admin/group-leaders", headers=ADMIN)).json()] == ["auntie"]
    assert (await http.delete("/group-leaders/auntie", headers=ADMIN)).status_code == 200
    assert (await http.get("/admin/group-leaders", headers=ADMIN)).json() == []
    assert [c["action"] for c in await changes(http, entity="group_leader")] == ["revoked", "granted"]

    for path in ("/admin/residents", "/admin/helpers", "/admin/group-leaders", "/admin/audit"):
        assert (await http.get(path, headers=LI)).status_code == 403, path
    assert await orders_pool.fetchval("SELECT count(*) FROM audit_log") == 6


async def test_replacing_the_address_book_is_recorded_and_a_refused_book_is_not(
    orders_pool: asyncpg.Pool, http: httpx.AsyncClient
) -> None:
    book = "estate_id,estate_zh,estate_en,building,lat,lon\n"
    book += "wenchang-lane,文昌巷小区,Wenchang Lane Estate,3,32.0417,118.7852\n"
    csv = {**ADMIN, "Content-Type": "text/csv"}
    assert (await http.put("/admin/address-book", headers=csv, content=book.encode())).status_code == 200
    refused = await http.put("/admin/address-book", headers=csv, content=b"estate_id\nonly-one-column\n")
    assert refused.status_code == 422, refused.text
    (loaded,) = await changes(http, entity="address_book")
    assert (loaded["action"], loaded["actor"], loaded["after"]) == (
        "replaced",
        "admin:ops-1",
        {"buildings": 1, "estates": 1, "replaced": 0},
    )


async def test_desks_set_up_and_periods_closed_are_recorded(http: httpx.AsyncClient) -> None:
    desk = {"name_zh": "社区服务中心", "name_en": "Service centre", "float_fen": 20_000}
    assert (await http.put("/desks/centre-1", headers=ADMIN, json=desk)).status_code == 200
    moved = await http.put("/desks/centre-1", headers=ADMIN, json={**desk, "float_fen": 30_000})
    assert moved.status_code == 200, moved.text
    changed, added = await changes(http, entity="cash_desk", entity_id="centre-1")
    assert (added["action"], added["before"], added["after"]["float_fen"]) == ("added", None, 20_000)  # type: ignore[index]
    assert (changed["action"], changed["before"]["float_fen"], changed["after"]["float_fen"]) == (  # type: ignore[index]
        "changed",
        20_000,
        30_000,
    )
    assert changed["actor"] == "admin:ops-1"

    closed = await http.post("/settlement/periods", headers=ADMIN, json={})
    assert closed.status_code == 201, closed.text
    (record,) = await changes(http, entity="settlement_period")
    assert (record["entity_id"], record["action"], record["actor"]) == (
        str(closed.json()["id"]),
        "closed",
        "admin:ops-1",
    )
    assert (await http.post("/settlement/periods", headers=ADMIN, json={})).status_code in (201, 409)
