"""Settlement on real PostgreSQL: a simulated week of orders with every kind of ending, its period
closed, a correction after the close, and every shop's, stall's and rider's statement reconciled to
the fen against the orders' own ledgers (never against the journal itself).

The week runs on a movable clock through the same use cases and fact handlers the routes and
consumers call; the statements, periods and money moves are asked over HTTP, as the console does.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.basket import Wanted
from services.orders.domain.cash_desk import Desk
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.ledger import Account, Kind, Posting
from services.orders.domain.order import Order
from services.orders.entrypoints import group_buys_http, settlement_http
from services.orders.entrypoints.app import SPEC
from services.orders.service_layer import delivery, fulfilment, ordering
from shared import db
from shared.auth import Principal
from shared.events.contracts import (
    BagReturned,
    DeliveryCompleted,
    DeliveryFailed,
    HandoverTo,
    LineOutcome,
    LocationUpserted,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PartRejected,
    PickingStarted,
    PickupOffered,
    PickupPoint,
    ProductUpserted,
    ShopAccepted,
    StockRejected,
    StockReserved,
)
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.orders.conftest import HOME, MIGRATIONS, SETTINGS, TZ, corner_shop, seed, shop_product
from tests.integration.orders.test_group_buy_collection_db import closed_deal, code_of, scheduler
from tests.integration.orders.test_group_buys_db import LEADER, MovableClock, as_
from tests.runtime import runtime_for

ADMIN = as_(Role.ADMIN, "ops-1")
MARKET_STAFF = as_(Role.STORE_STAFF, "market-clerk", "market")
PORK_STAFF = as_(Role.STORE_STAFF, "butcher", "pork")
CORNER_STAFF = as_(Role.STORE_STAFF, "clerk", "shop")
LI = Principal("li", Role.SHOPPER)
WANG = Principal("wang", Role.SHOPPER)
DOOR = {"mode": "delivery", "address": HOME}


def stall(location_id: str, kind: LocationKind, **extra: Any) -> LocationUpserted:
    return LocationUpserted(
        location_id=location_id,
        kind=kind,
        parent_id="market" if kind is LocationKind.STALL else None,
        category="market",
        name_zh="市场" if kind is LocationKind.MARKET else "摊",
        name_en=location_id.title(),
        lat=32.0426,
        lon=118.786,
        **extra,
    )


def product(pid: str, location: str, price: int, unit: StockUnit = StockUnit.PIECE, grams: int | None = None) -> Any:
    return ProductUpserted(
        product_id=pid,
        location_id=location,
        store_id="market",
        name_zh=pid,
        name_en=pid.title(),
        category="c",
        unit=unit,
        price_fen=price,
        grams_per_piece=grams,
    )


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def runtime(orders_pool: asyncpg.Pool, clock: MovableClock) -> Runtime:
    await seed(
        orders_pool,
        corner_shop(delivery_fee_fen=200),
        shop_product("eggs", "鸡蛋", "Eggs (10)", "fresh", 1500),
        shop_product("milk", "牛奶", "Milk", "dairy", 600),
        stall("market", LocationKind.MARKET, delivery_fee_fen=300),
        stall("pork", LocationKind.STALL),
        stall("veg", LocationKind.STALL),
        product("belly", "pork", 3000, StockUnit.GRAM, 500),
        product("bokchoy", "veg", 300),
        product("spinach", "veg", 400),
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


class Week:
    """The week's orders, driven through the use cases and handlers on the runtime's clock."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def use(self, use_case: Any, *args: Any, **kwargs: Any) -> Any:
        async with self.runtime.unit_of_work() as uow:
            return await use_case(uow, *args, **kwargs)

    async def top_up_at_desk(self, holder: str, fen: int) -> None:
        async with self.runtime.unit_of_work() as uow:
            if await uow.cash_desks.get("desk-1") is None:  # type: ignore[attr-defined]
                await uow.cash_desks.put(Desk("desk-1", "一号窗口", "Desk 1", 0, "ops-1", uow.now()))  # type: ignore[attr-defined]
            await uow.ledger.balance(holder, for_update=True)  # type: ignore[attr-defined]
            await uow.ledger.post(holder, None, [Posting(Kind.TOP_UP, fen, desk="desk-1")], "ops-1", uow.now())  # type: ignore[attr-defined]

    async def place(self, by: Principal, store: str, wanted: list[Wanted], **extra: Any) -> str:
        fulfilment_ = Fulfilment.from_dict(extra.pop("fulfilment", DOOR))
        order: Order = await self.use(
            ordering.place_order,
            by,
            store_id=store,
            wanted=wanted,
            fulfilment=fulfilment_,
            timezone=TZ,
            note=None,
            contact_phone=None,
            on_behalf_of=None,
            **extra,
        )
        return order.id

    async def packed(self, order_id: str, store: str, lines: list[tuple[int, str, LineOutcome, int, int]]) -> None:
        base = {"order_id": order_id, "store_id": store}
        soon = self.runtime.clock.now() + timedelta(minutes=3)
        await self.use(ordering.on_stock_reserved, StockReserved(**base, lines=[], accept_deadline=soon))
        await self.use(ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="clerk"))
        await self.use(fulfilment.on_picking_started, PickingStarted(**base, location_id=store, by="clerk"))
        await self.pack(order_id, store, lines)

    async def pack(self, order_id: str, store: str, lines: list[tuple[int, str, LineOutcome, int, int]]) -> None:
        packed = [PackedLine(line_no=n, product_id=p, outcome=o, quantity=q, price_fen=f) for n, p, o, q, f in lines]
        final = sum(ln.price_fen for ln in packed)
        event = OrderPacked(
            order_id=order_id,
            store_id=store,
            shown_fen=final,
            final_fen=final,
            difference_fen=0,
            lines=packed,
            bags=1,
            weight_g=1000,
            handover_code="246810",
            pickup_point=PickupPoint(location_id=store, name_zh="店", name_en="Shop"),
        )
        await self.use(fulfilment.on_order_packed, event)

    async def delivered(self, order_id: str, store: str, rider: str, cash: int | None = None) -> None:
        event = DeliveryCompleted(order_id=order_id, store_id=store, rider_id=rider, cash_collected_fen=cash)
        await self.use(delivery.on_delivery_completed, event)

    async def due(self, order_id: str) -> int:
        async with self.runtime.unit_of_work(readonly=True) as uow:
            order = await uow.orders.get(order_id)
            assert order is not None
            assert order.final_charge_fen is not None
            return order.final_charge_fen


