"""The reports over HTTP on real PostgreSQL: orders with known outcomes, fed through the use cases and
the events the service consumes at known times, give each report's numbers, as JSON and as CSV; a shop's
staff see their own shop only, and a bad period is a 422 with the reason."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.basket import Wanted
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.entrypoints import reports_http
from services.orders.service_layer import delivery, fulfilment, ordering, payments, ratings, residents
from services.orders.service_layer.unit_of_work import PostgresOrdersUnitOfWork
from shared.auth import Principal, issue_token
from shared.events.contracts import (
    DeliveryCompleted,
    DeliveryPromised,
    HandoverTo,
    LineOutcome,
    LocationUpserted,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PickingStarted,
    PickupPoint,
    RiderAssigned,
    ShopAccepted,
    StockReserved,
    SubstituteItem,
    SubstitutionProposed,
    SubstitutionSettled,
)
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.orders.conftest import GRANDMA, HOME, SETTINGS, TZ, corner_shop, seed, shop_product

ADMIN = Principal("ops", Role.ADMIN)
HELPER = Principal("volunteer-zhou", Role.HELPER)
# 1 December 2026 in Nanjing (UTC+8) starts at 16:00 UTC on 30 November.
DAY1 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 09:00 local
DAY2 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 local
PERIOD = {"from": "2026-12-01", "to": "2026-12-02"}


@dataclass
class Fixed:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def at(pool: asyncpg.Pool, when: datetime, use_case: Any, *args: Any, **kwargs: Any) -> Any:
    """A use case (or an event's handler) in its own unit of work, at a given moment."""
    async with PostgresOrdersUnitOfWork(pool, clock=Fixed(when)) as uow:
        return await use_case(uow, *args, **kwargs)


@pytest.fixture
async def client(orders_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = orders_runtime
    install_error_handlers(app)
    app.include_router(reports_http.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


def as_(role: Role, subject: str = "ops-1", store: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject, store=store)}"}


async def place(
    pool: asyncpg.Pool,
    when: datetime,
    fulfilment_: dict[str, Any],
    store: str,
    wanted: list[Wanted],
    by: Principal = GRANDMA,
    **extra: Any,
) -> str:
    order = await at(
        pool,
        when,
        ordering.place_order,
        by,
        store_id=store,
        wanted=wanted,
        fulfilment=Fulfilment.from_dict(fulfilment_),
        note=None,
        contact_phone="+86 138 0000 0000",
        timezone=TZ,
        **{"on_behalf_of": None, **extra},
    )
    return str(order.id)


async def accept(pool: asyncpg.Pool, order_id: str, store: str, when: datetime) -> None:
    base: dict[str, Any] = {"order_id": order_id, "store_id": store}
    await at(
        pool,
        when,
        ordering.on_stock_reserved,
        StockReserved(**base, lines=[], accept_deadline=when + timedelta(minutes=5)),
    )
    await at(pool, when, ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="counter"))


async def pack(
    pool: asyncpg.Pool, order_id: str, store: str, when: datetime, outcomes: list[tuple[str, LineOutcome, int, int]]
) -> None:
    lines = [
        PackedLine(line_no=n, product_id=pid, outcome=outcome, quantity=quantity, price_fen=price)
        for n, (pid, outcome, quantity, price) in enumerate(outcomes, start=1)
    ]
    final = sum(ln.price_fen for ln in lines)
    packed = OrderPacked(
        order_id=order_id,
        store_id=store,
        shown_fen=final,
        final_fen=final,
        difference_fen=0,
        bags=1,
        weight_g=1000,
        handover_code="135790",
        pickup_point=PickupPoint(location_id=store, name_zh="店", name_en="Shop"),
        lines=lines,
    )
    started = PickingStarted(order_id=order_id, store_id=store, location_id=store, by="counter")
    await at(pool, when, fulfilment.on_picking_started, started)  # a second start is only a fact
    await at(pool, when, fulfilment.on_order_packed, packed)


async def deliver(pool: asyncpg.Pool, order_id: str, store: str, promised: datetime, when: datetime) -> None:
    """Promised (by dispatch), carried by rider Wu and delivered at `when`."""
    base: dict[str, Any] = {"order_id": order_id, "store_id": store}
    await at(
        pool,
        when,
        delivery.on_rider_assigned,
        RiderAssigned(
            **base,
            rider_id="wu",
            rider_name="Wu",
            vehicle="e_bike",
            eta_shop_at=when,
            eta_door_at=promised,
            assigned_by="dispatch",
        ),
    )
    await at(pool, when, fulfilment.on_order_handed_over, OrderHandedOver(**base, to=HandoverTo.RIDER, by="counter"))
    await at(pool, when, delivery.on_delivery_completed, DeliveryCompleted(**base, rider_id="wu"))


async def promise(pool: asyncpg.Pool, order_id: str, store: str, promised: datetime, when: datetime) -> None:
    minutes = round((promised - when).total_seconds() / 60)
    await at(
        pool,
        when,
        delivery.on_delivery_promised,
        DeliveryPromised(
            order_id=order_id, store_id=store, promised_at=promised, minutes=minutes, reason="no promise at checkout"
        ),
    )


@pytest.fixture
async def week(orders_pool: asyncpg.Pool) -> dict[str, str]:
    """Five orders with known outcomes over two local days, at two shops."""
    pool = orders_pool
    await seed(
        pool,
        corner_shop(),
        shop_product("water", "水", "Water", "drinks", 200),
        shop_product("noodles", "面", "Noodles", "food", 500),
        LocationUpserted(
            location_id="bakery",
            kind=LocationKind.SHOP,
            category="bakery",
            name_zh="面包店",
            name_en="Bakery",
            lat=32.041,
            lon=118.786,
        ),
        shop_product("bun", "包子", "Bun", "food", 150).model_copy(
            update={"location_id": "bakery", "store_id": "bakery"}
        ),
    )
    await at(pool, DAY1, payments.top_up, ADMIN, GRANDMA.subject, 50_000, "prepaid")
    zhou = await at(
        pool, DAY1, residents.register, HELPER, {"name": "Zhou Ayi", "address": HOME, "call_before_delivery": True}
    )
    await at(pool, DAY1, payments.top_up, ADMIN, zhou.resident_id, 50_000, "prepaid")

    # A: delivered 25 min after placing, 5 min inside its 30-minute promise; both lines picked; rated 5 and 4.
    a = await place(
        pool, DAY1, {"mode": "delivery", "address": HOME}, "shop", [Wanted("water", 2), Wanted("noodles", 1)]
    )
    await promise(pool, a, "shop", DAY1 + timedelta(minutes=30), DAY1)
    await accept(pool, a, "shop", DAY1 + timedelta(minutes=2))
    await pack(
        pool,
        a,
        "shop",
        DAY1 + timedelta(minutes=10),
        [("water", LineOutcome.PICKED, 2, 400), ("noodles", LineOutcome.PICKED, 1, 500)],
    )
    await deliver(pool, a, "shop", DAY1 + timedelta(minutes=30), DAY1 + timedelta(minutes=25))
    await at(pool, DAY1 + timedelta(hours=1), ratings.rate, GRANDMA, a, shop_stars=5, rider_stars=4, comment=None)

    # B: a helper's order for Zhou (call before delivery), 10 minutes late; the noodles substituted.
    b_at = DAY1 + timedelta(minutes=10)
    b = await place(
        pool,
        b_at,
        {"mode": "delivery", "address": None},
        "shop",
        [Wanted("water", 1), Wanted("noodles", 2)],
        by=HELPER,
        on_behalf_of=zhou.resident_id,
    )
    await promise(pool, b, "shop", b_at + timedelta(minutes=30), b_at)
    await accept(pool, b, "shop", b_at + timedelta(minutes=4))
    await pack(
        pool,
        b,
        "shop",
        b_at + timedelta(minutes=15),
        [("water", LineOutcome.PICKED, 1, 200), ("noodles", LineOutcome.SUBSTITUTED, 2, 900)],
    )
    await deliver(pool, b, "shop", b_at + timedelta(minutes=30), b_at + timedelta(minutes=40))
    await at(pool, b_at + timedelta(hours=1), ratings.rate, HELPER, b, shop_stars=3, rider_stars=None, comment=None)

    # E: promised in 20 min, moved by dispatch to 45, delivered at 40: on time against the promise as it
    # stood, late against the first; the noodles' substitute declined by the shopper.
    e_at = DAY1 + timedelta(minutes=20)
    e = await place(
        pool, e_at, {"mode": "delivery", "address": HOME}, "shop", [Wanted("water", 1), Wanted("noodles", 1)]
    )
    await promise(pool, e, "shop", e_at + timedelta(minutes=20), e_at)
    await accept(pool, e, "shop", e_at + timedelta(minutes=3))
    await promise(pool, e, "shop", e_at + timedelta(minutes=45), e_at + timedelta(minutes=5))
    started = PickingStarted(order_id=e, store_id="shop", location_id="shop", by="counter")
    await at(pool, e_at + timedelta(minutes=6), fulfilment.on_picking_started, started)
    water = SubstituteItem(
        product_id="water",
        location_id="shop",
        name_zh="水",
        name_en="Water",
        unit=StockUnit.PIECE,
        quantity=1,
        price_fen=200,
    )
    proposed = SubstitutionProposed(
        order_id=e, store_id="shop", line_no=2, substitute=water, needs_approval=True, by="counter"
    )
    await at(pool, e_at + timedelta(minutes=7), fulfilment.on_substitution_proposed, proposed)
    declined = SubstitutionSettled(
        order_id=e, store_id="shop", line_no=2, accepted=False, refund_fen=500, decided_by="shopper"
    )
    await at(pool, e_at + timedelta(minutes=8), fulfilment.on_substitution_settled, declined)
    await pack(pool, e, "shop", e_at + timedelta(minutes=10), [("water", LineOutcome.PICKED, 1, 200)])
    await deliver(pool, e, "shop", e_at + timedelta(minutes=45), e_at + timedelta(minutes=40))

    # C: pickup at 10:00 local, accepted after 6 min, the water out of stock, ready 20 min after placing.
    c_at = DAY1 + timedelta(hours=1)
    c = await place(pool, c_at, {"mode": "pickup"}, "shop", [Wanted("water", 3), Wanted("noodles", 1)])
    await accept(pool, c, "shop", c_at + timedelta(minutes=6))
    await pack(
        pool,
        c,
        "shop",
        c_at + timedelta(minutes=20),
        [("water", LineOutcome.OUT_OF_STOCK, 0, 0), ("noodles", LineOutcome.PICKED, 1, 500)],
    )

    # D: the next day at the bakery, never accepted (still waiting).
    d = await place(pool, DAY2, {"mode": "pickup"}, "bakery", [Wanted("bun", 4)])
    # Outside the period: the day before (local 30 November, 23:30).
    await place(pool, datetime(2026, 11, 30, 15, 30, tzinfo=UTC), {"mode": "pickup"}, "shop", [Wanted("water", 1)])
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


async def get(
    client: httpx.AsyncClient, name: str, headers: dict[str, str] | None = None, **params: str
) -> dict[str, Any]:
    response = await client.get(f"/reports/{name}", params={**PERIOD, **params}, headers=headers or as_(Role.ADMIN))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_each_report_counts_the_orders_placed_in_the_period(
    client: httpx.AsyncClient, week: dict[str, str]
) -> None:
    volume = await get(client, "volume")
    assert volume["period"] == {"from": "2026-12-01", "to": "2026-12-02", "timezone": TZ}
    assert volume["total"] == 5
    assert volume["by_day"] == [{"date": "2026-12-01", "orders": 4}, {"date": "2026-12-02", "orders": 1}]
    hours = {h["hour"]: h["orders"] for h in volume["by_hour"] if h["orders"]}
    assert hours == {9: 3, 10: 1, 11: 1}
    assert volume["by_store"] == [{"store_id": "shop", "orders": 4}, {"store_id": "bakery", "orders": 1}]
    assert {m["mode"]: m["orders"] for m in volume["by_mode"]} == {"delivery": 3, "pickup": 2, "locker": 0}

    on_time = await get(client, "on-time")
    assert (on_time["arrived"], on_time["on_time"], on_time["late"], on_time["on_time_pct"]) == (3, 2, 1, 66.7)
    assert (on_time["on_time_first_promise"], on_time["on_time_first_promise_pct"]) == (1, 33.3)
    assert on_time["late_median_min"] == 10.0

    timings = {m["mode"]: m for m in (await get(client, "timings"))["by_mode"]}
    assert timings["delivery"]["to_acceptance"] == {"orders": 3, "median_min": 3.0, "p90_min": 3.8}
    assert timings["delivery"]["to_door"] == {"orders": 3, "median_min": 40.0, "p90_min": 40.0}
    assert timings["pickup"]["to_acceptance"] == {"orders": 1, "median_min": 6.0, "p90_min": 6.0}
    assert timings["pickup"]["to_door"] == {"orders": 1, "median_min": 20.0, "p90_min": 20.0}  # ready at the counter
    assert timings["*"]["to_acceptance"]["orders"] == 4  # the bakery never accepted

    fill = await get(client, "fill-rate")
    assert (fill["lines"], fill["picked"], fill["substituted"], fill["out_of_stock"]) == (8, 5, 1, 1)
    assert (fill["substitute_declined"], fill["refused"]) == (1, 0)
    assert (fill["picked_pct"], fill["filled_pct"]) == (62.5, 75.0)

    stars = await get(client, "ratings")
    assert stars["ratings"] == 2
    assert stars["shop"] == {"count": 2, "average": 4.0, "stars": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}}
    assert (stars["rider"]["count"], stars["rider"]["average"]) == (1, 4.0)

    care = await get(client, "care")
    assert (care["orders"], care["by_helper"], care["for_residents"]) == (5, 1, 1)
    assert (care["deliveries"], care["call_before"], care["call_before_delivered"]) == (3, 1, 1)

    top = (await get(client, "products", limit="2"))["products"]
    assert [(p["product_id"], p["orders"], p["pieces"]) for p in top] == [("water", 4, 7), ("noodles", 4, 5)]
    assert [p["short"] for p in top] == [1, 2]  # water out of stock once; noodles substituted, and declined


