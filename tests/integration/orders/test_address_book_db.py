"""The circle's address book over HTTP on real PostgreSQL: loaded from CSV by the operator, searched by
residents in Chinese, pinyin or English, and a building with unit and room giving an order its door."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.entrypoints import addresses_http, residents_http
from services.orders.entrypoints.app import seed_demo
from services.orders.entrypoints.http import router
from services.orders.service_layer import payments
from shared.auth import Principal, issue_token
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import SETTINGS, corner_shop, run, seed, shop_product

DEMO_BOOK = Path(__file__).parents[3] / "services" / "orders" / "adapters" / "demo_address_book.csv"
BOOK = "estate_id,estate_zh,estate_en,building,lat,lon\n" + "".join(
    f"wenchang-lane,文昌巷小区,Wenchang Lane Estate,{n},{32.0414 + n / 10_000:.6f},118.7852\n" for n in (1, 3, 13)
)


@pytest.fixture
async def client(orders_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = orders_runtime
    install_error_handlers(app)
    for r in (router, residents_http.router, addresses_http.router):
        app.include_router(r)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


def as_(role: Role, subject: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject or 'someone-' + uuid.uuid4().hex[:4])}"}


async def load(client: httpx.AsyncClient, text: str | bytes, role: Role = Role.ADMIN) -> httpx.Response:
    body = text.encode() if isinstance(text, str) else text
    return await client.put("/admin/address-book", content=body, headers={**as_(role), "Content-Type": "text/csv"})


async def find(client: httpx.AsyncClient, q: str) -> list[str]:
    response = await client.get("/addresses/buildings", params={"q": q}, headers=as_(Role.SHOPPER))
    assert response.status_code == 200, response.text
    return [b["building_id"] for b in response.json()]


async def test_the_demo_book_loads_and_is_found_in_chinese_pinyin_initials_and_english(
    client: httpx.AsyncClient, orders_pool: asyncpg.Pool
) -> None:
    response = await load(client, DEMO_BOOK.read_bytes())
    assert response.status_code == 200, response.text
    assert response.json() == {"buildings": 21, "estates": 4, "replaced": 0}
    assert await find(client, "文昌巷 3栋") == ["wenchang-lane/3"]
    assert await find(client, "wenchang 3") == ["wenchang-lane/3"]
    assert await find(client, "xsxc 8") == ["xiaoshi-xincun/8"]
    assert await find(client, "Changle") == ["changle-li/1", "changle-li/2", "changle-li/3"]
    assert await find(client, "daxinggong 2") == ["daxinggong-garden/2"]
    assert await find(client, "nowhere") == []
    assert len(await find(client, "wen\x00chang")) == 6  # the NUL never reaches PostgreSQL
    found = (await client.get("/addresses/buildings", params={"q": "小市 1"}, headers=as_(Role.HELPER))).json()
    assert found[0]["label_zh"] == "小市新村 1栋"
    assert found[0]["lat"] == pytest.approx(32.0458)
    assert (await client.get("/addresses/buildings", params={"q": "x"})).status_code == 401


async def test_a_number_alone_is_the_buildings_own(client: httpx.AsyncClient) -> None:
    assert (await load(client, BOOK)).status_code == 200
    assert await find(client, "3") == ["wenchang-lane/3"]
    assert await find(client, "1") == ["wenchang-lane/1"]


async def test_only_an_admin_loads_and_a_bad_file_is_refused_row_by_row_leaving_the_book(
    client: httpx.AsyncClient,
) -> None:
    assert (await load(client, BOOK, Role.SHOPPER)).status_code == 403
    assert (await load(client, BOOK)).status_code == 200
    bad = (
        "estate_id,estate_zh,estate_en,building,lat,lon\n"
        "wenchang-lane,文昌巷小区,Wenchang Lane Estate,1,32.04,118.78\n"
        "Wenchang Lane,文昌巷小区,Wenchang Lane Estate,2,32.04,118.78\n"
        "wenchang-lane,文昌巷小区,Wenchang Lane Estate,3,north,118.78\n"
        "wenchang-lane,文昌巷小区,Wenchang Lane Estate,1,32.04,118.78\n"
        "wenchang-lane,文昌巷小区,Wenchang Lane Estate,4,95,118.78\n"
    )
    response = await load(client, bad)
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert [p.split(":")[0] for p in problems] == ["line 3", "line 4", "line 5", "line 6"]
    assert "lower-case letters" in problems[0]
    assert "numbers" in problems[1]
    assert "listed twice" in problems[2]
    assert "not on Earth" in problems[3]
    assert "missing lon" in (await load(client, "estate_id,estate_zh,estate_en,building,lat\n")).json()["detail"]
    gbk = "estate_id,estate_zh\n小区".encode("gbk")
    assert "UTF-8" in (await load(client, gbk)).json()["detail"]
    assert await find(client, "wenchang") == ["wenchang-lane/1", "wenchang-lane/3", "wenchang-lane/13"]


async def test_an_order_to_a_building_goes_to_its_entrance_with_unit_and_room(
    client: httpx.AsyncClient, orders_pool: asyncpg.Pool
) -> None:
    await load(client, BOOK)
    await seed(orders_pool, corner_shop(), shop_product("milk", "牛奶", "Milk", "dairy", 500))
    await run(orders_pool, payments.top_up, Principal("desk", Role.ADMIN), "grandma", 10_000, "cash desk")
    address = {"building_id": "wenchang-lane/3", "unit": "2", "room": "502"}
    body = {"store_id": "shop", "lines": [{"product_id": "milk", "quantity": 1}],
            "fulfilment": {"mode": "delivery", "address": address}}  # fmt: skip
    headers = {**as_(Role.SHOPPER, "grandma"), "Idempotency-Key": uuid.uuid4().hex}
    response = await client.post("/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    door = response.json()["fulfilment"]["address"]
    assert door == {"text": "文昌巷小区 3栋 2单元 502室", "lat": pytest.approx(32.0417), "lon": pytest.approx(118.7852)}
    point = {"text": "Old mill, back door", "lat": 32.0421, "lon": 118.7861}  # a home outside the book
    body["fulfilment"] = {"mode": "delivery", "address": point}
    headers["Idempotency-Key"] = uuid.uuid4().hex
    response = await client.post("/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["fulfilment"]["address"] == point


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ({"building_id": "wenchang-lane/7", "room": "502"}, "not in the circle's address book: pick your estate"),
        ({"building_id": "nowhere", "room": "502"}, "GET /addresses/buildings"),
        ({"building_id": "wenchang-lane/3\x00", "room": "502"}, "not in the circle's address book"),
        ({"building_id": "wenchang-lane/3", "room": "50\x002"}, "control characters"),
        ({"building_id": "wenchang-lane/3", "unit": "2\n", "room": "502"}, "control characters"),
        ({"building_id": "wenchang-lane/3", "room": "5" * 21}, "longer than 20 characters"),
        ({"building_id": "wenchang-lane/3", "room": "5" * 101}, "room"),
        ({"building_id": "wenchang-lane/3"}, "give the room"),
        ({"building_id": "wenchang-lane/3", "room": "1", "lat": 32.0, "lon": 118.0}, "not both"),
        ({"text": "somewhere"}, "give building_id"),
    ],
)
async def test_a_building_not_in_the_book_or_a_bad_room_is_refused_saying_what_to_enter(
    client: httpx.AsyncClient, address: dict[str, object], says: str
) -> None:
    await load(client, BOOK)
    response = await client.post(
        "/residents", json={"name": "Grandpa Zhou", "address": address}, headers=as_(Role.HELPER)
    )
    assert response.status_code == 422, response.text
    assert says in str(response.json()["detail"])


async def test_a_helpers_resident_lives_in_a_building_of_the_book(client: httpx.AsyncClient) -> None:
    await load(client, BOOK)
    helper = as_(Role.HELPER)
    address = {"building_id": "wenchang-lane/13", "room": "101"}
    response = await client.post("/residents", json={"name": "Grandpa Zhou", "address": address}, headers=helper)
    assert response.status_code == 201, response.text
    resident = response.json()
    assert resident["address"] == {"text": "文昌巷小区 13栋 101室", "lat": pytest.approx(32.0427), "lon": 118.7852}
    moved = {"address": {"building_id": "wenchang-lane/1", "unit": "1", "room": "202"}}
    response = await client.patch(f"/residents/{resident['resident_id']}", json=moved, headers=helper)
    assert response.json()["address"]["text"] == "文昌巷小区 1栋 1单元 202室"


async def test_the_demo_seeds_its_estates_once_and_keeps_an_operators_book(
    client: httpx.AsyncClient, orders_runtime: Runtime
) -> None:
    await seed_demo(orders_runtime)
    assert await find(client, "文昌巷 1") == ["wenchang-lane/1"]
    assert (await load(client, BOOK)).status_code == 200  # the operator's own book
    await seed_demo(orders_runtime)  # a restart of the demo
    assert await find(client, "wenchang") == ["wenchang-lane/1", "wenchang-lane/3", "wenchang-lane/13"]
