"""Orders' money against real PostgreSQL: balances, the ledger, settling with the order's state, NOTIFY."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.orders.domain.basket import Wanted
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.ledger import Account, BalanceTooSmall
from services.orders.entrypoints.answers import BalanceAnswer, OrderLedgerAnswer, QuoteAnswer
from services.orders.entrypoints.app import DEMO_BALANCES, seed_demo
from services.orders.service_layer import delivery, fulfilment, ordering, payments, residents
from services.orders.service_layer.reading import get_order
from services.orders.service_layer.unit_of_work import PostgresOrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden, Refusal
from shared.events.contracts import (
    DeliveryAddress,
    DeliveryCompleted,
    HandoverTo,
    LineOutcome,
    LockerSiteUpdated,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PickingStarted,
    PickupOffered,
    PickupPoint,
    ShopAccepted,
    StockReserved,
)
from shared.idempotency import change_once
from shared.service import Runtime
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.orders.conftest import (
    GRANDMA,
    HOME,
    TZ,
    corner_shop,
    place,
    run,
    seed,
    shop_product,
    unit_of_work,
    view,
)

DESK = Principal("cash-desk", Role.ADMIN)
FAR = {"text": "across the river", "lat": 32.10, "lon": 118.70}


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(
        orders_pool,
        corner_shop(lon=118.79, delivery_fee_fen=300),
        shop_product("carp", "草鱼", "Carp", "fish", 1800, StockUnit.GRAM, grams_per_piece=600),
        *(
            LockerSiteUpdated(site_id=site, name=f"{site.title()} lockers", lat=lat, lon=118.7872, free=free)
            for site, lat, free in (
                ("lane", 32.0427, {"M": 0}),
                ("gate", 32.0430, {"M": 2}),
                ("park", 32.0600, {"S": 1}),
            )
        ),
    )


async def top_up(pool: asyncpg.Pool, holder: str, fen: int, by: Principal = DESK) -> None:
    await run(pool, payments.top_up, by, holder, fen, "cash at the desk")


async def place_carp(
    pool: asyncpg.Pool,
    fulfilment_: dict[str, Any] | None = None,
    *,
    by: Principal = GRANDMA,
    on_behalf_of: str | None = None,
    **extra: Any,
) -> str:
    fulfilment_ = fulfilment_ or {"mode": "delivery", "address": HOME}
    order = await place(
        pool, fulfilment_, store_id="shop", wanted=[Wanted("carp", 2)], by=by, on_behalf_of=on_behalf_of, **extra
    )
    return order.id


async def balance(pool: asyncpg.Pool, holder: str = "grandma") -> tuple[int, int]:
    """The balance and what its entries add up to: always the same."""
    async with unit_of_work(pool, readonly=True) as uow:
        entries = await uow.ledger.entries(holder=holder, limit=10_000)
        return await uow.ledger.balance(holder), sum(e.amount_fen for e in entries if e.account is Account.BALANCE)


async def ledger_of(pool: asyncpg.Pool, order_id: str) -> dict[str, Any]:
    """The order's money as GET /orders/{id}/ledger answers it."""
    async with unit_of_work(pool, readonly=True) as uow:
        money = await payments.order_ledger(uow, await get_order(uow, GRANDMA, order_id))
    return OrderLedgerAnswer.of(money).model_dump(mode="json")


async def packed(pool: asyncpg.Pool, order_id: str, final_goods_fen: int, grams: int) -> None:
    base = {"order_id": order_id, "store_id": "shop"}
    await run(
        pool,
        ordering.on_stock_reserved,
        StockReserved(**base, lines=[], accept_deadline=datetime.now(UTC) + timedelta(minutes=3)),
    )
    await run(pool, ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="counter"))
    await run(pool, fulfilment.on_picking_started, PickingStarted(**base, location_id="shop", by="counter"))
    await run(
        pool,
        fulfilment.on_order_packed,
        OrderPacked(
            **base,
            shown_fen=2160,
            final_fen=final_goods_fen,
            difference_fen=final_goods_fen - 2160,
            bags=1,
            weight_g=grams,
            handover_code="135790",
            pickup_point=PickupPoint(location_id="shop", name_zh="小店", name_en="Corner shop"),
            lines=[
                PackedLine(
                    line_no=1, product_id="carp", outcome=LineOutcome.PICKED, quantity=grams, price_fen=final_goods_fen
                )
            ],
        ),
    )


