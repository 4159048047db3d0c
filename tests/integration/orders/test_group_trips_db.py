"""A group buy's trip as orders follows it, over HTTP on real PostgreSQL: the pickup place asks for delivery
and the close says so to dispatch; dispatch's trip shows on the leader's page; the arrival is refused while
the rider is on the way and to anyone but the leader, a helper with a bag or an admin; a locker code is shown
to its bag's holder only, and opening the compartment collects the bag; at the counter only the leader sees
the consolidated order's code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.entrypoints import group_buys_http, group_trips_http
from services.orders.entrypoints.app import SPEC
from services.orders.service_layer import group_trips
from shared.events.contracts import (
    DepositedBag,
    GroupBuyLockerOpened,
    GroupBuyTripAtPickup,
    GroupBuyTripPlanned,
    OrderPacked,
    PickupPoint,
    TripCompartment,
)
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import SETTINGS, corner_shop, outbox, seed, shop_product
from tests.integration.orders.test_group_buy_collection_db import HELPER, LI, WANG, closed_deal
from tests.integration.orders.test_group_buys_db import ADMIN, LEADER, MovableClock, as_
from tests.runtime import runtime_for

STRANGER = as_(Role.SHOPPER, "stranger")
PLACE = {"kind": "place", "name": "Courtyard of building 3", "lat": 32.0415, "lon": 118.781, "delivered": True}


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
    app.include_router(group_trips_http.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


async def run(runtime: Runtime, handler: object, event: object) -> None:
    async with runtime.unit_of_work() as uow:
        await handler(uow, event)  # type: ignore[operator]


async def test_a_delivered_trip_is_followed_and_arrival_waits_for_the_rider(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock, orders_pool: asyncpg.Pool
) -> None:
    deal_id = await closed_deal(client, runtime, clock, pickup=PLACE)
    [closed] = await outbox(orders_pool, "GroupBuyClosed")
    assert closed["pickup"]["delivered"] is True  # dispatch plans the one trip from this
    planned = GroupBuyTripPlanned(
        deal_id=deal_id, store_id="shop", kind="delivery", bags=3, weight_g=4200, vehicle="foot"
    )
    await run(runtime, group_trips.on_trip_planned, planned)
    trip = (await client.get(f"/group-buys/{deal_id}/trip", headers=LEADER)).json()
    assert (trip["kind"], trip["status"], trip["bags"], trip["vehicle"]) == ("delivery", "open", 3, "foot")
    early = await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)
    assert early.status_code == 409
    assert "still on their way" in early.json()["detail"]
    at = GroupBuyTripAtPickup(deal_id=deal_id, store_id="shop", rider_id="rider-1", kind="delivery")
    await run(runtime, group_trips.on_trip_at_pickup, at)
    refused = await client.post(f"/group-buys/{deal_id}/arrival", headers=STRANGER)
    assert refused.status_code == 403
    assert "leader" in refused.json()["detail"]
    assert (await client.post(f"/group-buys/{deal_id}/arrival", headers=HELPER)).status_code == 200  # has a bag
    assert [e["confirmed_by"] for e in await outbox(orders_pool, "GroupBuyArrived")] == ["helper-he"]
    again = await client.post(f"/group-buys/{deal_id}/arrival", headers=LEADER)
    assert again.status_code == 409  # once, saying when
    trip = (await client.get(f"/group-buys/{deal_id}/trip", headers=LEADER)).json()
    assert (trip["status"], trip["rider_id"], trip["arrived_by"]) == ("arrived", "rider-1", "helper-he")
    assert (await client.get(f"/group-buys/{deal_id}/trip", headers=STRANGER)).status_code == 403


async def test_locker_codes_go_to_each_holder_only_and_opening_collects_the_bag(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock
) -> None:
    deal_id = await closed_deal(client, runtime, clock, pickup=PLACE)
    comps = [TripCompartment(number=n, compartment_id=f"G{n}", size="S") for n in (1, 2, 3)]
    planned = GroupBuyTripPlanned(
        deal_id=deal_id, store_id="shop", kind="locker", bags=3, vehicle="foot", compartments=comps
    )
    await run(runtime, group_trips.on_trip_planned, planned)
    until = datetime.now(UTC) + timedelta(hours=4)
    deposited = [DepositedBag(number=n, compartment_id=f"G{n}", code=f"90000{n}", collect_by=until) for n in (1, 2, 3)]
    at = GroupBuyTripAtPickup(
        deal_id=deal_id, store_id="shop", rider_id="rider-1", kind="locker", site_id="site-g", deposited=deposited
    )
    await run(runtime, group_trips.on_trip_at_pickup, at)
    led = (await client.get(f"/group-buys/{deal_id}/trip", headers=LEADER)).json()
    assert [(c["number"], c["compartment_id"], c["code"]) for c in led["compartments"]] == [
        (1, "G1", None),
        (2, "G2", None),
        (3, "G3", None),
    ]
    wang = (await client.get(f"/group-buys/{deal_id}/trip", headers=WANG)).json()
    assert [(c["number"], c["code"]) for c in wang["compartments"]] == [(2, "900002")]  # Wang is bag 2
    chen = (await client.get(f"/group-buys/{deal_id}/trip?resident=chen", headers=HELPER)).json()
    assert [(c["number"], c["code"]) for c in chen["compartments"]] == [(1, "900001")]
    opened = GroupBuyLockerOpened(deal_id=deal_id, store_id="shop", number=2, opened_by="wang", compartment_id="G2")
    await run(runtime, group_trips.on_locker_opened, opened)
    await run(runtime, group_trips.on_locker_opened, opened)  # redelivered: collected once
    bags = (await client.get(f"/group-buys/{deal_id}/bags", headers=LEADER)).json()["bags"]
    assert [(b["number"], b["state"], b["collected_by"]) for b in bags] == [
        (1, "waiting", None),
        (2, "collected", "wang"),
        (3, "waiting", None),
    ]
    assert (await client.get(f"/group-buys/{deal_id}/trip", headers=WANG)).json()["compartments"] == []  # used


async def test_at_the_counter_only_the_leader_sees_the_consolidated_orders_code(
    client: httpx.AsyncClient, runtime: Runtime, clock: MovableClock
) -> None:
    deal_id = await closed_deal(client, runtime, clock)  # a place without delivery: the leader collects
    packed = OrderPacked(
        order_id=deal_id,
        store_id="shop",
        shown_fen=3600,
        final_fen=3600,
        difference_fen=0,
        lines=[],
        bags=3,
        weight_g=1500,
        pickup_point=PickupPoint(location_id="shop", name_zh="店", name_en="Shop"),
        handover_code="5150",
    )
    await run(runtime, group_trips.on_order_packed, packed)
    led = (await client.get(f"/group-buys/{deal_id}/trip", headers=LEADER)).json()
    assert (led["kind"], led["status"], led["counter_code"], led["bags"]) == ("counter", "counter", "5150", 3)
    assert (await client.get(f"/group-buys/{deal_id}/trip", headers=ADMIN)).json()["counter_code"] == "5150"
    li = await client.get(f"/group-buys/{deal_id}/trip", headers=LI)
    assert li.status_code == 200
    assert li.json()["counter_code"] is None
    assert "5150" not in li.text
