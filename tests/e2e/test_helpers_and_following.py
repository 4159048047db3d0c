"""Help and following, whole: a helper orders for a resident who pays at the door, follows the
order live as the shop works on it, and another helper sees none of it; a shopper collects an
order, rates it once, and orders it again at today's prices."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import System, shopper, wait_status
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

HOME = {"text": "Building 3, 2-401, Wenchang Lane", "lat": 32.0425, "lon": 118.7870}


def helper(system: System, subject: str) -> httpx.AsyncClient:
    return system.client("orders", Role.HELPER, subject)


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


class Follower:
    """An app following one order over server-sent events, keeping every `order` event it receives."""

    def __init__(self, client: httpx.AsyncClient, order_id: str) -> None:
        self.client, self.order_id = client, order_id
        self.views: list[dict[str, Any]] = []
        self.headers: httpx.Headers | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Follower:
        self._task = asyncio.create_task(self._read())
        await eventually(lambda: _truthy(self.views))
        return self

    async def _read(self) -> None:
        async with self.client.stream(
            "GET", f"/orders/{self.order_id}/stream", timeout=httpx.Timeout(30.0, read=60.0)
        ) as response:
            assert response.status_code == 200, await response.aread()
            self.headers = response.headers
            name = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: ") and name == "order":
                    self.views.append(json.loads(line.removeprefix("data: ")))

    @property
    def statuses(self) -> list[str]:
        return [v["status"] for v in self.views]

    async def saw(self, status: str) -> bool:
        return status in self.statuses

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # a failure while reading shows here
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def _truthy(value: Any) -> Any:
    return value


async def staff_step(
    system: System,
    store_id: str,
    order_id: str,
    step: str,
    body: dict[str, Any] | None = None,
    service_path: str | None = None,
) -> Any:
    async with system.client("inventory", Role.STORE_STAFF, "counter", store=store_id) as staff:
        return await ok(await staff.post(service_path or f"/stores/{store_id}/orders/{order_id}/{step}", json=body))


@pytest.fixture
async def clients(system: System) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    made = {
        "li": helper(system, f"helper-li-{uuid.uuid4().hex[:6]}"),
        "wang": helper(system, f"helper-wang-{uuid.uuid4().hex[:6]}"),
        "admin": system.client("orders", Role.ADMIN, "cash-desk"),
    }
    try:
        yield made
    finally:
        for client in made.values():
            await client.aclose()


async def test_a_helper_orders_for_a_resident_who_pays_at_the_door_and_follows_it_live(
    system, make_shop, clients
) -> None:
    li, wang = clients["li"], clients["wang"]
    shop = await make_shop({"eggs": 10, "milk": 10}, accept_limit_s=600)
    refused = await li.post("/residents", json={"name": "Zhou Ayi", "address": HOME, "pets": "cat"})
    assert refused.status_code == 422
    assert "pets" in refused.text
    async with shopper(system) as someone:
        assert (await someone.post("/residents", json={"name": "Zhou Ayi"})).status_code == 403
    zhou = await ok(
        await li.post(
            "/residents",
            json={
                "name": "Zhou Ayi",
                "address": HOME,
                "phone": "+86 139 0000 0001",
                "call_before_delivery": True,
                "pay_on_delivery": True,
                "note": "hard of hearing: knock loudly",
            },
        ),
        201,
    )
    rid = zhou["resident_id"]
    assert rid.startswith("res-")
    assert [r["resident_id"] for r in await ok(await li.get("/residents"))] == [rid]

    # Another helper learns nothing of Zhou Ayi, and cannot order for her.
    assert await ok(await wang.get("/residents")) == []
    assert (await wang.get(f"/residents/{rid}")).status_code == 404
    assert (await wang.patch(f"/residents/{rid}", json={"phone": None})).status_code == 404
    stranger = await wang.post(
        "/orders",
        headers=key(),
        json={
            "store_id": shop.store_id,
            "on_behalf_of": rid,
            "fulfilment": {"mode": "delivery"},
            "lines": [{"product_id": shop.products["eggs"], "quantity": 1}],
        },
    )
    assert stranger.status_code == 403
    assert "/residents" in stranger.json()["detail"]

    # The order omits the address, the flags and the payment: the resident's record fills them in.
    placed = await ok(
        await li.post(
            "/orders",
            headers=key(),
            json={
                "store_id": shop.store_id,
                "on_behalf_of": rid,
                "fulfilment": {"mode": "delivery"},
                "flags": {"call_before_delivery": False},
                "lines": [
                    {"product_id": shop.products["eggs"], "quantity": 2},
                    {"product_id": shop.products["milk"], "quantity": 1, "substitution": {"mode": "best_match"}},
                ],
            },
        ),
        201,
    )
    order_id = placed["id"]
    assert placed["placed_for"] == rid
    assert placed["fulfilment"]["address"] == HOME
    assert placed["flags"]["call_before_delivery"] is True, "a resident's call-first is not switched off"
    assert placed["payment"] == "on_delivery"
    assert (await wang.get(f"/orders/{order_id}")).status_code == 404
    assert (await wang.get(f"/orders/{order_id}/stream")).status_code == 404
    assert (await wang.get(f"/orders/{order_id}/reorder")).status_code == 404

    # The helper follows the order live while the shop accepts and starts picking.
    async with Follower(li, order_id) as follower:
        assert follower.headers is not None
        assert follower.headers["content-type"].startswith("text/event-stream")
        assert "no-cache" in follower.headers["cache-control"]
        assert follower.headers["x-accel-buffering"] == "no"
        first = follower.views[0]
        assert first["id"] == order_id
        assert first["status"] in ("PLACED", "CONFIRMED")
        await wait_status(li, order_id, "CONFIRMED")
        await eventually(lambda: follower.saw("CONFIRMED"))
        await staff_step(system, shop.store_id, order_id, "accept")
        await eventually(lambda: follower.saw("ACCEPTED"))
        await staff_step(system, shop.store_id, order_id, "picking")
        await eventually(lambda: follower.saw("PICKING"))
    assert follower.statuses.index("ACCEPTED") < follower.statuses.index("PICKING")
    views = follower.views
    assert all(views[i] != views[i + 1] for i in range(len(views) - 1)), "an event only when the order changed"

    # The choice given for the milk is remembered for Zhou Ayi, and only she (or her helper) sees it.
    remembered = await ok(await li.get("/me/substitution-preferences", params={"resident": rid}))
    assert {
        "product_id": shop.products["milk"],
        "substitution": {"mode": "best_match", "product_id": None},
    } in remembered["preferences"]
    assert (await wang.get("/me/substitution-preferences", params={"resident": rid})).status_code == 404
    assert (await li.get("/me/substitution-preferences")).status_code == 422

    # A change to the resident's record is theirs to make.
    changed = await ok(await li.patch(f"/residents/{rid}", json={"pay_on_delivery": False}))
    assert (changed["pay_on_delivery"], changed["call_before_delivery"]) == (False, True)
    assert (await li.patch(f"/residents/{rid}", json={"name": None})).status_code == 422


async def test_a_shopper_names_a_helper_who_may_then_order_for_them(system, make_shop, clients) -> None:
    wang = clients["wang"]
    me_wang = await ok(await wang.get("/auth/me"))
    async with shopper(system) as dad:
        dad_id = (await ok(await dad.get("/auth/me")))["subject"]
        shop = await make_shop({"rice": 5}, accept_limit_s=600)
        body = {
            "store_id": shop.store_id,
            "on_behalf_of": dad_id,
            "fulfilment": {"mode": "delivery", "address": HOME},
            "payment": "on_delivery",
            "lines": [{"product_id": shop.products["rice"], "quantity": 1}],
        }
        assert (await wang.post("/orders", headers=key(), json=body)).status_code == 403
        await ok(await dad.put(f"/me/helpers/{me_wang['subject']}"))
        assert [h["helper"] for h in await ok(await dad.get("/me/helpers"))] == [me_wang["subject"]]
        placed = await ok(await wang.post("/orders", headers=key(), json=body), 201)
        assert (await ok(await dad.get(f"/orders/{placed['id']}")))["placed_by"] == me_wang["subject"]
        assert (await dad.delete(f"/me/helpers/{me_wang['subject']}")).status_code == 204
        assert (await dad.delete(f"/me/helpers/{me_wang['subject']}")).status_code == 404
        assert (await wang.post("/orders", headers=key(), json=body)).status_code == 403


async def test_a_collected_order_is_rated_once_and_ordered_again_at_todays_prices(
    system, make_shop, admin, clients
) -> None:
    shop = await make_shop({"tea": 10, "buns": 10, "water": 10}, accept_limit_s=600, price_fen=800)
    async with shopper(system) as me, shopper(system) as other:
        me_id = (await ok(await me.get("/auth/me")))["subject"]
        await ok(
            await clients["admin"].post(
                "/balance/top-ups",
                headers=key(),
                json={"holder": me_id, "amount_fen": 20_000, "note": "cash at the service centre"},
            ),
            201,
        )
        placed = await ok(
            await me.post(
                "/orders",
                headers=key(),
                json={
                    "store_id": shop.store_id,
                    "fulfilment": {"mode": "pickup"},
                    "note": "no plastic bag",
                    "lines": [
                        {"product_id": shop.products["tea"], "quantity": 2, "substitution": {"mode": "best_match"}},
                        {"product_id": shop.products["buns"], "quantity": 1},
                        {"product_id": shop.products["water"], "quantity": 1},
                    ],
                },
            ),
            201,
        )
        order_id = placed["id"]
        too_soon = await me.post(f"/orders/{order_id}/rating", json={"shop_stars": 5})
        assert too_soon.status_code == 409
        assert "once" in too_soon.json()["detail"]

        await wait_status(me, order_id, "CONFIRMED")
        for step, body in (
            ("accept", None),
            ("picking", None),
            ("lines/1/picked", {}),
            ("lines/2/picked", {}),
            ("lines/3/picked", {}),
            ("packed", {"bags": 1, "weight_g": 900}),
        ):
            await staff_step(system, shop.store_id, order_id, step, body)
        ready = await wait_status(me, order_id, "READY_FOR_PICKUP")
        await staff_step(system, shop.store_id, order_id, "handover", {"code": ready["handover_code"], "to": "shopper"})
        await wait_status(me, order_id, "COLLECTED")

        # Rated once, by the orderer; no rider carried a pickup order.
        assert (await other.post(f"/orders/{order_id}/rating", json={"shop_stars": 1})).status_code == 404
        no_rider = await me.post(f"/orders/{order_id}/rating", json={"shop_stars": 5, "rider_stars": 4})
        assert no_rider.status_code == 422
        assert "no rider" in no_rider.json()["detail"]
        assert (await me.post(f"/orders/{order_id}/rating", json={"shop_stars": 6})).status_code == 422
        rated = await ok(
            await me.post(f"/orders/{order_id}/rating", json={"shop_stars": 5, "comment": "fresh and quick"}), 201
        )
        assert (rated["shop_stars"], rated["rider_id"]) == (5, None)
        again = await me.post(f"/orders/{order_id}/rating", json={"shop_stars": 1})
        assert again.status_code == 409
        assert "rated already" in again.json()["detail"]
        assert (await ok(await me.get(f"/orders/{order_id}/rating")))["shop_stars"] == 5

        # The shop changes its prices and stops selling buns; the reorder says so.
        await ok(await admin.patch(f"/products/{shop.products['tea']}", json={"price_fen": 900}))
        await ok(await admin.patch(f"/products/{shop.products['buns']}", json={"active": False}))

        async def changed() -> dict[str, Any] | None:
            body = await ok(await me.get(f"/orders/{order_id}/reorder"))
            kinds = {c["kind"] for c in body["changes"]}
            return body if {"price_changed", "gone"} <= kinds else None

        again_body = await eventually(changed)
        tea = next(c for c in again_body["changes"] if c["kind"] == "price_changed")
        assert (tea["product_id"], tea["was_fen"], tea["now_fen"]) == (shop.products["tea"], 800, 900)
        assert [c["product_id"] for c in again_body["changes"] if c["kind"] == "gone"] == [shop.products["buns"]]
        assert again_body["store_id"] == shop.store_id
        assert again_body["note"] == "no plastic bag"
        assert again_body["fulfilment"] == {"mode": "pickup"}
        lines = {ln["product_id"]: ln for ln in again_body["lines"]}
        assert set(lines) == {shop.products["tea"], shop.products["water"]}
        assert lines[shop.products["tea"]]["substitution"] == {"mode": "best_match", "product_id": None}
        assert (await other.get(f"/orders/{order_id}/reorder")).status_code == 404

        # Checkout-ready: without `changes`, it places as it is, at today's price.
        body = {k: v for k, v in again_body.items() if k != "changes"}
        reordered = await ok(await me.post("/orders", headers=key(), json=body), 201)
        prices = {ln["product_id"]: ln["unit_price_fen"] for ln in reordered["lines"]}
        assert prices[shop.products["tea"]] == 900
