"""Inventory's side of group buying on real PostgreSQL: a deal's whole cap held or refused, released when
it is cancelled or fails, and at the cutoff one accepted consolidated order keeping what the bags took."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from fastapi import FastAPI

from services.inventory.entrypoints import group_buys_http
from services.inventory.service_layer import group_buys, reservations
from shared.events.contracts import (
    BagItem,
    DealBag,
    DealLine,
    DealPickup,
    DealTotal,
    GroupBuyAccepted,
    GroupBuyCancelled,
    GroupBuyClosed,
    GroupBuyFailed,
)
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.inventory.support import SETTINGS, as_, check_books, events, placed, run, stock

NOW = datetime.now(UTC)


def accepted(deal_id: str, caps: dict[str, int]) -> GroupBuyAccepted:
    return GroupBuyAccepted(
        deal_id=deal_id,
        store_id="shop",
        leader="leader-zhang",
        accepted_by="clerk",
        cutoff_at=NOW + timedelta(hours=2),
        lines=[
            DealLine(
                line_no=n,
                product_id=pid,
                location_id="shop",
                unit=StockUnit.PIECE,
                cap=cap,
                stock_quantity=cap,
                group_price_fen=150,
            )
            for n, (pid, cap) in enumerate(caps.items(), start=1)
        ],
    )


def closed(deal_id: str) -> GroupBuyClosed:
    """Two bags: 3 water and 2 juice for grandma Chen, 4 water for Wang."""
    return GroupBuyClosed(
        deal_id=deal_id,
        store_id="shop",
        order_id=deal_id,
        leader="leader-zhang",
        totals=[
            DealTotal(
                line_no=1,
                product_id="water",
                location_id="shop",
                unit=StockUnit.PIECE,
                quantity=7,
                stock_quantity=7,
                unit_price_fen=150,
                estimated_fen=1050,
            ),
            DealTotal(
                line_no=2,
                product_id="juice",
                location_id="shop",
                unit=StockUnit.PIECE,
                quantity=2,
                stock_quantity=2,
                unit_price_fen=150,
                estimated_fen=300,
            ),
        ],
        bags=[
            DealBag(
                number=1,
                holder="chen",
                name="陈奶奶",
                joined_by="helper-he",
                items=[
                    BagItem(line_no=1, product_id="water", quantity=3, price_fen=450),
                    BagItem(line_no=2, product_id="juice", quantity=2, price_fen=300),
                ],
                goods_fen=750,
            ),
            DealBag(
                number=2,
                holder="wang",
                name="wang",
                joined_by="wang",
                items=[BagItem(line_no=1, product_id="water", quantity=4, price_fen=600)],
                goods_fen=600,
            ),
        ],
        goods_fen=1350,
        pickup=DealPickup(
            kind="place",
            name="Courtyard of building 3",
            lat=32.0415,
            lon=118.781,
            window_start=NOW + timedelta(hours=3),
            window_end=NOW + timedelta(hours=5),
        ),
    )


async def test_an_accepted_deal_holds_its_whole_cap_and_orders_cannot_take_it(inv: asyncpg.Pool) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-1", {"water": 45, "juice": 10})))
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-1", {"water": 45, "juice": 10})))
    assert await stock(inv, "water") == (50, 45)  # held once, however often it is heard
    assert await stock(inv, "juice") == (20, 10)
    [(kind, said)] = [(t, p) for t, p in await events(inv) if t.startswith("Deal")]
    assert kind == "DealStockReserved"
    assert [(ln["product_id"], ln["quantity"]) for ln in said["lines"]] == [("water", 45), ("juice", 10)]
    await run(inv, lambda uow: reservations.on_order_placed(uow, placed("o-1", [("water", 6)])))
    assert [t for t, _ in await events(inv, "o-1")] == ["StockRejected"]  # only 5 left for orders
    await check_books(inv)


async def test_a_cap_beyond_the_shelf_is_refused_naming_what_is_available_and_nothing_is_held(
    inv: asyncpg.Pool,
) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-2", {"water": 10, "juice": 25})))
    assert await stock(inv, "water") == (50, 0)
    assert await stock(inv, "juice") == (20, 0)
    [said] = [p for t, p in await events(inv) if t == "DealStockRefused"]
    assert said["reason"] == "out_of_stock"
    assert [(s["product_id"], s["requested"], s["available"]) for s in said["short_lines"]] == [("juice", 25, 20)]
    await check_books(inv)


async def test_a_cancelled_or_failed_deal_gives_its_whole_cap_back(inv: asyncpg.Pool) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-3", {"water": 20})))
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-4", {"juice": 5})))
    cancel = GroupBuyCancelled(deal_id="gb-3", store_id="shop", cancelled_by="leader-zhang", reason="rain")
    await run(inv, lambda uow: group_buys.on_group_buy_cancelled(uow, cancel))
    failed = GroupBuyFailed(deal_id="gb-4", store_id="shop", reason="minimum_not_met")
    await run(inv, lambda uow: group_buys.on_group_buy_failed(uow, failed))
    await run(inv, lambda uow: group_buys.on_group_buy_failed(uow, failed))  # heard twice: released once
    assert await stock(inv, "water") == (50, 0)
    assert await stock(inv, "juice") == (20, 0)
    released = [p for t, p in await events(inv) if t == "DealStockReleased"]
    assert [(p["deal_id"], p["reason"]) for p in released] == [("gb-3", "cancelled"), ("gb-4", "minimum_not_met")]
    await check_books(inv)


async def test_the_cutoff_makes_one_accepted_order_keeping_what_the_bags_took_and_releasing_the_rest(
    inv: asyncpg.Pool,
) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-5", {"water": 30, "juice": 10})))
    await run(inv, lambda uow: group_buys.on_group_buy_closed(uow, closed("gb-5")))
    await run(inv, lambda uow: group_buys.on_group_buy_closed(uow, closed("gb-5")))  # heard twice: one order
    assert await stock(inv, "water") == (50, 7)
    assert await stock(inv, "juice") == (20, 2)
    order = await inv.fetchrow("SELECT * FROM reservations WHERE order_id = 'gb-5'")
    assert (order["status"], order["shown_fen"], order["fulfilment_mode"]) == ("accepted", 1350, "pickup")
    lines = await inv.fetch("SELECT product_id, quantity, state FROM reservation_lines WHERE order_id = 'gb-5'")
    assert sorted((r["product_id"], r["quantity"], r["state"]) for r in lines) == [
        ("juice", 2, "reserved"),
        ("water", 7, "reserved"),
    ]

    async def queue(uow: object) -> list[tuple[str, str]]:
        return [(p.order_id, p.status.value) for p in await uow.parts.queue(["shop"])]  # type: ignore[attr-defined]

    assert await run(inv, queue) == [("gb-5", "accepted")]  # on the counter, already accepted
    bags = await inv.fetch("SELECT number, name, goods_fen FROM deal_bags WHERE deal_id = 'gb-5' ORDER BY number")
    assert [(b["number"], b["name"], b["goods_fen"]) for b in bags] == [(1, "陈奶奶", 750), (2, "wang", 600)]
    [released] = [p for t, p in await events(inv) if t == "DealStockReleased"]
    assert [(r["product_id"], r["quantity"]) for r in released["released"]] == [("water", 23), ("juice", 8)]
    await check_books(inv)


async def test_the_counter_reads_the_bags_to_label_and_only_its_own_deals(inv: asyncpg.Pool, runtime: Runtime) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted("gb-6", {"water": 30, "juice": 10})))
    app = FastAPI()
    app.state.settings, app.state.runtime = SETTINGS, runtime
    install_error_handlers(app)
    app.include_router(group_buys_http.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inventory") as client:
        held = (await client.get("/stores/shop/group-buys/gb-6", headers=as_(Role.STORE_STAFF, "shop"))).json()
        assert (held["status"], held["bags"]) == ("held", [])
        assert [ln["quantity"] for ln in held["lines"]] == [30, 10]
        await run(inv, lambda uow: group_buys.on_group_buy_closed(uow, closed("gb-6")))
        ordered = (await client.get("/stores/shop/group-buys/gb-6", headers=as_(Role.STORE_STAFF, "shop"))).json()
        assert ordered["status"] == "ordered"
        assert [(b["number"], b["name"], [i["quantity"] for i in b["items"]]) for b in ordered["bags"]] == [
            (1, "陈奶奶", [3, 2]),
            (2, "wang", [4]),
        ]
        other = await client.get("/stores/shop/group-buys/gb-6", headers=as_(Role.STORE_STAFF, "fish"))
        assert other.status_code == 403