async def test_a_prepaid_order_is_debited_when_placed_and_refunded_the_difference_when_packed_lighter(
    orders_pool: asyncpg.Pool,
) -> None:
    await top_up(orders_pool, "grandma", 5000)
    order_id = await place_carp(orders_pool, platform_fee_fen=20)
    assert await balance(orders_pool) == (5000 - 2480, 5000 - 2480), "goods 21.60 + delivery 3.00 + platform 0.20"

    await packed(orders_pool, order_id, final_goods_fen=1980, grams=1100)
    money = await ledger_of(orders_pool, order_id)
    assert {
        k: money[k]
        for k in ("shown_fen", "paid_fen", "final_fen", "refund_fen", "extra_charged_fen", "settled", "reconciles")
    } == {
        "shown_fen": 2480,
        "paid_fen": 2480,
        "final_fen": 2300,
        "refund_fen": 180,
        "extra_charged_fen": 0,
        "settled": True,
        "reconciles": True,
    }
    assert [e["kind"] for e in money["entries"]] == ["paid", "refund"]
    assert await balance(orders_pool) == (5000 - 2300, 5000 - 2300)

    shown = await view(orders_pool, order_id)
    assert (shown["payment"], shown["delivery_fee_fen"], shown["ledger"]["refund_fen"]) == ("balance", 300, 180)


async def test_too_small_a_balance_is_402_and_stores_nothing(orders_pool: asyncpg.Pool) -> None:
    await top_up(orders_pool, "grandma", 1000)

    async def place_it(uow: PostgresOrdersUnitOfWork) -> Any:
        return await ordering.place_order(
            uow,
            GRANDMA,
            store_id="shop",
            wanted=[Wanted("carp", 2)],
            fulfilment=Fulfilment.from_dict({"mode": "delivery", "address": HOME}),
            note=None,
            contact_phone=None,
            on_behalf_of=None,
            timezone=TZ,
        )

    with pytest.raises(Refusal) as refused:
        await change_once(lambda: unit_of_work(orders_pool), GRANDMA.key, "k1", "h", place_it)
    assert refused.value.status_code == 402
    assert "balance is ¥10.00 but this order costs ¥24.60; top up or pay on delivery" in refused.value.message
    assert await orders_pool.fetchval("SELECT count(*) FROM idempotency_keys") == 0, "the key is free again"
    assert await orders_pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await orders_pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'OrderPlaced'") == 0
    assert await balance(orders_pool) == (1000, 1000)


