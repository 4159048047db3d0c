"""One promise, against real PostgreSQL: the checkout's promise (from dispatch's latest PromiseQuoted
in the circle read model) is the one the order records and OrderPlaced carries; dispatch keeping it
adds nothing to the timeline, and dispatch moving it says when and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from services.orders.domain.basket import Wanted
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.service_layer import delivery, ordering, payments, reading
from shared.auth import Principal
from shared.events.contracts import DeliveryPromised, PromiseQuoted, QuotedPickup
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import (
    GRANDMA,
    HOME,
    TZ,
    corner_shop,
    handle,
    run,
    seed,
    shop_product,
    unit_of_work,
)

DESK = Principal("cash-desk", Role.ADMIN)


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(orders_pool, corner_shop(delivery_fee_fen=300), shop_product("water", "水", "Water", "drinks", 200))
    await run(orders_pool, payments.top_up, DESK, GRANDMA.subject, 5000, None)


async def quoted(pool: asyncpg.Pool, **fields: object) -> None:
    quote = PromiseQuoted(location_id="shop", riders_available=2, quoted_at=datetime.now(UTC), **fields)  # type: ignore[arg-type]
    async with unit_of_work(pool) as uow:
        await uow.circle.record_promise(quote)


def checkout_args() -> dict[str, object]:
    return {
        "store_id": "shop",
        "wanted": [Wanted("water", 1)],
        "fulfilment": Fulfilment.from_dict({"mode": "delivery", "address": HOME}),
        "contact_phone": None,
        "on_behalf_of": None,
        "timezone": TZ,
    }


async def test_the_order_keeps_the_promise_its_checkout_showed(orders_pool: asyncpg.Pool) -> None:
    # Six orders ahead: the first rider reaches the shop in 25 minutes, long after the bag is ready.
    await quoted(
        orders_pool, ready_minutes=8, rider_to_shop_minutes=25, slack_minutes=4, orders_ahead=6,
        pickups=[QuotedPickup(vehicle="e_bike", at_shop_minutes=25), QuotedPickup(vehicle="foot", at_shop_minutes=30)],
    )  # fmt: skip
    shown = await run(orders_pool, ordering.quote, GRANDMA, **checkout_args())
    assert shown.promise_minutes is not None
    assert shown.promise_minutes >= 25 + 4  # the queue of riders, not the best free rider's trip

    async with unit_of_work(orders_pool) as uow:
        before = uow.now()
        order = await ordering.place_order(uow, GRANDMA, note=None, **checkout_args())  # type: ignore[arg-type]
        [placed] = uow.published
    assert order.tracking.promised_minutes == shown.promise_minutes
    promised_at = order.tracking.promised_at
    assert promised_at is not None
    assert timedelta(0) <= promised_at - (before + timedelta(minutes=shown.promise_minutes)) < timedelta(seconds=5)
    assert placed.payload.promised_at == promised_at
    async with unit_of_work(orders_pool) as uow:
        stored = await reading.get_order(uow, GRANDMA, order.id)
    assert stored.tracking.promised_at == promised_at
    said = [e.cause for e in stored.timeline]
    assert f"delivery promised in about {shown.promise_minutes} min" in said

    # Dispatch adopts it: the same promise back says nothing new.
    base = {"order_id": order.id, "store_id": "shop"}
    kept = DeliveryPromised(**base, promised_at=promised_at, minutes=shown.promise_minutes)
    await handle(orders_pool, delivery.on_delivery_promised, kept)
    async with unit_of_work(orders_pool) as uow:
        assert len((await reading.get_order(uow, GRANDMA, order.id)).timeline) == len(stored.timeline)

    # Dispatch moves it: the timeline says to when and why, and the order measures against the new one.
    later = promised_at + timedelta(minutes=9)
    moved = DeliveryPromised(
        **base, promised_at=later, minutes=shown.promise_minutes + 9, reason="more orders ahead than quoted",
        previous_promised_at=promised_at,
    )  # fmt: skip
    await handle(orders_pool, delivery.on_delivery_promised, moved)
    async with unit_of_work(orders_pool) as uow:
        after = await reading.get_order(uow, GRANDMA, order.id)
    assert after.tracking.promised_at == later
    last = after.timeline[-1]
    assert last.cause.startswith("promise moved to ")
    assert last.cause.endswith(": more orders ahead than quoted")
    assert last.detail["previous_promised_at"] == promised_at.isoformat()


async def test_no_quote_no_promise_at_checkout_and_dispatch_sets_one(orders_pool: asyncpg.Pool) -> None:
    await quoted(orders_pool, ready_minutes=8, rider_to_shop_minutes=None)  # no rider on shift
    shown = await run(orders_pool, ordering.quote, GRANDMA, **checkout_args())
    assert shown.promise_minutes is None
    async with unit_of_work(orders_pool) as uow:
        order = await ordering.place_order(uow, GRANDMA, note=None, **checkout_args())  # type: ignore[arg-type]
        [placed] = uow.published
    assert order.tracking.promised_at is None
    assert placed.payload.promised_at is None
    at = datetime.now(UTC) + timedelta(minutes=40)
    why = "no promise at checkout: dispatch's forecast when the order arrived"
    await handle(
        orders_pool,
        delivery.on_delivery_promised,
        DeliveryPromised(order_id=order.id, store_id="shop", promised_at=at, minutes=40, reason=why),
    )
    async with unit_of_work(orders_pool) as uow:
        after = await reading.get_order(uow, GRANDMA, order.id)
    assert after.tracking.promised_at == at
    assert after.timeline[-1].cause == f"delivery promised in about 40 min: {why}"