PORK = (1, "belly", LineOutcome.PICKED)
CHOY = (2, "bokchoy", LineOutcome.PICKED)


async def simulate_week(week: Week, clock: MovableClock, client: httpx.AsyncClient) -> dict[str, Any]:
    """Monday to Sunday: each day's orders and endings; returns what the test needs to find them by."""
    await week.top_up_at_desk("li", 50_000)
    await week.top_up_at_desk("wang", 30_000)
    ids: dict[str, str] = {}
    # Monday: a group buy at the corner shop, two of three bags collected, one returned at the window's end.
    deal_id = await closed_deal(client, week.runtime, clock)
    await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)
    for number, who in ((1, as_(Role.HELPER, "helper-he")), (3, as_(Role.SHOPPER, "li"))):
        code = await code_of(client, deal_id, who, "chen" if number == 1 else "")
        collected = await client.post(
            f"/group-buys/{deal_id}/bags/{number}/collect", json={"code": code}, headers=LEADER
        )
        assert collected.is_success, collected.text
    clock.offset = timedelta(hours=5, seconds=1)
    assert await scheduler(week.runtime, clock).run_due() == 1  # the window ends: Wang's bag goes back, refunded
    ids["deal"] = deal_id
    # Tuesday: Li's market order, pork weighed heavier, delivered by r1; Wang's pays cash at the door to r2.
    clock.offset = timedelta(days=1)
    ids["li_heavy"] = await week.place(LI, "market", [Wanted("belly", 1), Wanted("bokchoy", 2)])
    await week.packed(ids["li_heavy"], "market", [(*PORK, 560, 1680), (*CHOY, 2, 600)])
    await week.delivered(ids["li_heavy"], "market", "r1")
    ids["wang_cash"] = await week.place(WANG, "market", [Wanted("bokchoy", 3)], payment="on_delivery")
    await week.packed(ids["wang_cash"], "market", [(1, "bokchoy", LineOutcome.SUBSTITUTED, 3, 1200)])
    await week.delivered(ids["wang_cash"], "market", "r2", cash=await week.due(ids["wang_cash"]))
    # Wednesday: Li cancels an order; Wang's is refused for want of stock; a corner-shop pickup is collected.
    clock.offset = timedelta(days=2)
    ids["cancelled"] = await week.place(LI, "shop", [Wanted("milk", 2)])
    await week.use(ordering.cancel_order, LI, ids["cancelled"])
    ids["rejected"] = await week.place(WANG, "shop", [Wanted("eggs", 1)])
    await week.use(
        ordering.on_stock_rejected,
        StockRejected(order_id=ids["rejected"], store_id="shop", reason="out_of_stock", short_lines=[]),
    )
    ids["pickup"] = await week.place(LI, "shop", [Wanted("eggs", 1), Wanted("milk", 1)], fulfilment={"mode": "pickup"})
    await week.packed(
        ids["pickup"], "shop", [(1, "eggs", LineOutcome.PICKED, 1, 1500), (2, "milk", LineOutcome.OUT_OF_STOCK, 0, 0)]
    )
    await week.use(
        fulfilment.on_order_handed_over,
        OrderHandedOver(order_id=ids["pickup"], store_id="shop", to=HandoverTo.SHOPPER, by="clerk"),
    )
    # Thursday: a delivery fails and the bag comes back (a return); the veg stall refuses its part of another.
    clock.offset = timedelta(days=3)
    ids["returned"] = await week.place(WANG, "market", [Wanted("belly", 1)])
    await week.packed(ids["returned"], "market", [(*PORK, 480, 1440)])
    await week.use(
        fulfilment.on_order_handed_over,
        OrderHandedOver(order_id=ids["returned"], store_id="market", to=HandoverTo.RIDER, by="butcher"),
    )
    await week.use(
        delivery.on_delivery_failed,
        DeliveryFailed(order_id=ids["returned"], store_id="market", rider_id="r1", reason="nobody home"),
    )
    await week.use(
        fulfilment.on_bag_returned,
        BagReturned(order_id=ids["returned"], store_id="market", lines=[], refund_fen=0, by="butcher"),
    )
    ids["part"] = await week.place(LI, "market", [Wanted("belly", 1), Wanted("spinach", 1)])
    base = {"order_id": ids["part"], "store_id": "market"}
    await week.use(
        ordering.on_stock_reserved,
        StockReserved(**base, lines=[], accept_deadline=clock.now() + timedelta(minutes=3)),
    )
    await week.use(
        fulfilment.on_part_rejected,
        PartRejected(**base, location_id="veg", reason="shop_rejected", line_nos=[2], refund_fen=400),
    )
    await week.use(ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="butcher"))
    await week.use(fulfilment.on_picking_started, PickingStarted(**base, location_id="pork", by="butcher"))
    await week.pack(ids["part"], "market", [(*PORK, 500, 1500), (2, "spinach", LineOutcome.OUT_OF_STOCK, 0, 0)])
    await week.delivered(ids["part"], "market", "r2")
    # Friday: no rider for Wang's cash order, she takes it at the counter and pays there.
    clock.offset = timedelta(days=4)
    ids["counter_cash"] = await week.place(WANG, "market", [Wanted("spinach", 2)], payment="on_delivery")
    await week.packed(ids["counter_cash"], "market", [(1, "spinach", LineOutcome.PICKED, 2, 800)])
    await week.use(
        delivery.on_pickup_offered,
        PickupOffered(
            order_id=ids["counter_cash"],
            store_id="market",
            reason="no_rider",
            answer_by=clock.now() + timedelta(minutes=5),
        ),
    )
    await week.use(delivery.answer_pickup_offer, WANG, ids["counter_cash"], True)
    await week.use(
        fulfilment.on_order_handed_over,
        OrderHandedOver(
            order_id=ids["counter_cash"],
            store_id="market",
            to=HandoverTo.SHOPPER,
            by="market-clerk",
            cash_collected_fen=await week.due(ids["counter_cash"]),
        ),
    )
    # Saturday: the pork stall is paid part of what it is owed; r2 hands in part of the cash at the desk.
    clock.offset = timedelta(days=5)
    paid = await client.post(
        "/settlement/shops/pork/payouts",
        json={"amount_fen": 2000, "note": "transfer 001"},
        headers=ADMIN | {"Idempotency-Key": "p1"},
    )
    assert paid.status_code == 201, paid.text
    again = await client.post(
        "/settlement/shops/pork/payouts",
        json={"amount_fen": 2000, "note": "transfer 001"},
        headers=ADMIN | {"Idempotency-Key": "p1"},
    )
    assert again.json()["entry_id"] == paid.json()["entry_id"], "a retried payout pays once"
    handed = await client.post(
        "/settlement/riders/r2/hand-ins",
        json={"amount_fen": 1000, "desk": "desk-1"},
        headers=ADMIN | {"Idempotency-Key": "h1"},
    )
    assert handed.status_code == 201, handed.text
    # Sunday: one more delivered order of the corner shop.
    clock.offset = timedelta(days=6)
    ids["sunday"] = await week.place(LI, "shop", [Wanted("milk", 3)])
    await week.packed(ids["sunday"], "shop", [(1, "milk", LineOutcome.PICKED, 3, 1800)])
    await week.delivered(ids["sunday"], "shop", "r1")
    return ids