async def test_two_orders_at_once_cannot_spend_the_same_money(orders_pool: asyncpg.Pool) -> None:
    await top_up(orders_pool, "grandma", 4000)  # enough for one order of 24.60, not two
    outcomes = await asyncio.gather(place_carp(orders_pool), place_carp(orders_pool), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["BalanceTooSmall", "str"]
    assert await balance(orders_pool) == (4000 - 2460, 4000 - 2460)


async def test_cancel_gives_everything_back_in_the_same_transaction(orders_pool: asyncpg.Pool) -> None:
    await top_up(orders_pool, "grandma", 3000)
    order_id = await place_carp(orders_pool)
    await run(orders_pool, ordering.cancel_order, GRANDMA, order_id)
    money = await ledger_of(orders_pool, order_id)
    assert (money["final_fen"], money["refund_fen"], money["settled"], money["reconciles"]) == (0, 2460, True, True)
    assert await balance(orders_pool) == (3000, 3000)


async def test_pay_on_delivery_never_touches_the_balance_and_records_the_cash(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_carp(orders_pool, payment="on_delivery")
    placed = await orders_pool.fetchval("SELECT envelope FROM outbox WHERE event_type = 'OrderPlaced'")
    assert placed["payload"]["payment"] == "on_delivery"
    assert placed["payload"]["flags"]["pay_on_delivery"]
    assert placed["payload"]["delivery_fee_fen"] == 300
    await packed(orders_pool, order_id, final_goods_fen=2250, grams=1250)
    assert (await ledger_of(orders_pool, order_id))["due_at_door_fen"] == 2550
    await run(
        orders_pool,
        delivery.on_delivery_completed,
        DeliveryCompleted(order_id=order_id, store_id="shop", rider_id="r1", cash_collected_fen=2550),
    )
    money = await ledger_of(orders_pool, order_id)
    assert (money["cash_collected_fen"], money["settled"], money["reconciles"]) == (2550, True, True)
    assert await balance(orders_pool) == (0, 0)
    with pytest.raises(Exception, match="pay on delivery is for delivery to the door only, not pickup"):
        await place_carp(orders_pool, {"mode": "pickup"}, payment="on_delivery")


async def test_pay_on_delivery_collected_at_the_counter_records_the_shops_cash(orders_pool: asyncpg.Pool) -> None:
    """No rider came, the shopper took the pickup offer: the counter takes the cash, and the ledger closes."""
    order_id = await place_carp(orders_pool, payment="on_delivery")
    await packed(orders_pool, order_id, final_goods_fen=2250, grams=1250)
    await run(
        orders_pool,
        delivery.on_pickup_offered,
        PickupOffered(
            order_id=order_id, store_id="shop", reason="no_rider", answer_by=datetime.now(UTC) + timedelta(minutes=5)
        ),
    )
    await run(orders_pool, delivery.answer_pickup_offer, GRANDMA, order_id, True)
    due = (await ledger_of(orders_pool, order_id))["due_at_door_fen"]
    assert due == 2250, "collected at the counter: no delivery fee"
    await run(
        orders_pool,
        fulfilment.on_order_handed_over,
        OrderHandedOver(
            order_id=order_id, store_id="shop", to=HandoverTo.SHOPPER, by="counter", cash_collected_fen=due
        ),
    )
    money = await ledger_of(orders_pool, order_id)
    assert (money["cash_collected_fen"], money["settled"], money["reconciles"]) == (due, True, True)
    assert await balance(orders_pool) == (0, 0)


async def test_a_helper_tops_up_their_resident_who_pays_from_it(orders_pool: asyncpg.Pool) -> None:
    helper = Principal("centre-staff", Role.HELPER)
    resident = await run(orders_pool, residents.register, helper, {"name": "Mrs Wang", "address": HOME})
    with pytest.raises(Forbidden, match="is not one"):
        await top_up(orders_pool, resident.resident_id, 3000, by=Principal("someone-else", Role.HELPER))
    await top_up(orders_pool, resident.resident_id, 3000, by=helper)
    order_id = await place_carp(orders_pool, {"mode": "delivery"}, by=helper, on_behalf_of=resident.resident_id)
    async with unit_of_work(orders_pool, readonly=True) as uow:
        order = await get_order(uow, helper, order_id)
        seen = BalanceAnswer.of(await payments.balance_of(uow, helper, resident.resident_id)).model_dump(mode="json")
    assert order.fulfilment.address == DeliveryAddress(**HOME), "the resident's address fills in what the order omits"
    assert seen["balance_fen"] == 3000 - 2460
    assert [e["kind"] for e in seen["entries"]] == ["paid", "top_up"]


async def test_address_outside_the_radius_and_lockers_without_room_are_refused(orders_pool: asyncpg.Pool) -> None:
    await top_up(orders_pool, "grandma", 10_000)
    with pytest.raises(Exception, match=r"m from Corner shop \(小店\) by street, but it delivers only within 1500 m"):
        await place_carp(orders_pool, {"mode": "delivery", "address": FAR})
    with pytest.raises(
        ordering.LockerFull,
        match=r"Lane lockers \(lane\) has no free compartment; the nearest "
        r"site with room is Gate lockers \(gate\)",
    ):
        await place_carp(orders_pool, {"mode": "locker", "site_id": "lane"})
    with pytest.raises(Exception, match="no locker site nowhere"):
        await place_carp(orders_pool, {"mode": "locker", "site_id": "nowhere"})
    assert await place_carp(orders_pool, {"mode": "locker", "site_id": "gate"})


async def test_every_change_to_an_order_notifies_its_followers(orders_pool: asyncpg.Pool, database_url: str) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener("linli_order", lambda *args: heard.put_nowait(args[3]))
        await top_up(orders_pool, "grandma", 3000)
        order_id = await place_carp(orders_pool)
        assert await asyncio.wait_for(heard.get(), 5) == order_id
        await run(orders_pool, ordering.cancel_order, GRANDMA, order_id)
        assert await asyncio.wait_for(heard.get(), 5) == order_id
    finally:
        await listener.close()


async def test_a_quote_stores_nothing_and_refuses_what_placing_refuses(orders_pool: asyncpg.Pool) -> None:
    await top_up(orders_pool, "grandma", 2500)
    args: dict[str, Any] = {
        "store_id": "shop",
        "wanted": [Wanted("carp", 2)],
        "contact_phone": None,
        "on_behalf_of": None,
        "fulfilment": Fulfilment.from_dict({"mode": "delivery", "address": HOME}),
        "timezone": TZ,
    }
    quoted = QuoteAnswer.of(await run(orders_pool, ordering.quote, GRANDMA, **args)).model_dump(mode="json")
    assert (
        quoted["goods_fen"],
        quoted["delivery_fee_fen"],
        quoted["total_fen"],
        quoted["balance_fen"],
        quoted["balance_enough"],
    ) == (2160, 300, 2460, 2500, True)
    assert quoted["lines"][0]["estimate"] is True, "weighed goods are an estimate until weighed"
    assert await orders_pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await balance(orders_pool) == (2500, 2500)
    with pytest.raises(BalanceTooSmall):
        await run(orders_pool, ordering.quote, GRANDMA, **{**args, "platform_fee_fen": 100})


async def test_the_demo_residents_get_their_opening_balance_once(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    await seed_demo(orders_runtime)
    await seed_demo(orders_runtime)  # a restart with --keep seeds nothing twice
    for holder, amount in DEMO_BALANCES.items():
        assert await balance(orders_pool, holder) == (amount, amount)
