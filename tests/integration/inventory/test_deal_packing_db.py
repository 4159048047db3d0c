"""The counter packs a closed deal's consolidated order on real PostgreSQL: one labelled bag per participant,
each bag's lines filled, weighed or not filled, its holds following what went in, and the last bag packing
the order; the bags' sums are the order's, to the fen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from fastapi import FastAPI

from services.inventory.entrypoints import group_buys_http
from services.inventory.service_layer import group_buys
from shared.events.contracts import (
    BagItem,
    DealBag,
    DealLine,
    DealPickup,
    DealTotal,
    GroupBuyAccepted,
    GroupBuyBagsReturned,
    GroupBuyClosed,
)
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.inventory.support import SETTINGS, as_, check_books, events, run, stock

NOW = datetime.now(UTC)
CARP, BOKCHOY = 1, 2  # carp: weighed, ¥20.00/kg at the group price, 600 g a piece; bok choy ¥2.50 a piece
DEAL = "gb-pack"


def accepted() -> GroupBuyAccepted:
    return GroupBuyAccepted(
        deal_id=DEAL,
        store_id="market",
        leader="leader-zhang",
        accepted_by="clerk",
        cutoff_at=NOW + timedelta(hours=2),
        lines=[
            DealLine(
                line_no=CARP,
                product_id="carp",
                location_id="fish",
                unit=StockUnit.GRAM,
                cap=5,
                stock_quantity=3000,
                group_price_fen=2000,
            ),
            DealLine(
                line_no=BOKCHOY,
                product_id="bokchoy",
                location_id="veg",
                unit=StockUnit.PIECE,
                cap=8,
                stock_quantity=8,
                group_price_fen=250,
            ),
        ],
    )


def carp(n: int) -> BagItem:
    return BagItem(
        line_no=CARP, product_id="carp", quantity=n, price_fen=n * 1200, unit=StockUnit.GRAM, stock_quantity=n * 600
    )


def bok(n: int) -> BagItem:
    return BagItem(line_no=BOKCHOY, product_id="bokchoy", quantity=n, price_fen=n * 250)


def closed() -> GroupBuyClosed:
    """Three bags: grandma Chen (a helper joined for her) 1 carp and 2 bok choy, Wang 3 bok choy, Li 1 carp."""
    bags = [
        DealBag(number=1, holder="chen", name="陈奶奶", joined_by="helper-he", items=[carp(1), bok(2)], goods_fen=1700),
        DealBag(number=2, holder="wang", name="wang", joined_by="wang", items=[bok(3)], goods_fen=750),
        DealBag(number=3, holder="li", name="li", joined_by="li", items=[carp(1)], goods_fen=1200),
    ]
    return GroupBuyClosed(
        deal_id=DEAL,
        store_id="market",
        order_id=DEAL,
        leader="leader-zhang",
        totals=[
            DealTotal(
                line_no=CARP,
                product_id="carp",
                location_id="fish",
                unit=StockUnit.GRAM,
                quantity=2,
                stock_quantity=1200,
                unit_price_fen=2000,
                estimated_fen=2400,
            ),
            DealTotal(
                line_no=BOKCHOY,
                product_id="bokchoy",
                location_id="veg",
                unit=StockUnit.PIECE,
                quantity=5,
                stock_quantity=5,
                unit_price_fen=250,
                estimated_fen=1250,
            ),
        ],
        bags=bags,
        goods_fen=3650,
        pickup=DealPickup(
            kind="place",
            name="Courtyard of building 3",
            lat=32.0415,
            lon=118.781,
            window_start=NOW + timedelta(hours=3),
            window_end=NOW + timedelta(hours=5),
        ),
    )


async def test_three_bags_packed_one_heavier_one_short_settle_to_the_fen_and_pack_the_order(
    inv: asyncpg.Pool, runtime: Runtime
) -> None:
    await run(inv, lambda uow: group_buys.on_group_buy_accepted(uow, accepted()))
    await run(inv, lambda uow: group_buys.on_group_buy_closed(uow, closed()))
    assert await stock(inv, "carp") == (6000, 1200)
    app = FastAPI()
    app.state.settings, app.state.runtime = SETTINGS, runtime
    install_error_handlers(app)
    app.include_router(group_buys_http.router)
    staff = as_(Role.STORE_STAFF, "market")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://inventory") as client:
        url = f"/stores/market/group-buys/{DEAL}/bags"
        # Bad input says why and packs nothing.
        no_weight = await client.post(
            f"{url}/1/packed",
            headers=staff,
            json={"lines": [{"line_no": CARP, "filled": "filled"}, {"line_no": BOKCHOY, "filled": "filled"}]},
        )
        assert (no_weight.status_code, "weight_g" in no_weight.json()["detail"]) == (422, True)
        missing = await client.post(
            f"{url}/2/packed", headers=staff, json={"lines": [{"line_no": CARP, "filled": "filled"}]}
        )
        assert (missing.status_code, "no line" in missing.json()["detail"]) == (422, True)
        assert (
            await client.post(f"{url}/9/packed", headers=staff, json={"lines": [{"line_no": 1, "filled": "filled"}]})
        ).status_code == 404
        other = await client.post(
            f"{url}/2/packed",
            headers=as_(Role.STORE_STAFF, "shop"),
            json={"lines": [{"line_no": BOKCHOY, "filled": "filled"}]},
        )
        assert other.status_code == 403

        # Bag 1: the carp weighed 640 g (over its 600 g estimate, inside the 10 % tolerance): ¥12.80.
        one = await client.post(
            f"{url}/1/packed",
            headers=staff,
            json={
                "lines": [
                    {"line_no": CARP, "filled": "filled", "weight_g": 640},
                    {"line_no": BOKCHOY, "filled": "filled"},
                ]
            },
        )
        assert one.status_code == 200, one.text
        assert (one.json()["goods_fen"], one.json()["refund_fen"], one.json()["bags_left"]) == (1780, -80, 2)
        again = await client.post(
            f"{url}/1/packed",
            headers=staff,
            json={
                "lines": [
                    {"line_no": CARP, "filled": "filled", "weight_g": 600},
                    {"line_no": BOKCHOY, "filled": "filled"},
                ]
            },
        )
        assert (again.status_code, "packed already" in again.json()["detail"]) == (409, True)
        # Bag 2: the bok choy could not be filled: refunded the ¥7.50 paid.
        two = await client.post(
            f"{url}/2/packed", headers=staff, json={"lines": [{"line_no": BOKCHOY, "filled": "not_filled"}]}
        )
        assert (two.json()["goods_fen"], two.json()["refund_fen"]) == (0, 750)
        three = await client.post(
            f"{url}/3/packed", headers=staff, json={"lines": [{"line_no": CARP, "filled": "filled", "weight_g": 600}]}
        )
        assert (three.json()["goods_fen"], three.json()["bags_left"]) == (1200, 0)
        assert three.json()["order_final_fen"] == 1780 + 0 + 1200  # the order is the sum of its bags

        labels = (await client.get(f"/stores/market/group-buys/{DEAL}/labels", headers=staff)).json()["labels"]
        assert [(x["number"], x["of"], x["name"], x["helper"]) for x in labels] == [
            (1, 3, "陈奶奶", "helper-he"),
            (2, 3, "wang", None),
            (3, 3, "li", None),
        ]
        assert [(i["pieces"], i["quantity"], i["filled"]) for i in labels[0]["items"]] == [(1, 640, True), (2, 2, True)]
        assert labels[1]["items"][0]["filled"] is False
        listed = (await client.get("/stores/market/group-buys", headers=staff)).json()
        assert [(d["deal_id"], d["bags"], d["packed"]) for d in listed] == [(DEAL, 3, 3)]

    packed = [p for t, p in await events(inv) if t == "GroupBuyBagPacked"]
    assert [(p["number"], p["holder"], p["estimated_fen"], p["goods_fen"]) for p in packed] == [
        (1, "chen", 1700, 1780),
        (2, "wang", 750, 0),
        (3, "li", 1200, 1200),
    ]
    [order_packed] = [p for t, p in await events(inv, DEAL) if t == "OrderPacked"]
    assert (order_packed["final_fen"], order_packed["bags"], order_packed["weight_g"]) == (2980, 3, 1240)
    assert sum(p["goods_fen"] for p in packed) == order_packed["final_fen"]
    assert await stock(inv, "carp") == (6000, 1240)  # the holds follow the scale
    assert await stock(inv, "bokchoy") == (10, 2)  # Wang's three went back to the shelf
    await check_books(inv)

    # Chen's and Wang's bags go uncollected: what the counter packed comes back, not the estimate.
    back = GroupBuyBagsReturned(deal_id=DEAL, store_id="market", order_id=DEAL, bags=closed().bags[:2])
    await run(inv, lambda uow: group_buys.on_group_buy_bags_returned(uow, back))
    assert await stock(inv, "carp") == (6000, 600)  # Chen's 640 g released; Li's 600 g still held
    assert await stock(inv, "bokchoy") == (10, 0)  # Chen's two released; Wang's bag held none
    await check_books(inv)
