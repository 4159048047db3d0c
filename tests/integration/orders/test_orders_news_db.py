"""Text messages against real PostgreSQL, through orders' real consumers: one message per moment and
recipient however often an event comes, opt-outs respected when written and when sent, late once,
and a failing gateway retried with capped backoff until delivered or marked failed, never in the
order's way."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.adapters.messages import MessageSender, Recorder, SenderTimings, SmsGateway
from services.orders.domain.basket import Wanted
from services.orders.domain.helpers import Resident
from services.orders.entrypoints import news_http
from services.orders.service_layer import news, payments, residents
from shared.auth import Principal, issue_token
from shared.errors import Forbidden
from shared.events.contracts import (
    DeliveryPickedUp,
    DeliveryPromised,
    EtaUpdated,
    LineOutcome,
    LockerDeposited,
    LockerSiteUpdated,
    OrderPacked,
    PackedLine,
    PickingStarted,
    PickupPoint,
    RiderAtDoor,
    ShopAccepted,
    ShopRejected,
    StockReserved,
)
from shared.events.envelope import Envelope, Event, envelope
from shared.events.topics import DISPATCH, INVENTORY
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.fakes import to_json
from tests.integration.orders.conftest import GRANDMA, HOME, SETTINGS, corner_shop, place, run, seed, shop_product
from tests.runtime import consumer_for

DESK = Principal("cash-desk", Role.ADMIN)
ZHAO = Principal("helper-zhao", Role.HELPER)
RESIDENT_PHONE = "+86 139 1111 2222"
ZHAO_PHONE = "+86 137 0000 0001"
FAST = SenderTimings(interval_s=0.01, retry_initial_s=0.0, retry_max_s=0.0, max_attempts=3)


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(
        orders_pool,
        corner_shop(),
        shop_product("water", "水", "Water", "drinks", 200),
        LockerSiteUpdated(site_id="lane-lockers", name="巷口自提柜", lat=32.0427, lon=118.7872, free={"M": 2}),
    )


async def li(pool: asyncpg.Pool) -> Resident:
    """Mrs Li, registered by helper Zhao, who chose for her: every moment, in Chinese, at her own phone."""
    resident: Resident = await run(
        pool, residents.register, ZHAO, {"name": "李奶奶", "address": HOME, "phone": RESIDENT_PHONE}
    )
    await run(pool, payments.top_up, DESK, resident.resident_id, 10_000, "prepaid")
    everything = ["answer", "on_the_way", "late", "arrived"]
    await run(pool, news.choose, ZHAO, resident.resident_id, {"choices": everything})
    await run(
        pool, news.choose, ZHAO, ZHAO.subject, {"choices": ["answer", "late"], "language": "en", "phone": ZHAO_PHONE}
    )
    return resident


async def order_for(pool: asyncpg.Pool, resident: Resident, fulfilment: dict[str, Any] | None = None) -> str:
    order = await place(
        pool,
        fulfilment or {"mode": "delivery", "address": HOME},
        store_id="shop",
        wanted=[Wanted("water", 1)],
        by=ZHAO,
        on_behalf_of=resident.resident_id,
    )
    return order.id


async def deliver(runtime: Runtime, event: Event | Envelope[Any]) -> str:
    """One message through the orders consumer for its topic, as the broker hands it over."""
    env = event if isinstance(event, Envelope) else envelope(event)
    consumer = consumer_for(runtime, INVENTORY if env.payload.topic == INVENTORY else DISPATCH)
    return await consumer.handle(to_json(env), env.key.encode(), {})


async def packed(runtime: Runtime, order_id: str) -> None:
    """Reserved, accepted, picked and packed, as inventory reports it."""
    base: dict[str, Any] = {"order_id": order_id, "store_id": "shop"}
    await deliver(runtime, reserved(order_id))
    await deliver(runtime, ShopAccepted(**base, accepted_by="counter"))
    await deliver(runtime, PickingStarted(**base, location_id="shop", by="counter"))
    line = PackedLine(line_no=1, product_id="water", outcome=LineOutcome.PICKED, quantity=1, price_fen=200)
    point = PickupPoint(location_id="shop", name_zh="小店", name_en="Corner shop")
    await deliver(
        runtime,
        OrderPacked(
            **base,
            shown_fen=200,
            final_fen=200,
            difference_fen=0,
            bags=1,
            weight_g=600,
            handover_code="135790",
            pickup_point=point,
            lines=[line],
        ),
    )


def reserved(order_id: str) -> StockReserved:
    return StockReserved(
        order_id=order_id, store_id="shop", lines=[], accept_deadline=datetime.now(UTC) + timedelta(minutes=3)
    )


async def outbox_rows(pool: asyncpg.Pool, order_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT recipient, moment, phone, language, body, status, attempts, message_id FROM message_outbox "
        "WHERE order_id = $1 ORDER BY created_at, recipient",
        order_id,
    )
    return [dict(r) for r in rows]


async def recorded(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch("SELECT * FROM recorded_messages ORDER BY phone")]


async def test_a_confirmation_delivered_twice_is_one_message_to_each_who_chose_it(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    resident = await li(orders_pool)
    order_id = await order_for(orders_pool, resident)
    env = envelope(reserved(order_id))
    assert await deliver(orders_runtime, env) == "applied"
    assert await deliver(orders_runtime, env) == "duplicate"
    assert await deliver(orders_runtime, reserved(order_id)) == "applied"  # a second reservation: told once already

    rows = await outbox_rows(orders_pool, order_id)
    assert [(r["recipient"], r["moment"], r["phone"], r["language"]) for r in rows] == [
        ("helper-zhao", "confirmed", ZHAO_PHONE, "en"),
        (resident.resident_id, "confirmed", RESIDENT_PHONE, "zh"),
    ]
    by_person = {r["recipient"]: r["body"] for r in rows}
    assert by_person[resident.resident_id].startswith("【邻里】您在小店的订单")
    assert by_person["helper-zhao"].startswith("[Linli] 李奶奶's order")

    sender = MessageSender(orders_pool, Recorder(orders_pool), FAST)
    assert await sender.send_due() == 2
    assert await sender.send_due() == 0  # sent is sent
    kept = await recorded(orders_pool)
    assert [(r["phone"], r["sends"]) for r in kept] == [(ZHAO_PHONE, 1), (RESIDENT_PHONE, 1)]
    assert {r["message_id"] for r in kept} == {r["message_id"] for r in rows}
    assert {r["status"] for r in await outbox_rows(orders_pool, order_id)} == {"sent"}


async def test_the_same_event_makes_the_same_message_ids_even_if_its_moment_was_forgotten(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    """Past the inbox's retention a re-sent event is applied again: its messages' ids are taken already."""
    resident = await li(orders_pool)
    order_id = await order_for(orders_pool, resident)
    env = envelope(reserved(order_id))
    await deliver(orders_runtime, env)
    before = await outbox_rows(orders_pool, order_id)
    await orders_pool.execute("DELETE FROM inbox; DELETE FROM news_moments")
    await orders_pool.execute("UPDATE orders SET status = 'PLACED' WHERE id = $1", order_id)  # as if never applied
    assert await deliver(orders_runtime, env) == "applied"
    assert [r["message_id"] for r in await outbox_rows(orders_pool, order_id)] == [r["message_id"] for r in before]


async def test_nobody_who_opted_out_is_texted_at_writing_or_at_sending(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    resident = await li(orders_pool)
    await run(orders_pool, payments.top_up, DESK, GRANDMA.subject, 10_000, "prepaid")
    grandma = await place(
        orders_pool, {"mode": "pickup"}, store_id="shop", wanted=[Wanted("water", 1)], contact_phone="+86 138 0000 0000"
    )
    await deliver(orders_runtime, reserved(grandma.id))
    assert await outbox_rows(orders_pool, grandma.id) == [], "she never chose text messages"

    await run(orders_pool, news.choose, ZHAO, ZHAO.subject, {"choices": ["late"]})  # Zhao drops "answer"
    order_id = await order_for(orders_pool, resident)
    await deliver(orders_runtime, reserved(order_id))
    assert [r["recipient"] for r in await outbox_rows(orders_pool, order_id)] == [resident.resident_id]

    await run(orders_pool, news.choose, ZHAO, resident.resident_id, {"choices": []})  # and for Mrs Li, before it went
    sender = MessageSender(orders_pool, Recorder(orders_pool), FAST)
    await sender.send_due()
    assert [r["status"] for r in await outbox_rows(orders_pool, order_id)] == ["withheld"]
    assert await recorded(orders_pool) == []


async def test_only_the_person_or_the_helper_who_registered_the_resident_chooses(orders_pool: asyncpg.Pool) -> None:
    resident = await li(orders_pool)
    for stranger in (
        Principal("helper-qian", Role.HELPER),
        Principal("grandma", Role.SHOPPER),
        Principal("ops", Role.ADMIN),
        Principal("rider-7", Role.RIDER),
    ):
        with pytest.raises(Forbidden):
            await run(orders_pool, news.choose, stranger, resident.resident_id, {"choices": []})
        with pytest.raises(Forbidden):
            await run(orders_pool, news.preferences, stranger, ZHAO.subject)
    seen = await run(orders_pool, news.preferences, ZHAO, resident.resident_id)
    assert sorted(seen.choices) == ["answer", "arrived", "late", "on_the_way"]
    own = await run(orders_pool, news.preferences, GRANDMA, GRANDMA.subject)
    assert (own.choices, own.language, own.phone) == (frozenset(), "zh", None)


async def test_late_is_told_once_when_the_eta_passes_the_promise_by_five_minutes(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    resident = await li(orders_pool)
    order_id = await order_for(orders_pool, resident)
    base: dict[str, Any] = {"order_id": order_id, "store_id": "shop"}
    promised = datetime.now(UTC) + timedelta(minutes=30)
    await deliver(orders_runtime, DeliveryPromised(**base, promised_at=promised, minutes=30))
    for minutes in (3, 4.9):
        eta = EtaUpdated(**base, eta_door_at=promised + timedelta(minutes=minutes), late_risk=True)
        await deliver(orders_runtime, eta)
    assert await outbox_rows(orders_pool, order_id) == []
    for minutes in (6, 9, 12):
        await deliver(
            orders_runtime, EtaUpdated(**base, eta_door_at=promised + timedelta(minutes=minutes), late_risk=True)
        )
    rows = await outbox_rows(orders_pool, order_id)
    assert [(r["recipient"], r["moment"]) for r in rows] == [
        ("helper-zhao", "late"),
        (resident.resident_id, "late"),
    ]
    assert "6 min late" in next(r["body"] for r in rows if r["language"] == "en")
    assert "晚到约6分钟" in next(r["body"] for r in rows if r["language"] == "zh")


async def test_the_riders_steps_and_the_locker_are_told_to_who_chose_arrivals(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    resident = await li(orders_pool)
    to_door = await order_for(orders_pool, resident)
    door = {"order_id": to_door, "store_id": "shop"}
    await deliver(orders_runtime, DeliveryPickedUp(**door, rider_id="rider-7", handover_code="135790"))
    await deliver(orders_runtime, RiderAtDoor(**door, rider_id="rider-7"))
    await deliver(orders_runtime, RiderAtDoor(**door, rider_id="rider-7"))  # knocking again: told once
    rows = await outbox_rows(orders_pool, to_door)
    assert [(r["recipient"], r["moment"]) for r in rows] == [
        (resident.resident_id, "left_shop"),
        (resident.resident_id, "at_door"),
    ], "Zhao chose only answers and lateness"
    assert "135790" not in str(rows)

    locker = await order_for(orders_pool, resident, {"mode": "locker", "site_id": "lane-lockers", "address": None})
    await packed(orders_runtime, locker)
    await deliver(
        orders_runtime,
        LockerDeposited(
            order_id=locker,
            store_id="shop",
            site_id="lane-lockers",
            compartment_id="M1",
            code="246810",
            collect_by=datetime(2026, 12, 2, 4, 0, tzinfo=UTC),
        ),
    )
    told = await outbox_rows(orders_pool, locker)
    assert [(r["recipient"], r["moment"]) for r in told] == [
        ("helper-zhao", "confirmed"),
        (resident.resident_id, "confirmed"),
        (resident.resident_id, "in_locker"),
    ]
    in_locker = told[-1]
    assert "已放入巷口自提柜，请在12:00前取件" in in_locker["body"]
    assert "246810" not in in_locker["body"]


async def test_a_rejection_after_the_confirmation_is_its_own_message(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    resident = await li(orders_pool)
    order_id = await order_for(orders_pool, resident)
    await deliver(orders_runtime, reserved(order_id))
    await deliver(orders_runtime, ShopRejected(order_id=order_id, store_id="shop", reason="shop_rejected"))
    mine = [r for r in await outbox_rows(orders_pool, order_id) if r["recipient"] == resident.resident_id]
    assert [r["moment"] for r in mine] == ["confirmed", "rejected"]
    assert "店铺无法接单" in mine[1]["body"]


class FlakyGateway:
    """An SMS gateway's HTTP API that fails `failures` times, answering `status`, then accepts."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if len(self.seen) <= self.failures:
            return httpx.Response(self.status, text="try later")
        return httpx.Response(202, json={"accepted": True})


