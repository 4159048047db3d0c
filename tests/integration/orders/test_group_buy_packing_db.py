"""A closed deal's bags settle on real PostgreSQL: three bags packed at the counter — a weighed line over its
estimate and a line not filled — each share's ledger reconciles, the deal's goods, the leader's commission
and the shop's takings are the sums of its bags to the fen, and a bag paid in cash at pickup is paid there,
recorded with who took the cash, on the deal's ledger and never on the balance."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.entrypoints import group_buys_http, settlement_http
from services.orders.entrypoints.app import SPEC
from services.orders.service_layer import group_buys
from shared.events.contracts import GroupBuyBagPacked, LineOutcome, PackedBagItem
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.orders.conftest import SETTINGS, corner_shop, outbox, seed, shop_product
from tests.integration.orders.test_group_buy_collection_db import code_of, scheduler
from tests.integration.orders.test_group_buys_db import (
    ADMIN,
    LEADER,
    STAFF,
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
EGGS, PORK = 1, 2
ITEMS = [
    {"product_id": "eggs", "group_price_fen": 1200, "per_person_limit": 3, "cap": 50},
    {"product_id": "pork", "group_price_fen": 2990, "per_person_limit": 2, "cap": 10},  # per kg, 500 g a piece
]


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def runtime(orders_pool: asyncpg.Pool, clock: MovableClock) -> Runtime:
    await seed(
        orders_pool,
        corner_shop(),
        shop_product("eggs", "鸡蛋", "Eggs (10)", "fresh", 1500),
        shop_product("pork", "猪肉", "Pork", "meat", 3500, unit=StockUnit.GRAM, grams_per_piece=500),
    )
    return runtime_for(SPEC, SETTINGS, orders_pool, clock=clock)


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(group_buys_http.router)
    app.include_router(settlement_http.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


def item(line_no: int, product: str, pieces: int, quantity: int, paid: int, price: int) -> PackedBagItem:
    outcome = LineOutcome.PICKED if quantity else LineOutcome.OUT_OF_STOCK
    return PackedBagItem(
        line_no=line_no,
        product_id=product,
        outcome=outcome,
        pieces=pieces,
        quantity=quantity,
        estimated_fen=paid,
        price_fen=price,
    )


def packed(deal_id: str, number: int, holder: str, items: list[PackedBagItem]) -> GroupBuyBagPacked:
    return GroupBuyBagPacked(
        deal_id=deal_id,
        store_id="shop",
        order_id=deal_id,
        number=number,
        holder=holder,
        items=items,
        estimated_fen=sum(i.estimated_fen for i in items),
        goods_fen=sum(i.price_fen for i in items),
        weight_g=sum(i.quantity for i in items if i.product_id == "pork"),
        by="clerk",
    )


async def entries(pool: asyncpg.Pool, deal_id: str, holder: str) -> list[tuple[str, str, int]]:
    rows = await pool.fetch(
        "SELECT kind, account, amount_fen FROM ledger_entries WHERE group_buy_id = $1 AND holder = $2 ORDER BY id",
        deal_id,
        holder,
    )
    return [(r["kind"], r["account"], r["amount_fen"]) for r in rows]


async def test_three_bags_settle_each_share_and_the_deal_is_their_sum_with_cash_at_pickup(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock, orders_pool: asyncpg.Pool
) -> None:
    deal = await open_deal(client, runtime, items=ITEMS, leader_commission_bp=250, cash_allowed=True)
    deal_id = str(deal["id"])
    assert [(i["unit"], i["grams_per_piece"]) for i in deal["items"]] == [("piece", None), ("g", 500)]
    async with runtime.unit_of_work() as uow:
        await uow.residents.conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO residents (resident_id, helper, name) VALUES ('chen', 'helper-he', '陈奶奶')"
        )
    await top_up(runtime, ["chen", "wang"], 10_000)
    url = f"/group-buys/{deal_id}/share"
    eggs_and_pork = [{"product_id": "eggs", "quantity": 2}, {"product_id": "pork", "quantity": 1}]
    joined = await client.put(url, json={"items": eggs_and_pork, "on_behalf_of": "chen"}, headers=HELPER)
    assert joined.json()["my_share"]["money"]["paid_fen"] == 2400 + 1495  # the pork at its 500 g estimate
    assert (await client.put(url, json={"items": [{"product_id": "eggs", "quantity": 3}]}, headers=WANG)).is_success
    cash = {"items": [{"product_id": "eggs", "quantity": 1}], "payment": "cash_at_pickup"}
    li = await client.put(url, json=cash, headers=LI)
    assert li.json()["my_share"]["money"] == {
        **li.json()["my_share"]["money"],
        "payment": "cash_at_pickup",
        "paid_fen": 0,
        "due_fen": 1200,
    }
    switch = await client.put(url, json={"items": [{"product_id": "eggs", "quantity": 1}]}, headers=LI)
    assert (switch.status_code, "leave and join again" in switch.json()["detail"]) == (409, True)
    assert await balance(orders_pool, "li") == 0  # nothing taken from the balance for a cash share

    clock.offset = timedelta(hours=2, seconds=1)
    assert await scheduler(runtime, clock).run_due() == 1
    [closed] = await outbox(orders_pool, "GroupBuyClosed")
    pork_bag_item = closed["bags"][0]["items"][1]
    assert (pork_bag_item["unit"], pork_bag_item["stock_quantity"], pork_bag_item["price_fen"]) == ("g", 500, 1495)
    assert [(t["product_id"], t["stock_quantity"], t["estimated_fen"]) for t in closed["totals"]] == [
        ("eggs", 6, 7200),
        ("pork", 500, 1495),
    ]

    # The counter packs: Chen's pork weighed 540 g (¥16.15, 1.20 over), one of Wang's eggs could not be filled.
    bags = [
        packed(deal_id, 1, "chen", [item(EGGS, "eggs", 2, 2, 2400, 2400), item(PORK, "pork", 1, 540, 1495, 1615)]),
        packed(deal_id, 2, "wang", [item(EGGS, "eggs", 3, 2, 3600, 2400)]),
        packed(deal_id, 3, "li", [item(EGGS, "eggs", 1, 1, 1200, 1200)]),
    ]
    for bag in [*bags, bags[0]]:  # heard twice: settled once
        async with runtime.unit_of_work() as uow:
            await group_buys.on_group_buy_bag_packed(uow, bag)  # type: ignore[arg-type]
    assert await entries(orders_pool, deal_id, "chen") == [
        ("paid", "balance", -3895),
        ("extra_charge", "balance", -120),
    ]
    assert await entries(orders_pool, deal_id, "wang") == [("paid", "balance", -3600), ("refund", "balance", 1200)]
    assert await entries(orders_pool, deal_id, "li") == []
    assert (await balance(orders_pool, "chen"), await balance(orders_pool, "wang")) == (10_000 - 4015, 10_000 - 2400)

    seen = (await client.get(f"/group-buys/{deal_id}", headers=LEADER)).json()
    totals = seen["totals"]
    assert [(b["number"], b["goods_fen"]) for b in totals["bags"]] == [(1, 4015), (2, 2400), (3, 1200)]
    assert totals["goods_fen"] == sum(b["goods_fen"] for b in totals["bags"]) == 7615
    assert totals["leader_commission_fen"] == sum(b["leader_commission_fen"] for b in totals["bags"]) == 190
    assert totals["shop_takings_fen"] == sum(b["shop_takings_fen"] for b in totals["bags"]) == 7615 - 190
    assert totals["platform_fee_fen"] == 0
    shares = {s["holder"]: s for s in seen["shares"]}
    assert {h: (s["money"]["due_fen"], s["money"]["reconciles"]) for h, s in shares.items()} == {
        "chen": (4015, True),
        "wang": (2400, True),
        "li": (1200, True),
    }
    assert shares["chen"]["money"]["extra_charged_fen"] == 120

    # Cash at pickup: only the exact amount, recorded with who took it, on the deal's ledger.
    assert (await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)).status_code == 200
    code = await code_of(client, deal_id, LI)
    collect = f"/group-buys/{deal_id}/bags/3/collect"
    no_cash = await client.post(collect, json={"code": code}, headers=LEADER)
    assert (no_cash.status_code, "cash_fen" in no_cash.json()["detail"]) == (422, True)
    short = await client.post(collect, json={"code": code, "cash_fen": 1000}, headers=LEADER)
    assert (short.status_code, "¥12.00" in short.json()["detail"]) == (422, True)
    taken = await client.post(collect, json={"code": code, "cash_fen": 1200}, headers=LEADER)
    assert taken.status_code == 200, taken.text
    assert (taken.json()["state"], taken.json()["cash_fen"], taken.json()["cash_by"]) == (
        "collected",
        1200,
        "leader-zhang",
    )
    assert await entries(orders_pool, deal_id, "li") == [("cash_collected", "cash", 1200)]
    listed = (await client.get(f"/group-buys/{deal_id}/bags", headers=LEADER)).json()["bags"]
    assert [(b["number"], b["packed"], b["due_fen"], b["payment"]) for b in listed] == [
        (1, True, 4015, "balance"),
        (2, True, 2400, "balance"),
        (3, True, 1200, "cash_at_pickup"),
    ]
    assert [(i["outcome"], i["quantity"], i["price_fen"]) for i in listed[1]["packed_items"]] == [("picked", 2, 2400)]
    assert (listed[2]["cash_fen"], listed[2]["cash_by"]) == (1200, "leader-zhang")
    assert await balance(orders_pool, "li") == 0
    wang_code = await code_of(client, deal_id, WANG)
    balance_bag = await client.post(
        f"/group-buys/{deal_id}/bags/2/collect", json={"code": wang_code, "cash_fen": 2400}, headers=LEADER
    )
    assert (balance_bag.status_code, "take no cash" in balance_bag.json()["detail"]) == (422, True)
    after = (await client.get(f"/group-buys/{deal_id}", headers=STAFF)).json()
    assert all(s["money"]["reconciles"] for s in after["shares"])
    mine: dict[str, Any] = (await client.get(f"/group-buys/{deal_id}", headers=LI)).json()["my_share"]["money"]
    assert (mine["cash_fen"], mine["reconciles"]) == (1200, True)

    # The books: the leader holds the cash taken at pickup and is owed the collected bag's commission;
    # an operator takes the one in and pays the other, never more than each is.
    books = (await client.get("/settlement/accounts", headers=ADMIN)).json()["accounts"]
    held = {(a["account"], a["party"]): a["balance_fen"] for a in books}
    assert held[("pickup_cash", "leader-zhang")] == 1200
    owed = -held[("leader_commission", "leader-zhang")]
    assert owed == next(b["leader_commission_fen"] for b in totals["bags"] if b["number"] == 3)

    async def move(path: str, amount: int, key: str) -> httpx.Response:
        return await client.post(path, json={"amount_fen": amount}, headers={**ADMIN, "Idempotency-Key": key})

    hand_in = "/settlement/pickup-cash/leader-zhang/hand-ins"
    too_much = await move(hand_in, 1300, "hand-in-1")
    assert (too_much.status_code, "holds ¥12.00" in too_much.json()["detail"]) == (409, True)
    assert (await move(hand_in, 1200, "hand-in-2")).status_code == 201
    assert (await move(hand_in, 1, "hand-in-3")).status_code == 409, "nothing is left to hand in"
    pay = "/settlement/leaders/leader-zhang/payouts"
    assert (await move(pay, owed + 1, "pay-1")).status_code == 409
    assert (await move(pay, owed, "pay-2")).status_code == 201
    staff_pays = await client.post(pay, json={"amount_fen": 1}, headers={**STAFF, "Idempotency-Key": "pay-3"})
    assert staff_pays.status_code == 403
    books = (await client.get("/settlement/accounts", headers=ADMIN)).json()
    after = {(a["account"], a["party"]): a["balance_fen"] for a in books["accounts"]}
    assert after.get(("pickup_cash", "leader-zhang"), 0) == after.get(("leader_commission", "leader-zhang"), 0) == 0
    assert books["total_fen"] == 0