async def test_a_report_as_csv_is_its_table_with_the_same_numbers(
    client: httpx.AsyncClient, week: dict[str, str]
) -> None:
    response = await client.get("/reports/volume", params={**PERIOD, "format": "csv"}, headers=as_(Role.ADMIN))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="linli-volume-2026-12-01-2026-12-02.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["date"], r["hour"], r["store_id"], r["mode"], r["orders"]) for r in rows] == [
        ("2026-12-01", "9", "shop", "delivery", "3"),
        ("2026-12-01", "10", "shop", "pickup", "1"),
        ("2026-12-02", "11", "bakery", "pickup", "1"),
    ]
    products = await client.get("/reports/products", params={**PERIOD, "format": "csv"}, headers=as_(Role.ADMIN))
    text = products.content.decode("utf-8-sig")
    assert (
        text.splitlines()[0] == "rank,product_id,name_zh,name_en,store_id,location_id,orders,pieces,estimated_fen,short"
    )
    assert text.splitlines()[1:3] == [
        "1,water,水,Water,shop,shop,4,7,1400,1",
        "2,noodles,面,Noodles,shop,shop,4,5,2500,2",
    ]
    on_time = await client.get("/reports/on-time", params={**PERIOD, "format": "csv"}, headers=as_(Role.ADMIN))
    assert list(csv.reader(io.StringIO(on_time.content.decode("utf-8-sig"))))[1:] == [
        ["2026-12-01", "shop", "delivery", "3", "2", "1", "1", "0", "0"]
    ]