async def confirmed_for_li(pool: asyncpg.Pool, runtime: Runtime) -> tuple[str, Resident]:
    resident = await li(pool)
    await run(pool, news.choose, ZHAO, ZHAO.subject, {"choices": []})  # one message: Mrs Li's
    order_id = await order_for(pool, resident)
    await deliver(runtime, reserved(order_id))
    return order_id, resident


async def test_a_failing_gateway_is_retried_with_the_same_message_id_until_it_takes_it(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    order_id, _ = await confirmed_for_li(orders_pool, orders_runtime)
    gateway = FlakyGateway(failures=2)
    sms = SmsGateway("https://sms.example/send", "secret", transport=httpx.MockTransport(gateway))
    sender = MessageSender(orders_pool, sms, FAST)
    for _ in range(3):
        await sender.send_due()
    [row] = await outbox_rows(orders_pool, order_id)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    keys = {r.headers["Idempotency-Key"] for r in gateway.seen}
    assert keys == {str(row["message_id"])}, "every try carries the one message id"
    body = json.loads(gateway.seen[-1].content)
    assert body == {"message_id": str(row["message_id"]), "to": RESIDENT_PHONE, "text": row["body"], "language": "zh"}
    assert gateway.seen[-1].headers["Authorization"] == "Bearer secret"
    await sms.close()


async def test_a_gateway_that_keeps_failing_marks_the_message_failed_and_the_order_goes_on(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    order_id, _ = await confirmed_for_li(orders_pool, orders_runtime)
    down = SmsGateway("https://sms.example/send", None, transport=httpx.MockTransport(FlakyGateway(failures=99)))
    sender = MessageSender(orders_pool, down, SenderTimings(retry_initial_s=0.0, retry_max_s=0.0, max_attempts=3))
    for _ in range(5):
        await sender.send_due()
    [row] = await outbox_rows(orders_pool, order_id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    failed = await orders_pool.fetchval("SELECT last_error FROM message_outbox WHERE order_id = $1", order_id)
    assert "503" in failed
    # Meanwhile the order moved on: rejected by the shop, and that moment written too.
    await deliver(orders_runtime, ShopRejected(order_id=order_id, store_id="shop", reason="shop_rejected"))
    assert await orders_pool.fetchval("SELECT status FROM orders WHERE id = $1", order_id) == "REJECTED"
    assert [r["moment"] for r in await outbox_rows(orders_pool, order_id)] == ["confirmed", "rejected"]
    await down.close()


async def test_a_refused_number_fails_at_once_and_backoff_waits_between_tries(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    order_id, _ = await confirmed_for_li(orders_pool, orders_runtime)
    refused = SmsGateway("https://sms.example/send", None, transport=httpx.MockTransport(FlakyGateway(99, 400)))
    await MessageSender(orders_pool, refused, FAST).send_due()
    [row] = await outbox_rows(orders_pool, order_id)
    assert (row["status"], row["attempts"]) == ("failed", 1)
    await refused.close()

    await orders_pool.execute(
        "UPDATE message_outbox SET status = 'pending', attempts = 0, next_attempt_at = now() WHERE order_id = $1",
        order_id,
    )
    gateway = FlakyGateway(failures=1)
    slow = SmsGateway("https://sms.example/send", None, transport=httpx.MockTransport(gateway))
    sender = MessageSender(orders_pool, slow, SenderTimings(retry_initial_s=60.0, retry_max_s=600.0))
    await sender.send_due()
    await sender.send_due()  # not due again for a minute
    assert len(gateway.seen) == 1
    wait = await orders_pool.fetchval(
        "SELECT extract(epoch FROM next_attempt_at - now()) FROM message_outbox WHERE order_id = $1", order_id
    )
    assert 55 < wait <= 60
    await slow.close()


async def test_the_sender_loop_runs_beside_the_service(orders_pool: asyncpg.Pool, orders_runtime: Runtime) -> None:
    """Started as the service starts it: a message written by a consumer is recorded without anyone asking."""
    order_id, _ = await confirmed_for_li(orders_pool, orders_runtime)
    loop = MessageSender.on()(orders_runtime)
    loop.timings = FAST
    loop.pause_s = 0.01
    await loop.start()
    try:
        for _ in range(200):
            if await orders_pool.fetchval("SELECT count(*) FROM message_outbox WHERE status = 'sent'"):
                break
            await asyncio.sleep(0.02)
    finally:
        await loop.stop()
    assert [r["status"] for r in await outbox_rows(orders_pool, order_id)] == ["sent"]
    [kept] = await recorded(orders_pool)
    assert kept["phone"] == RESIDENT_PHONE
    assert kept["body"].startswith("【邻里】")


@pytest.fixture
async def client(orders_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = orders_runtime
    install_error_handlers(app)
    app.include_router(news_http.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


def as_(principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, principal.role, principal.subject)}"}


async def test_the_routes_let_a_person_and_their_residents_helper_choose_and_nobody_else(
    client: httpx.AsyncClient, orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    resident = await li(orders_pool)
    path = f"/news/preferences/{resident.resident_id}"
    assert (await client.get(path)).status_code == 401
    seen = await client.get(path, headers=as_(ZHAO))
    assert seen.status_code == 200
    assert seen.json() == {
        "person": resident.resident_id,
        "choices": ["answer", "arrived", "late", "on_the_way"],
        "language": "zh",
        "phone": None,
        "late_after_min": 5.0,
    }
    changed = await client.put(path, headers=as_(ZHAO), json={"choices": ["arrived"], "language": "en"})
    assert changed.json()["choices"] == ["arrived"]
    assert changed.json()["language"] == "en"
    for stranger in (Principal("helper-qian", Role.HELPER), GRANDMA, Principal("ops", Role.ADMIN)):
        assert (await client.get(path, headers=as_(stranger))).status_code == 403
        assert (await client.put(path, headers=as_(stranger), json={"choices": []})).status_code == 403
    mine = await client.put(
        "/news/preferences/grandma", headers=as_(GRANDMA), json={"choices": ["late"], "phone": "+86 138 0000 0000"}
    )
    assert mine.status_code == 200
    assert mine.json()["phone"] == "+86 138 0000 0000"
    for bad in ({"choices": ["everything"]}, {"language": "fr"}, {"phone": "call me"}, {"colour": "red"}):
        answer = await client.put("/news/preferences/grandma", headers=as_(GRANDMA), json=bad)
        assert answer.status_code == 422, bad

    assert (await client.get("/news/messages", headers=as_(ZHAO))).status_code == 403
    order_id = await order_for(orders_pool, resident)
    await deliver(orders_runtime, reserved(order_id))
    console = await client.get("/news/messages", headers=as_(Principal("ops", Role.ADMIN)))
    assert console.status_code == 200
    answer = console.json()
    assert answer["notifier"] == "recorder"
    assert answer["counts"] == {"pending": 1, "sent": 0, "failed": 0, "withheld": 0}
    [message] = answer["messages"]
    # Mrs Li now hears only of arrivals; Zhao still of answers, in English at his phone.
    assert (message["recipient"], message["moment"], message["status"]) == ("helper-zhao", "confirmed", "pending")
    assert (message["phone"], message["language"]) == (ZHAO_PHONE, "en")


async def test_messages_that_cannot_be_written_never_hold_up_the_event(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    resident = await li(orders_pool)
    order_id = await order_for(orders_pool, resident)

    def broken(*_: Any, **__: Any) -> str:
        raise KeyError("a template went missing")

    monkeypatch.setattr(news.templates, "render", broken)
    assert await deliver(orders_runtime, reserved(order_id)) == "applied"
    assert await orders_pool.fetchval("SELECT status FROM orders WHERE id = $1", order_id) == "CONFIRMED"
    assert await outbox_rows(orders_pool, order_id) == []
    # The moment stays told (the loss is logged): a redelivery does not try again.
    assert await orders_pool.fetchval("SELECT count(*) FROM news_moments WHERE order_id = $1", order_id) == 1
    assert orders_runtime.dead_letters.sent == []  # type: ignore[attr-defined]


async def test_old_sent_messages_are_swept_and_failed_ones_stay_for_the_console(
    orders_pool: asyncpg.Pool, orders_runtime: Runtime
) -> None:
    order_id, _ = await confirmed_for_li(orders_pool, orders_runtime)
    await run(orders_pool, news.choose, ZHAO, ZHAO.subject, {"choices": ["answer"]})
    await deliver(orders_runtime, ShopRejected(order_id=order_id, store_id="shop", reason="shop_rejected"))
    sender = MessageSender(orders_pool, Recorder(orders_pool), FAST)
    await sender.send_due()
    await orders_pool.execute(
        "UPDATE message_outbox SET created_at = now() - interval '31 days', "
        "status = CASE WHEN recipient = 'helper-zhao' THEN 'failed' ELSE status END"
    )
    assert await sender.sweep() == 2  # Mrs Li's confirmation and rejection
    assert [(r["recipient"], r["status"]) for r in await outbox_rows(orders_pool, order_id)] == [
        ("helper-zhao", "failed")
    ]
    assert [r["phone"] for r in await recorded(orders_pool)] == [ZHAO_PHONE]