async def expected_from_ledgers(pool: asyncpg.Pool) -> dict[str, Any]:
    """What each shop, stall and rider should be owed or hold, from the orders' own rows and ledgers."""
    owed: dict[str, int] = defaultdict(int)
    riders: dict[str, int] = defaultdict(int)
    orders = await pool.fetch("SELECT id, store_id, status, payment, delivery_fee_fen, platform_fee_fen FROM orders")
    for o in orders:
        entries = await pool.fetch(
            "SELECT kind, account, amount_fen, by FROM ledger_entries WHERE order_id = $1", o["id"]
        )
        if o["status"] not in ("DELIVERED", "COLLECTED"):
            continue
        for ln in await pool.fetch("SELECT location_id, final_fen FROM order_lines WHERE order_id = $1", o["id"]):
            owed[ln["location_id"]] += ln["final_fen"] or 0
        fulfil = await pool.fetchval("SELECT fulfilment->>'mode' FROM orders WHERE id = $1", o["id"])
        if o["status"] == "DELIVERED" and fulfil != "pickup":
            owed[o["store_id"]] += o["delivery_fee_fen"]
        for e in entries:
            if e["kind"] == Kind.CASH_COLLECTED.value and e["account"] == Account.CASH.value:
                if o["status"] == "DELIVERED":
                    riders[e["by"]] += e["amount_fen"]
                else:
                    owed[o["store_id"]] -= e["amount_fen"]
    for deal in await pool.fetch("SELECT id, store_id FROM group_buys"):
        for share in await pool.fetch(
            "SELECT holder FROM group_buy_shares WHERE group_buy_id = $1 AND collected_at IS NOT NULL", deal["id"]
        ):
            paid = await pool.fetchval(
                "SELECT -sum(amount_fen) FROM ledger_entries "
                "WHERE group_buy_id = $1 AND holder = $2 AND account = 'balance'",
                deal["id"],
                share["holder"],
            )
            owed[deal["store_id"]] += int(paid)  # no platform fee, no commission in this deal
    return {"owed": dict(owed), "riders": dict(riders)}


