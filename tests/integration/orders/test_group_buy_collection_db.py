"""Collecting a group buy's bags over HTTP on real PostgreSQL: a code per bag seen only by its holder (and
their helper), its QR, the guessing limit, a code used twice, and the pickup window's end as a persisted
deadline that returns and refunds the uncollected bags, or opens the second window once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.entrypoints import group_buys_http
from services.orders.entrypoints.app import SPEC
from shared.deadlines import DeadlineScheduler
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from shared.web.qr import group_buy_payload, svg
from tests.integration.orders.conftest import SETTINGS, corner_shop, outbox, seed, shop_product
from tests.integration.orders.test_group_buys_db import (
    ADMIN,
    LEADER,
    MovableClock,
    as_,
    balance,
    open_deal,
    top_up,
)
from tests.runtime import runtime_for

HELPER = as_(Role.HELPER, "helper-he")
WANG = as_(Role.SHOPPER, "wang")
LI = as_(Role.SHOPPER, "li")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def runtime(orders_pool: asyncpg.Pool, clock: MovableClock) -> Runtime:
    await seed(
        orders_pool,
        corner_shop(),
        shop_product("eggs", "鸡蛋", "Eggs (10)", "fresh", 1500),
        shop_product("milk", "牛奶", "Milk", "dairy", 600),
    )
    return runtime_for(SPEC, SETTINGS, orders_pool, clock=clock)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(group_buys_http.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


async def closed_deal(client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock, **changes: Any) -> str:
    """Grandma Chen (her helper joined for her), Wang and Li each take a box of eggs; the cutoff closes it."""
    deal = await open_deal(client, runtime, **changes)
    async with runtime.unit_of_work() as uow:
        await uow.residents.conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO residents (resident_id, helper, name) VALUES ('chen', 'helper-he', '陈奶奶')"
        )
    await top_up(runtime, ["chen", "wang", "li"], 10_000)
    url = f"/group-buys/{deal['id']}/share"
    for headers, body in [
        (HELPER, {"items": [{"product_id": "eggs", "quantity": 1}], "on_behalf_of": "chen"}),
        (WANG, {"items": [{"product_id": "eggs", "quantity": 1}]}),
        (LI, {"items": [{"product_id": "eggs", "quantity": 1}]}),
    ]:
        assert (await client.put(url, json=body, headers=headers)).status_code == 200
    clock.offset = timedelta(hours=2, seconds=1)
    assert await scheduler(runtime, clock).run_due() == 1
    return str(deal["id"])


def scheduler(runtime: Runtime, clock: MovableClock) -> DeadlineScheduler:
    return DeadlineScheduler(runtime.unit_of_work, SPEC.deadlines, clock)


async def code_of(client: httpx.AsyncClient, deal_id: str, headers: dict[str, str], resident: str = "") -> str:
    seen = await client.get(f"/group-buys/{deal_id}" + (f"?resident={resident}" if resident else ""), headers=headers)
    code = seen.json()["my_share"]["collection_code"]
    assert isinstance(code, str)
    return code


async def test_each_bag_has_its_own_code_shown_to_its_holder_and_helper_only_also_as_a_qr(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock
) -> None:
    deal_id = await closed_deal(client, runtime, clock)
    wang, li, chen = (
        await code_of(client, deal_id, WANG),
        await code_of(client, deal_id, LI),
        await code_of(client, deal_id, HELPER, "chen"),
    )
    assert all(len(c) == 6 and c.isdigit() for c in (wang, li, chen))
    led = (await client.get(f"/group-buys/{deal_id}", headers=LEADER)).json()
    assert [s["collection_code"] for s in led["shares"]] == [None, None, None]  # the leader never sees them
    assert led["my_share"] is None
    bags = await client.get(f"/group-buys/{deal_id}/bags", headers=LEADER)
    assert bags.status_code == 200
    assert [(b["number"], b["name"], b["state"]) for b in bags.json()["bags"]] == [
        (1, "陈奶奶", "waiting"),
        (2, "wang", "waiting"),
        (3, "li", "waiting"),
    ]
    assert wang not in bags.text
    assert li not in bags.text
    assert (await client.get(f"/group-buys/{deal_id}/bags", headers=WANG)).status_code == 403
    qr = await client.get(f"/group-buys/{deal_id}/share/code.svg", headers=WANG)
    assert qr.status_code == 200
    assert qr.headers["content-type"].startswith("image/svg+xml")
    assert qr.headers["cache-control"] == "private, no-store"
    assert qr.text == svg(group_buy_payload(deal_id, 2, wang), title="group buy collection code")
    helper_qr = await client.get(f"/group-buys/{deal_id}/share/code.svg?resident=chen", headers=HELPER)
    assert helper_qr.text == svg(group_buy_payload(deal_id, 1, chen), title="group buy collection code")
    stranger = as_(Role.SHOPPER, "zhao")
    assert (await client.get(f"/group-buys/{deal_id}/share/code.svg", headers=stranger)).status_code == 404
    other_helper = as_(Role.HELPER, "helper-ma")
    assert (
        await client.get(f"/group-buys/{deal_id}/share/code.svg?resident=chen", headers=other_helper)
    ).status_code == 403


async def test_bags_are_checked_out_once_by_code_and_wrong_codes_lock_that_bag_only(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock
) -> None:
    deal_id = await closed_deal(client, runtime, clock)
    wang, li, chen = (
        await code_of(client, deal_id, WANG),
        await code_of(client, deal_id, LI),
        await code_of(client, deal_id, HELPER, "chen"),
    )
    bag = f"/group-buys/{deal_id}/bags"
    early = await client.post(f"{bag}/2/collect", json={"code": wang}, headers=LEADER)
    assert early.status_code == 409
    assert "not arrived" in early.json()["detail"]
    assert (await client.post(f"/group-buys/{deal_id}/arrival", headers=WANG)).status_code == 403
    arrived = await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)
    assert arrived.status_code == 200
    assert arrived.json()["arrived_at"] is not None
    assert (await client.post(f"{bag}/2/collect", json={"code": wang}, headers=WANG)).status_code == 403
    wrong = "000000" if wang != "000000" else "999999"
    for left in [4, 3, 2, 1, 0]:
        refused = await client.post(f"{bag}/2/collect", json={"code": wrong}, headers=LEADER)
        assert refused.status_code == 422
        assert refused.json()["tries_left"] == left
    locked = await client.post(f"{bag}/2/collect", json={"code": wang}, headers=LEADER)  # even the right one
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 800
    got = await client.post(f"{bag}/3/collect", json={"code": li}, headers=LEADER)  # another bag is not locked
    assert got.status_code == 200
    assert got.json()["state"] == "collected"
    twice = await client.post(f"{bag}/3/collect", json={"code": li}, headers=ADMIN)
    assert twice.status_code == 409
    assert f"bag 3 was collected at {got.json()['collected_at'][:19]}" in twice.json()["detail"]
    assert twice.json()["collected_at"][:19] == got.json()["collected_at"][:19]
    # The resident's helper hands grandma Chen her bag; a helper of nobody in it may not.
    ma = as_(Role.HELPER, "helper-ma")
    assert (await client.post(f"{bag}/1/collect", json={"code": chen}, headers=ma)).status_code == 403
    assert (await client.post(f"{bag}/1/collect", json={"code": chen}, headers=HELPER)).status_code == 200
    listed = (await client.get(bag, headers=LEADER)).json()
    assert [(b["number"], b["state"], b["collected_by"]) for b in listed["bags"]] == [
        (1, "collected", "helper-he"),
        (2, "waiting", None),
        (3, "collected", "leader-zhang"),
    ]
    assert listed["collected"] == 2
    assert (await client.get(f"/group-buys/{deal_id}", headers=LI)).json()["my_share"]["collection_code"] is None


async def test_at_the_windows_end_uncollected_bags_go_back_to_the_shop_refunded_and_ledgers_reconcile(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool, clock: MovableClock
) -> None:
    deal_id = await closed_deal(client, runtime, clock)
    assert await balance(orders_pool, "wang") == 10_000 - 1200
    await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)
    li = await code_of(client, deal_id, LI)
    assert (await client.post(f"/group-buys/{deal_id}/bags/3/collect", json={"code": li}, headers=LEADER)).is_success
    run = scheduler(runtime, clock)
    clock.offset = timedelta(hours=4, minutes=59)
    assert await run.run_due() == 0  # the window is still open
    clock.offset = timedelta(hours=5, seconds=1)
    assert await run.run_due() == 1
    assert await balance(orders_pool, "wang") == 10_000  # refunded in full
    assert await balance(orders_pool, "chen") == 10_000
    assert await balance(orders_pool, "li") == 10_000 - 1200
    seen = (await client.get(f"/group-buys/{deal_id}", headers=LEADER)).json()
    assert sorted((s["holder"], s["bag"]) for s in seen["shares"]) == [
        ("chen", "returned"),
        ("li", "collected"),
        ("wang", "returned"),
    ]
    assert all(s["money"]["reconciles"] for s in seen["shares"])
    assert seen["totals"]["goods_fen"] == seen["totals"]["shop_takings_fen"] == 1200
    [returned] = await outbox(orders_pool, "GroupBuyBagsReturned")
    assert returned["order_id"] == deal_id
    assert [(b["number"], [(i["product_id"], i["quantity"]) for i in b["items"]]) for b in returned["bags"]] == [
        (1, [("eggs", 1)]),
        (2, [("eggs", 1)]),
    ]
    wang = (await client.get(f"/group-buys/{deal_id}", headers=WANG)).json()["my_share"]
    assert wang["collection_code"] is None
    assert (wang["money"]["paid_fen"], wang["money"]["refund_fen"]) == (1200, 1200)
    late = await client.post(f"/group-buys/{deal_id}/bags/2/collect", json={"code": "123456"}, headers=LEADER)
    assert late.status_code in (409, 422)  # a returned bag is never handed out
    assert await run.run_due() == 0  # the deadline fired once


async def test_the_second_window_is_a_new_deadline_once_then_the_rest_go_back(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool, clock: MovableClock
) -> None:
    now = runtime.clock.now()
    second = {"start": (now + timedelta(hours=20)).isoformat(), "end": (now + timedelta(hours=22)).isoformat()}
    deal_id = await closed_deal(client, runtime, clock, uncollected="second_window", second_window=second)
    await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)
    run = scheduler(runtime, clock)
    clock.offset = timedelta(hours=5, seconds=1)
    assert await run.run_due() == 1
    bags = (await client.get(f"/group-buys/{deal_id}/bags", headers=LEADER)).json()
    assert bags["second_window_used"] is True
    assert bags["pickup_ends_at"][:16] == second["end"][:16]
    assert [b["state"] for b in bags["bags"]] == ["waiting"] * 3
    assert await outbox(orders_pool, "GroupBuyBagsReturned") == []
    wang = await code_of(client, deal_id, WANG)  # the same code still works in the second window
    clock.offset = timedelta(hours=21)
    assert (await client.post(f"/group-buys/{deal_id}/bags/2/collect", json={"code": wang}, headers=LEADER)).is_success
    assert await run.run_due() == 0
    clock.offset = timedelta(hours=22, seconds=1)
    assert await run.run_due() == 1
    [returned] = await outbox(orders_pool, "GroupBuyBagsReturned")
    assert [b["number"] for b in returned["bags"]] == [1, 3]
    assert await balance(orders_pool, "li") == 10_000
    assert await balance(orders_pool, "wang") == 10_000 - 1200
