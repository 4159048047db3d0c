"""Group buying in orders over HTTP on real PostgreSQL: leaders, a deal's life, joining under its row lock
(the race), the cutoff as a persisted deadline, every participant's ledger, and bad input refused whole."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.ledger import Kind, Posting, Postings
from services.orders.entrypoints import group_buys_http
from services.orders.entrypoints.app import SPEC
from services.orders.service_layer import group_buys
from shared.auth import issue_token
from shared.deadlines import DeadlineScheduler
from shared.events.contracts import DealStockRefused, DealStockReserved, ReservedLine, ShortLine
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import SETTINGS, corner_shop, outbox, seed, shop_product
from tests.runtime import runtime_for


class MovableClock:
    """The system's time, moved forward by hand: the cutoff comes without sleeping."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


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


def as_(role: Role, subject: str, store: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject, store)}"}


ADMIN = as_(Role.ADMIN, "desk")
STAFF = as_(Role.STORE_STAFF, "clerk", "shop")
LEADER = as_(Role.SHOPPER, "leader-zhang")


def deal_body(now: datetime, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "store_id": "shop",
        "title": "Fresh eggs for building 3",
        "items": [
            {"product_id": "eggs", "group_price_fen": 1200, "per_person_limit": 2, "cap": 50},
            {"product_id": "milk", "group_price_fen": 500, "per_person_limit": 4, "cap": 20},
        ],
        "minimum_kind": "participants",
        "minimum": 2,
        "cutoff_at": (now + timedelta(hours=2)).isoformat(),
        "pickup": {"kind": "place", "name": "Courtyard of building 3", "lat": 32.0415, "lon": 118.781},
        "window": {"start": (now + timedelta(hours=3)).isoformat(), "end": (now + timedelta(hours=5)).isoformat()},
    }
    body.update(changes)
    return body


async def top_up(runtime: Runtime, holders: list[str], fen: int) -> None:
    async with runtime.unit_of_work() as uow:
        await uow.ledger.post_many(  # type: ignore[attr-defined]
            [Postings(h, None, [Posting(Kind.TOP_UP, fen, note="cash desk")], "desk", uow.now()) for h in holders]
        )


async def open_deal(client: httpx.AsyncClient, runtime: Runtime, **changes: Any) -> dict[str, Any]:
    """A leader granted by the shop opens a deal, the shop accepts, inventory holds the caps: it is open."""
    assert (await client.post("/group-leaders", json={"shopper": "leader-zhang"}, headers=STAFF)).status_code == 201
    opened = await client.post("/group-buys", json=deal_body(runtime.clock.now(), **changes), headers=LEADER)
    assert opened.status_code == 201, opened.text
    deal: dict[str, Any] = opened.json()
    accepted = await client.post(f"/group-buys/{deal['id']}/accept", headers=STAFF)
    assert accepted.json()["status"] == "accepted"
    reserved = DealStockReserved(
        deal_id=deal["id"],
        store_id="shop",
        lines=[ReservedLine(line_no=1, product_id="eggs", location_id="shop", quantity=50)],
    )
    async with runtime.unit_of_work() as uow:
        await group_buys.on_deal_stock_reserved(uow, reserved)  # type: ignore[arg-type]
    return deal


async def balance(pool: asyncpg.Pool, holder: str) -> int:
    return int(await pool.fetchval("SELECT coalesce(max(balance_fen), 0) FROM balances WHERE holder = $1", holder))