async def test_a_week_settles_to_the_fen_against_the_orders_ledgers_and_a_closed_period_never_changes(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock, orders_pool: asyncpg.Pool
) -> None:
    ids = await simulate_week(Week(runtime), clock, client)
    expected = await expected_from_ledgers(orders_pool)
    assert expected["owed"]["pork"] == 1680 + 1500
    assert expected["owed"]["veg"] == 600 + 1200 + 800

    # The week closes on Sunday night (the clock's "now" a day later).
    clock.offset = timedelta(days=7, hours=1)
    week_end = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    closed = await client.post("/settlement/periods", json={"ends_at": week_end}, headers=ADMIN)
    assert closed.status_code == 201, closed.text
    period = closed.json()["id"]
    twice = await client.post("/settlement/periods", json={"ends_at": week_end}, headers=ADMIN)
    assert twice.status_code == 409
    assert "already closed" in twice.json()["detail"]
    inside = await client.post(
        "/settlement/periods", json={"ends_at": (datetime.now(UTC) + timedelta(days=3)).isoformat()}, headers=ADMIN
    )
    assert inside.status_code == 409
    assert "closed period never changes" in inside.json()["detail"]

    statements = {}
    for location in ("market", "pork", "veg", "shop"):
        got = await client.get(f"/settlement/shops/{location}/statement?period={period}", headers=ADMIN)
        assert got.status_code == 200, got.text
        statements[location] = got.json()
    payouts = {"pork": 2000}
    for location in ("pork", "veg"):
        assert statements[location]["closing_owed_fen"] == expected["owed"].get(location, 0) - payouts.get(location, 0)
    market_own = expected["owed"].get("market", 0)
    assert (
        statements["market"]["totals"]["owed_in_window"]
        == market_own + statements["pork"]["closing_owed_fen"] + statements["veg"]["closing_owed_fen"]
    )
    assert statements["shop"]["closing_owed_fen"] == expected["owed"]["shop"]
    assert statements["pork"]["conclusion"].startswith("the platform owes Pork ¥")

    heavy = next(o for o in statements["market"]["orders"] if o["order_id"] == ids["li_heavy"])
    assert (heavy["goods_fen"], heavy["delivery_fee_fen"], heavy["refund_fen"], heavy["status"]) == (
        2280,
        300,
        0,
        "DELIVERED",
    )
    assert [(ln["product_id"], ln["final_quantity"], ln["final_fen"]) for ln in heavy["lines"]] == [
        ("belly", 560, 1680),
        ("bokchoy", 2, 600),
    ]
    counter = next(o for o in statements["market"]["orders"] if o["order_id"] == ids["counter_cash"])
    assert (counter["cash_taken_fen"], counter["delivery_fee_fen"], counter["owed_fen"]) == (800, 0, 0)
    returned = next(o for o in statements["market"]["orders"] if o["order_id"] == ids["returned"])
    assert (returned["returned_fen"], returned["goods_fen"], returned["status"]) == (1440 + 300, 0, "RETURNED")
    part = next(o for o in statements["veg"]["orders"] if o["order_id"] == ids["part"])
    assert [ln["product_id"] for ln in part["lines"]] == ["spinach"], "a stall's statement lists its own lines"
    assert part["refund_fen"] == 400
    for location in ("pork", "veg"):  # a refund is posted per order: a stall shows its own lines' part only
        for listed in statements[location]["orders"]:
            if listed["status"] != "RETURNED":
                own = sum(max(0, ln["estimated_fen"] - (ln["final_fen"] or 0)) for ln in listed["lines"])
                assert listed["refund_fen"] == own, (location, listed["order_id"])
    assert ids["part"] not in {o["order_id"] for o in statements["shop"]["orders"]}
    assert [d["group_buy_id"] for d in statements["shop"]["group_buys"]] == [ids["deal"]]
    assert statements["shop"]["group_buys"][0]["bags"] == 2

    # Riders: collected, handed in, outstanding, from the orders' cash entries.
    for rider in ("r1", "r2"):
        cash = (await client.get(f"/settlement/riders/{rider}/statement?period={period}", headers=ADMIN)).json()
        handed = 1000 if rider == "r2" else 0
        assert (cash["collected_fen"], cash["handed_in_fen"], cash["outstanding_fen"]) == (
            expected["riders"].get(rider, 0),
            handed,
            expected["riders"].get(rider, 0) - handed,
        )

    # The books as a whole: balanced, residents' accounts equal to their balances, nothing left held.
    books = (await client.get("/settlement/accounts", headers=ADMIN)).json()
    assert books["total_fen"] == 0
    accounts = {(a["account"], a["party"]): a["balance_fen"] for a in books["accounts"]}
    for holder in ("li", "wang", "chen"):
        balance = await orders_pool.fetchval("SELECT balance_fen FROM balances WHERE holder = $1", holder)
        assert -accounts[("resident", holder)] == balance, holder
    assert accounts.get(("held", ""), 0) == 0, "every order and bag ended: nothing is held"
    assert accounts[("desk_cash", "desk-1")] == 50_000 + 30_000 + 1000
    assert (
        await orders_pool.fetchval(
            "SELECT count(*) FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING sum(amount_fen) <> 0) t"
        )
        == 0
    )

    # Monday after: a late correction for Tuesday's pork goes into the open period, marked; the closed one is unchanged.
    clock.offset = timedelta(days=8)
    fixed = await client.post(
        "/settlement/corrections",
        json={"location_id": "pork", "amount_fen": 120, "reason": "scale read 40 g light", "order_id": ids["li_heavy"]},
        headers=ADMIN | {"Idempotency-Key": "c1"},
    )
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["corrects_period"] == period
    again = (await client.get(f"/settlement/shops/pork/statement?period={period}", headers=ADMIN)).json()
    assert again == statements["pork"], "a closed period never changes"
    now = (await client.get("/settlement/shops/pork/statement", headers=ADMIN)).json()
    assert now["window"]["since"] == closed.json()["ends_at"]
    [correction] = now["corrections"]
    assert (correction["amount_fen"], correction["late"], correction["corrects_period"]) == (120, True, period)
    assert now["opening_owed_fen"] == statements["pork"]["closing_owed_fen"]
    assert now["closing_owed_fen"] == statements["pork"]["closing_owed_fen"] + 120
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await orders_pool.execute("UPDATE journal_lines SET amount_fen = amount_fen + 1")


