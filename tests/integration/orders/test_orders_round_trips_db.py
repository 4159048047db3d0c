"""What POST /orders costs the database: three statements in its transaction, whatever the order.

The Idempotency-Key's claim comes first, then one statement reads everything checkout decides
on, and one writes the order with everything that goes with it (lines, timeline, the debit,
remembered choices, the outbox row, the NOTIFYs, the key's answer) as the unit of work
commits. The counts are of the statements asyncpg sent on the only connection of the pool, so
a change that adds a round trip fails here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.basket import Wanted
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.entrypoints.app import SPEC
from services.orders.entrypoints.http import router
from services.orders.service_layer import ordering, payments, residents
from shared import db, outbox
from shared.auth import Principal, issue_token
from shared.events.contracts import LockerSiteUpdated, PromiseQuoted, QuotedPickup
from shared.service import install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import (
    GRANDMA,
    HOME,
    SETTINGS,
    TZ,
    Conversation,
    corner_shop,
    run,
    seed,
    shop_product,
    unit_of_work,
)
from tests.runtime import runtime_for

DESK = Principal("cash-desk", Role.ADMIN)
LI = Principal("helper-li", Role.HELPER)
WATER = [{"product_id": "water", "quantity": 2}]


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(
        orders_pool,
        corner_shop(delivery_fee_fen=300),
        shop_product("water", "水", "Water", "drinks", 200),
        shop_product("tofu", "豆腐", "Tofu", "fresh", 350),
        LockerSiteUpdated(site_id="lane", name="Lane lockers", lat=32.0425, lon=118.787, free={"S": 2, "M": 1}),
    )
    await run(orders_pool, payments.top_up, DESK, GRANDMA.subject, 5000, None)
    async with unit_of_work(orders_pool) as uow:  # a delivery now is promised from dispatch's quote, read with the rest
        await uow.circle.record_promise(
            PromiseQuoted(
                location_id="shop", ready_minutes=8, rider_to_shop_minutes=3, riders_available=2,
                quoted_at=datetime.now(UTC), pickups=[QuotedPickup(vehicle="e_bike", at_shop_minutes=3)],
            )
        )  # fmt: skip


@pytest.fixture
async def client(one_connection: tuple[asyncpg.Pool, Conversation]) -> AsyncIterator[httpx.AsyncClient]:
    pool, _ = one_connection
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = runtime_for(SPEC, SETTINGS, pool)
    install_error_handlers(app)
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        yield c


def as_(principal: Principal, key: str) -> dict[str, str]:
    token = issue_token(SETTINGS, principal.role, principal.subject)
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


async def post_order(
    client: httpx.AsyncClient, conversation: Conversation, body: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, list[str]]:
    """POST /orders, and the statements its transaction sent between BEGIN and COMMIT (or ROLLBACK)."""
    await asyncio.sleep(0.05)  # the query logger reports on the next turns of the loop
    conversation.clear()
    response = await client.post("/orders", json=body, headers=headers)
    await asyncio.sleep(0.05)
    [transaction] = conversation.transactions()
    assert transaction[0].startswith("BEGIN")
    return response, transaction[1:]


async def test_placing_is_the_keys_claim_one_read_and_one_write_whatever_the_order(
    orders_pool: asyncpg.Pool, one_connection: tuple[asyncpg.Pool, Conversation], client: httpx.AsyncClient
) -> None:
    _, conversation = one_connection
    zhou = await run(
        orders_pool,
        residents.register,
        LI,
        {"name": "Zhou Ayi", "address": HOME, "call_before_delivery": True, "pay_on_delivery": True},
    )
    orders = {
        "prepaid pickup": (GRANDMA, {"store_id": "shop", "lines": WATER, "fulfilment": {"mode": "pickup"}}),
        "a delivery whose line names its substitute (remembered)": (
            GRANDMA,
            {
                "store_id": "shop",
                "lines": [
                    {"product_id": "water", "quantity": 1, "substitution": {"mode": "product", "product_id": "tofu"}}
                ],
                "fulfilment": {"mode": "delivery", "address": HOME},
            },
        ),
        "the remembered substitute, again": (
            GRANDMA,
            {"store_id": "shop", "lines": [{"product_id": "water", "quantity": 1}], "fulfilment": {"mode": "pickup"}},
        ),
        "a locker": (
            GRANDMA,
            {"store_id": "shop", "lines": WATER, "fulfilment": {"mode": "locker", "site_id": "lane"}},
        ),
        "a helper's resident, to their door, paid there": (
            LI,
            {"store_id": "shop", "lines": WATER, "fulfilment": {"mode": "delivery"}, "on_behalf_of": zhou.resident_id},
        ),
    }
    for n, (what, (principal, body)) in enumerate(orders.items()):
        response, statements = await post_order(client, conversation, body, as_(principal, f"key-{n}"))
        assert response.status_code == 201, (what, response.text)
        assert statements[-1] == "COMMIT;", what
        assert len(statements[:-1]) == 3, (what, statements)
        assert statements[0].startswith("INSERT INTO idempotency_keys"), "the key is claimed first"
    answered = response.json()
    assert (answered["placed_for"], answered["payment"]) == (zhou.resident_id, "on_delivery")
    assert answered["promised_at"] is not None, "the quote was read with the rest, not after"
    assert answered["flags"]["call_before_delivery"], "the resident's record filled in the flags"
    remembered = await orders_pool.fetchval(
        "SELECT substitution FROM order_lines l JOIN orders o ON o.id = l.order_id "
        "WHERE o.placed_for = 'grandma' AND o.fulfilment ->> 'mode' = 'pickup' ORDER BY o.created_at DESC LIMIT 1"
    )
    assert remembered == {"mode": "product", "product_id": "tofu"}, "the line that left it open got the remembered one"
    balance = await orders_pool.fetchval("SELECT balance_fen FROM balances WHERE holder = 'grandma'")
    entries = await orders_pool.fetch(
        "SELECT amount_fen, balance_after_fen FROM ledger_entries WHERE holder = 'grandma' ORDER BY id"
    )
    assert balance == 5000 - 400 - (200 + 300) - 200 - (400 + 300)
    assert entries[-1]["balance_after_fen"] == balance
    assert sum(e["amount_fen"] for e in entries) == balance, "no balance moves without its entry"


async def test_a_refusal_writes_nothing_and_frees_its_key_and_a_retry_is_answered_in_two_statements(
    orders_pool: asyncpg.Pool, one_connection: tuple[asyncpg.Pool, Conversation], client: httpx.AsyncClient
) -> None:
    _, conversation = one_connection
    body = {"store_id": "shop", "lines": [{"product_id": "water", "quantity": 30}], "fulfilment": {"mode": "pickup"}}
    refused, statements = await post_order(client, conversation, body, as_(GRANDMA, "big"))
    assert refused.status_code == 402
    assert refused.json()["detail"] == "the balance is ¥50.00 but this order costs ¥60.00; top up or pay on delivery"
    assert statements[-1] == "ROLLBACK;"
    assert len(statements[:-1]) == 2, statements
    assert await orders_pool.fetchval("SELECT count(*) FROM orders") == 0
    assert await orders_pool.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'OrderPlaced'") == 0
    assert await orders_pool.fetchval("SELECT count(*) FROM idempotency_keys WHERE key = 'big'") == 0
    for unknown in ({**body, "store_id": "nowhere"}, {**body, "fulfilment": {"mode": "locker", "site_id": "gone"}}):
        refused, statements = await post_order(client, conversation, unknown, as_(GRANDMA, "big"))
        assert refused.status_code == 422, refused.text
        assert statements[-1] == "ROLLBACK;"

    await run(orders_pool, payments.top_up, DESK, GRANDMA.subject, 1000, None)
    placed, statements = await post_order(client, conversation, body, as_(GRANDMA, "big"))
    assert placed.status_code == 201, "the key was free again"
    again, statements = await post_order(client, conversation, body, as_(GRANDMA, "big"))
    assert (again.status_code, again.json()) == (201, placed.json())
    assert len(statements[:-1]) == 2, statements
    assert statements[0].startswith("INSERT INTO idempotency_keys")
    assert statements[1].startswith("SELECT request_hash")
    assert await orders_pool.fetchval("SELECT count(*) FROM orders") == 1


async def test_the_outbox_row_is_the_one_shared_outbox_writes_and_both_notifications_go_out(
    orders_pool: asyncpg.Pool, database_url: str
) -> None:
    heard: list[tuple[str, str]] = []
    listener = await db.connect(database_url)
    for channel in (outbox.channel("orders"), "linli_order"):
        await listener.add_listener(channel, lambda _c, _p, ch, payload: heard.append((ch, payload)))
    try:
        async with unit_of_work(orders_pool) as uow:
            order = await ordering.place_order(
                uow,
                GRANDMA,
                store_id="shop",
                wanted=[Wanted("water", 1)],
                fulfilment=Fulfilment.from_dict({"mode": "pickup"}),
                note=None,
                contact_phone=None,
                on_behalf_of=None,
                timezone=TZ,
            )
            [env] = uow.published
        for _ in range(50):
            if len(heard) >= 2:
                break
            await asyncio.sleep(0.02)
    finally:
        await listener.close()
    assert sorted(heard) == sorted([(outbox.channel("orders"), ""), ("linli_order", order.id)])

    columns = "SELECT event_id, topic, key, event_type, envelope FROM outbox"
    written = await orders_pool.fetchrow(columns)
    async with orders_pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("DELETE FROM outbox")
        await outbox.record(conn, env, "orders")
        recorded = await conn.fetchrow(columns)
        await tx.rollback()
    assert written is not None
    assert recorded is not None
    assert dict(written) == dict(recorded)