async def test_a_shops_staff_see_their_own_shop_only_and_not_the_riders_side(
    client: httpx.AsyncClient, week: dict[str, str]
) -> None:
    baker = as_(Role.STORE_STAFF, "baker-1", store="bakery")
    volume = await get(client, "volume", baker)
    assert (volume["store_id"], volume["total"]) == ("bakery", 1)
    assert "rider" not in await get(client, "ratings", baker)
    assert "to_door" not in (await get(client, "timings", baker))["by_mode"][0]
    refused = await client.get("/reports/volume", params={**PERIOD, "store": "shop"}, headers=baker)
    assert refused.status_code == 403
    assert "you act for bakery, not shop" in refused.json()["detail"]
    riders = await client.get("/reports/on-time", params=PERIOD, headers=baker)
    assert riders.status_code == 403
    assert "for operators" in riders.json()["detail"]
    shopper = await client.get("/reports/volume", params=PERIOD, headers=as_(Role.SHOPPER, "grandma"))
    assert shopper.status_code == 403
    only_shop = await get(client, "volume", store="shop")
    assert only_shop["total"] == 4


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"from": "2026-12-05", "to": "2026-12-01"}, "from 2026-12-05 is after to 2026-12-01"),
        ({"from": "1 Dec", "to": "2026-12-01"}, "from: '1 Dec' is not a date; give it as YYYY-MM-DD"),
        ({"from": "2026-01-01", "to": "2026-12-01"}, "too long: ask for at most 92 days"),
    ],
)
async def test_a_bad_period_is_a_422_with_the_reason(
    client: httpx.AsyncClient, orders_pool: asyncpg.Pool, params: dict[str, str], reason: str
) -> None:
    response = await client.get("/reports/volume", params=params, headers=as_(Role.ADMIN))
    assert response.status_code == 422
    assert reason in response.json()["detail"]


async def test_an_unknown_report_or_format_is_a_422(client: httpx.AsyncClient, orders_pool: asyncpg.Pool) -> None:
    assert (await client.get("/reports/sales", headers=as_(Role.ADMIN))).status_code == 422
    assert (await client.get("/reports/volume", params={"format": "xml"}, headers=as_(Role.ADMIN))).status_code == 422
    unused = uuid.uuid4().hex  # a store nobody has: an empty report, not an error
    assert (await get(client, "volume", store=unused[:12]))["total"] == 0