async def test_staff_see_their_own_shops_statements_only_and_money_moves_are_checked(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    week = Week(runtime)
    await week.top_up_at_desk("li", 10_000)
    order_id = await week.place(LI, "market", [Wanted("bokchoy", 1)])
    await week.packed(order_id, "market", [(1, "bokchoy", LineOutcome.PICKED, 1, 300)])
    await week.delivered(order_id, "market", "r1")
    assert (await client.get("/settlement/shops/market/statement", headers=MARKET_STAFF)).status_code == 200
    assert (await client.get("/settlement/shops/veg/statement", headers=MARKET_STAFF)).status_code == 200
    refused = await client.get("/settlement/shops/market/statement", headers=CORNER_STAFF)
    assert refused.status_code == 403
    assert "not market's" in refused.json()["detail"]
    assert (await client.get("/settlement/shops/market/statement", headers=PORK_STAFF)).status_code == 403
    assert (await client.get("/settlement/shops/veg/statement", headers=PORK_STAFF)).status_code == 403
    assert (await client.get("/settlement/riders/r1/statement", headers=as_(Role.RIDER, "r2"))).status_code == 403
    assert (await client.get("/settlement/riders/r1/statement", headers=as_(Role.RIDER, "r1"))).status_code == 200
    assert (await client.get("/settlement/accounts", headers=MARKET_STAFF)).status_code == 403
    too_much = await client.post(
        "/settlement/shops/veg/payouts", json={"amount_fen": 301}, headers=ADMIN | {"Idempotency-Key": "x"}
    )
    assert too_much.status_code == 409
    assert "owes veg ¥3.00" in too_much.json()["detail"]
    cash = await client.post(
        "/settlement/riders/r1/hand-ins", json={"amount_fen": 1}, headers=ADMIN | {"Idempotency-Key": "y"}
    )
    assert cash.status_code == 409, "r1 took no cash"
    nowhere = await client.post(
        "/settlement/riders/r1/hand-ins",
        json={"amount_fen": 1, "desk": "desk-9"},
        headers=ADMIN | {"Idempotency-Key": "w"},
    )
    assert nowhere.status_code == 404
    no_reason = await client.post(
        "/settlement/corrections",
        json={"location_id": "veg", "amount_fen": 0, "reason": "x"},
        headers=ADMIN | {"Idempotency-Key": "z"},
    )
    assert no_reason.status_code == 422
    assert (await client.post("/settlement/periods", json={}, headers=MARKET_STAFF)).status_code == 403
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert (await client.post("/settlement/periods", json={"ends_at": future}, headers=ADMIN)).status_code == 422


async def test_money_already_on_the_ledgers_enters_the_books_when_the_journal_begins(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A database kept from before settlement (`linli up --keep`): balances and open orders' charges open the books."""
    before = tmp_path / "orders" / "migrations"
    before.mkdir(parents=True)
    for path in sorted(MIGRATIONS.glob("*.sql")):
        if path.name < "015":
            shutil.copy(path, before / path.name)
    async with pool.acquire() as conn:
        await db.migrate(conn, [before])
        await conn.execute("INSERT INTO balances (holder, balance_fen) VALUES ('li', 5000), ('wang', 0)")
        for order_id, status in (("open-1", "PACKED"), ("done-1", "DELIVERED")):
            await conn.execute(
                "INSERT INTO orders (id, store_id, placed_by, placed_by_role, placed_for, fulfilment, status, "
                "total_fen, created_at) VALUES ($1, 'shop', 'li', 'shopper', 'li', '{}', $2, 2000, now())",
                order_id,
                status,
            )
            await conn.execute(
                "INSERT INTO ledger_entries (holder, order_id, kind, amount_fen, by, at) VALUES "
                "('li', $1, 'paid', -2000, 'li', now()), ('li', $1, 'refund', 300, 'linli', now())",
                order_id,
            )
        await db.migrate(conn, [MIGRATIONS])
        accounts = {
            (r["book"], r["party"], r["order_id"]): r["fen"]
            for r in await conn.fetch(
                "SELECT l.book, l.party, e.order_id, sum(l.amount_fen) AS fen FROM journal_lines l "
                "JOIN journal_entries e ON e.id = l.entry_id GROUP BY 1, 2, 3"
            )
        }
    assert accounts == {
        ("resident", "li", None): -5000,
        ("bank", "", None): 5000,
        ("held", "", "open-1"): -1700,
        ("bank", "", "open-1"): 1700,
    }