async def test_a_leader_needs_the_capability_for_that_shop_granted_and_revocable(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    body = deal_body(runtime.clock.now())
    refused = await client.post("/group-buys", json=body, headers=LEADER)
    assert refused.status_code == 403
    assert "group_leader" in refused.json()["detail"]
    other_shop = as_(Role.STORE_STAFF, "clerk", "bakery")
    assert (
        await client.post("/group-leaders", json={"shopper": "leader-zhang"}, headers=other_shop)
    ).status_code == 201
    assert (await client.post("/group-buys", json=body, headers=LEADER)).status_code == 403  # the bakery's grant
    assert (await client.post("/group-leaders", json={"shopper": "x"}, headers=LEADER)).status_code == 403
    granted = await client.post("/group-leaders", json={"shopper": "leader-zhang"}, headers=ADMIN)
    assert (granted.json()["scope"], granted.json()["granted_by"]) == ("*", "desk")
    assert (await client.post("/group-buys", json=body, headers=LEADER)).status_code == 201
    revoked = await client.delete("/group-leaders/leader-zhang", headers=ADMIN)
    assert revoked.json()["revoked_by"] == "desk"
    assert (await client.post("/group-buys", json=body, headers=LEADER)).status_code == 403
    grants = (await client.get("/group-leaders/leader-zhang", headers=LEADER)).json()
    assert {(g["scope"], g["revoked_by"]) for g in grants} == {("*", "desk"), ("bakery", None)}


async def test_bad_deals_are_refused_saying_why_and_nothing_is_stored(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool
) -> None:
    await client.post("/group-leaders", json={"shopper": "leader-zhang"}, headers=STAFF)
    now = runtime.clock.now()
    early_end = {"start": (now + timedelta(minutes=30)).isoformat(), "end": (now + timedelta(hours=1)).isoformat()}
    far = {"kind": "place", "name": "Across the river", "lat": 32.07, "lon": 118.80}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"window": early_end}, "not after the cutoff"),
        ({"pickup": far}, "15-minute circle"),
        ({"pickup": {"kind": "locker", "locker_site_id": "nowhere"}}, "no active locker site"),
        ({"items": [{"product_id": "rice", "group_price_fen": 1, "per_person_limit": 1, "cap": 1}]}, "not a product"),
    ]
    for changes, says in cases:
        answer = await client.post("/group-buys", json=deal_body(now, **changes), headers=LEADER)
        assert answer.status_code == 422, answer.text
        assert says in answer.json()["detail"]
    assert await orders_pool.fetchval("SELECT count(*) FROM group_buys") == 0
    assert await orders_pool.fetchval("SELECT count(*) FROM deadlines") == 0


async def test_a_deal_refused_for_stock_names_what_is_available_and_never_opens(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    await client.post("/group-leaders", json={"shopper": "leader-zhang"}, headers=STAFF)
    deal = (await client.post("/group-buys", json=deal_body(runtime.clock.now()), headers=LEADER)).json()
    await client.post(f"/group-buys/{deal['id']}/accept", headers=STAFF)
    [accepted] = await outbox(runtime.pool, "GroupBuyAccepted")
    assert [(ln["product_id"], ln["stock_quantity"]) for ln in accepted["lines"]] == [("eggs", 50), ("milk", 20)]
    short = ShortLine(product_id="eggs", location_id="shop", requested=50, available=12)
    async with runtime.unit_of_work() as uow:
        refused = DealStockRefused(deal_id=deal["id"], store_id="shop", reason="out_of_stock", short_lines=[short])
        await group_buys.on_deal_stock_refused(uow, refused)  # type: ignore[arg-type]
    seen = (await client.get(f"/group-buys/{deal['id']}", headers=LEADER)).json()
    assert (seen["status"], seen["reason"]) == ("declined", "out_of_stock")
    assert seen["details"]["short_lines"][0]["available"] == 12
    joined = await client.put(
        f"/group-buys/{deal['id']}/share",
        json={"items": [{"product_id": "eggs", "quantity": 1}]},
        headers=as_(Role.SHOPPER, "wang"),
    )
    assert joined.status_code == 409
    assert "declined" in joined.json()["detail"]


async def test_joining_changing_and_leaving_pay_and_refund_at_once_and_every_ledger_reconciles(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool
) -> None:
    deal = await open_deal(client, runtime)
    url = f"/group-buys/{deal['id']}/share"
    await top_up(runtime, ["wang", "li"], 10_000)
    wang, li = as_(Role.SHOPPER, "wang"), as_(Role.SHOPPER, "li")
    joined = await client.put(url, json={"items": [{"product_id": "eggs", "quantity": 2}]}, headers=wang)
    assert joined.status_code == 200, joined.text
    assert joined.json()["my_share"]["money"] == {
        "payment": "balance",
        "goods_fen": 2400,
        "platform_fee_fen": 0,
        "due_fen": 2400,
        "paid_fen": 2400,
        "refund_fen": 0,
        "extra_charged_fen": 0,
        "cash_fen": None,
        "reconciles": True,
    }
    assert await balance(orders_pool, "wang") == 7600
    changed = await client.put(
        url,
        json={"items": [{"product_id": "eggs", "quantity": 1}, {"product_id": "milk", "quantity": 2}]},
        headers=wang,
    )
    assert changed.json()["my_share"]["money"]["due_fen"] == 2200
    assert await balance(orders_pool, "wang") == 7800
    await client.put(url, json={"items": [{"product_id": "milk", "quantity": 1}]}, headers=li)
    left = await client.delete(url, headers=li)
    assert left.json()["my_share"]["status"] == "left"
    assert left.json()["my_share"]["money"]["reconciles"]
    assert await balance(orders_pool, "li") == 10_000
    seen = (await client.get(f"/group-buys/{deal['id']}", headers=LEADER)).json()
    assert (seen["totals"]["participants"], seen["totals"]["goods_fen"]) == (1, 2200)
    assert [i["remaining"] for i in seen["items"]] == [49, 18]
    assert all(s["money"]["reconciles"] for s in seen["shares"])
    assert (await client.get(f"/group-buys/{deal['id']}", headers=wang)).json()["shares"] is None  # not a neighbour's
    nearby = (await client.get("/group-buys?lat=32.0425&lon=118.787", headers=wang)).json()
    assert [d["id"] for d in nearby] == [deal["id"]]
    assert nearby[0]["seconds_left"] > 0
    assert (await client.get("/group-buys?lat=32.08&lon=118.83", headers=wang)).json() == []  # another circle


async def test_bad_joins_are_refused_saying_why_and_nothing_is_half_written(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool, clock: MovableClock
) -> None:
    deal = await open_deal(client, runtime)
    url = f"/group-buys/{deal['id']}/share"
    await top_up(runtime, ["wang"], 10_000)
    wang = as_(Role.SHOPPER, "wang")
    for body, status, says in [
        ({"items": [{"product_id": "eggs", "quantity": 3}]}, 409, "at most 2 per person"),
        ({"items": [{"product_id": "eggs", "quantity": 1}], "payment": "cash_at_pickup"}, 422, "prepaid balance"),
        ({"items": [{"product_id": "eggs", "quantity": 1}], "on_behalf_of": "grandma"}, 403, "may not join for"),
    ]:
        answer = await client.put(url, json=body, headers=wang)
        assert answer.status_code == status, answer.text
        assert says in answer.json()["detail"]
    poor = await client.put(
        url, json={"items": [{"product_id": "eggs", "quantity": 1}]}, headers=as_(Role.SHOPPER, "p")
    )
    assert poor.status_code == 402
    clock.offset = timedelta(hours=2, seconds=1)
    late = await client.put(url, json={"items": [{"product_id": "eggs", "quantity": 1}]}, headers=wang)
    assert late.status_code == 409
    assert "cutoff" in late.json()["detail"]
    assert await orders_pool.fetchval("SELECT count(*) FROM group_buy_shares") == 0
    assert await orders_pool.fetchval("SELECT count(*) FROM ledger_entries WHERE group_buy_id IS NOT NULL") == 0
    assert await balance(orders_pool, "wang") == 10_000


async def test_two_hundred_neighbours_joining_at_once_for_a_cap_of_fifty_get_exactly_fifty(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool
) -> None:
    deal = await open_deal(
        client, runtime, items=[{"product_id": "eggs", "group_price_fen": 1200, "per_person_limit": 1, "cap": 50}]
    )
    neighbours = [f"n-{uuid.uuid4().hex[:8]}" for _ in range(200)]
    await top_up(runtime, neighbours, 5_000)
    url = f"/group-buys/{deal['id']}/share"
    answers = await asyncio.gather(
        *(
            client.put(url, json={"items": [{"product_id": "eggs", "quantity": 1}]}, headers=as_(Role.SHOPPER, n))
            for n in neighbours
        )
    )
    codes = [a.status_code for a in answers]
    assert (codes.count(200), codes.count(409)) == (50, 150), set(codes)
    assert all("only 0 left" in a.json()["detail"] for a in answers if a.status_code == 409)
    assert await orders_pool.fetchval("SELECT count(*) FROM group_buy_shares WHERE status = 'joined'") == 50
    paid = await orders_pool.fetchval("SELECT -sum(amount_fen) FROM ledger_entries WHERE group_buy_id = $1", deal["id"])
    assert paid == 50 * 1200
    assert await orders_pool.fetchval("SELECT count(*) FROM balances WHERE balance_fen = 3800") == 50


async def test_the_cutoff_closes_a_deal_that_met_its_minimum_with_one_consolidated_order(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool, clock: MovableClock
) -> None:
    deal = await open_deal(client, runtime, leader_commission_bp=300)
    url = f"/group-buys/{deal['id']}/share"
    await top_up(runtime, ["wang", "li", "sun"], 10_000)
    async with runtime.unit_of_work() as uow:  # a helper registered grandma Chen and joins for her
        await uow.residents.conn.execute(  # type: ignore[attr-defined]
            "INSERT INTO residents (resident_id, helper, name) VALUES ('chen', 'helper-he', '陈奶奶')"
        )
    await top_up(runtime, ["chen"], 10_000)
    helper = as_(Role.HELPER, "helper-he")
    for who, headers, items in [
        ("chen", helper, {"items": [{"product_id": "milk", "quantity": 2}], "on_behalf_of": "chen"}),
        ("wang", as_(Role.SHOPPER, "wang"), {"items": [{"product_id": "eggs", "quantity": 2}]}),
        ("li", as_(Role.SHOPPER, "li"), {"items": [{"product_id": "eggs", "quantity": 1}]}),
    ]:
        assert (await client.put(url, json=items, headers=headers)).status_code == 200, who
    assert (await client.delete(url, headers=as_(Role.SHOPPER, "li"))).status_code == 200
    scheduler = DeadlineScheduler(runtime.unit_of_work, SPEC.deadlines, clock)
    assert await scheduler.run_due() == 0  # not before the cutoff
    clock.offset = timedelta(hours=2, seconds=1)
    assert await scheduler.run_due() == 1
    seen = (await client.get(f"/group-buys/{deal['id']}", headers=LEADER)).json()
    assert seen["status"] == "closed"
    assert {k: v for k, v in seen["totals"].items() if k != "bags"} == {
        "participants": 2,
        "pieces": 4,
        "goods_fen": 3400,
        "platform_fee_fen": 0,
        "leader_commission_bp": 300,
        "leader_commission_fen": 102,
        "shop_takings_fen": 3298,
    }
    assert [b["goods_fen"] for b in seen["totals"]["bags"]] == [1000, 2400]  # the deal is the sum of its bags
    assert sum(b["leader_commission_fen"] for b in seen["totals"]["bags"]) == 102
    [closed] = await outbox(orders_pool, "GroupBuyClosed")
    assert closed["order_id"] == deal["id"]
    assert [(t["product_id"], t["quantity"]) for t in closed["totals"]] == [("eggs", 2), ("milk", 2)]
    assert [(b["number"], b["name"], b["joined_by"]) for b in closed["bags"]] == [
        (1, "陈奶奶", "helper-he"),
        (2, "wang", "wang"),
    ]
    assert sum(b["goods_fen"] for b in closed["bags"]) == closed["goods_fen"] == 3400
    assert all(s["money"]["reconciles"] for s in seen["shares"])
    late = await client.delete(url, headers=as_(Role.SHOPPER, "wang"))
    assert late.status_code == 409


async def test_a_deal_that_misses_its_minimum_refunds_everyone_at_the_cutoff(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool, clock: MovableClock
) -> None:
    deal = await open_deal(client, runtime, minimum_kind="pieces", minimum=10)
    await top_up(runtime, ["wang", "li"], 10_000)
    for who in ("wang", "li"):
        answer = await client.put(
            f"/group-buys/{deal['id']}/share",
            json={"items": [{"product_id": "eggs", "quantity": 2}]},
            headers=as_(Role.SHOPPER, who),
        )
        assert answer.status_code == 200
    clock.offset = timedelta(hours=2, seconds=1)
    assert await DeadlineScheduler(runtime.unit_of_work, SPEC.deadlines, clock).run_due() == 1
    seen = (await client.get(f"/group-buys/{deal['id']}", headers=LEADER)).json()
    assert (seen["status"], seen["reason"]) == ("failed", "minimum_not_met")
    assert {s["status"] for s in seen["shares"]} == {"refunded"}
    assert all(s["money"]["reconciles"] and s["money"]["refund_fen"] == 2400 for s in seen["shares"])
    assert [await balance(orders_pool, w) for w in ("wang", "li")] == [10_000, 10_000]
    [failed] = await outbox(orders_pool, "GroupBuyFailed")
    assert failed["reason"] == "minimum_not_met"
    assert await outbox(orders_pool, "GroupBuyClosed") == []


async def test_the_leader_or_the_shop_cancels_before_the_cutoff_and_everyone_is_refunded(
    client: httpx.AsyncClient, runtime: Runtime, orders_pool: asyncpg.Pool
) -> None:
    deal = await open_deal(client, runtime)
    await top_up(runtime, ["wang"], 10_000)
    url = f"/group-buys/{deal['id']}"
    await client.put(
        f"{url}/share", json={"items": [{"product_id": "eggs", "quantity": 2}]}, headers=as_(Role.SHOPPER, "wang")
    )
    stranger = await client.post(f"{url}/cancel", json={"reason": "no"}, headers=as_(Role.SHOPPER, "wang"))
    assert stranger.status_code == 403
    cancelled = await client.post(f"{url}/cancel", json={"reason": "the hens are on strike"}, headers=STAFF)
    assert cancelled.json()["status"] == "cancelled"
    assert await balance(orders_pool, "wang") == 10_000
    [told] = await outbox(orders_pool, "GroupBuyCancelled")
    assert (told["cancelled_by"], told["reason"]) == ("clerk", "the hens are on strike")
    assert await orders_pool.fetchval("SELECT cancelled_at IS NOT NULL FROM deadlines WHERE key = $1", deal["id"])
