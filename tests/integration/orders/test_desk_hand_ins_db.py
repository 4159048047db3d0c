"""Riders' cash handed in at a service centre's desk counts in that desk's day, on real PostgreSQL:
the drawer holds it, so the day's report lists it and expects it, the close counts it, and a hand-in
after the close goes to the next day as a late top-up does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.settlement import Book, Event, JournalEntry, Line
from services.orders.entrypoints import cash_desk_http
from services.orders.entrypoints.http import router
from services.orders.service_layer import settlement
from shared.auth import Principal, issue_token
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import SETTINGS, unit_of_work

OPS = {"Authorization": f"Bearer {issue_token(SETTINGS, Role.ADMIN, 'ops-1')}"}
OPERATOR = Principal("ops-1", Role.ADMIN)


def today() -> date:
    return datetime.now(ZoneInfo(SETTINGS.timezone)).date()


@pytest.fixture
async def client(orders_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    app.state.runtime = orders_runtime
    install_error_handlers(app)
    for r in (router, cash_desk_http.router):
        app.include_router(r)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orders") as c:
        for desk in ("centre-1", "centre-2"):
            made = await c.put(
                f"/desks/{desk}", json={"name_zh": "服务中心", "name_en": desk, "float_fen": 200_00}, headers=OPS
            )
            assert made.status_code == 200, made.text
        yield c


async def rider_took_at_doors(pool: asyncpg.Pool, rider: str, fen: int) -> None:
    """What a pay-on-delivery order delivered by `rider` books: the cash in the rider's pocket."""
    async with unit_of_work(pool) as uow:
        uow.journal.add(
            [
                JournalEntry(
                    Event.CASH_AT_DOOR,
                    (Line(Book.RIDER_CASH, rider, fen, "cash"), Line(Book.HELD, "", -fen, "cash")),
                    rider,
                    uow.now(),
                    order_id=f"order-{uuid.uuid4().hex[:6]}",
                    rider=rider,
                )
            ]
        )


async def hand_in(pool: asyncpg.Pool, rider: str, fen: int, desk: str | None) -> str:
    async with unit_of_work(pool) as uow:
        entry = await settlement.hand_in(uow, OPERATOR, rider, fen, desk, "counted with the rider")
    return str(entry.id)


async def test_a_riders_hand_in_at_the_desk_is_in_its_days_expected_cash_and_its_close(
    client: httpx.AsyncClient, orders_pool: asyncpg.Pool
) -> None:
    await rider_took_at_doors(orders_pool, "r1", 90_00)
    topped = await client.post(
        "/desks/centre-1/top-ups",
        json={"resident": "grandma", "amount_fen": 100_00},
        headers={**OPS, "Idempotency-Key": "t1"},
    )
    assert topped.status_code == 201, topped.text
    here = await hand_in(orders_pool, "r1", 50_00, "centre-1")
    await hand_in(orders_pool, "r1", 10_00, "centre-2")  # another desk's drawer
    await hand_in(orders_pool, "r1", 5_00, None)  # banked: no drawer

    day = (await client.get("/desks/centre-1/day", headers=OPS)).json()
    assert [(h["entry_id"], h["rider"], h["amount_fen"], h["operator"]) for h in day["hand_ins"]] == [
        (here, "r1", 50_00, "ops-1")
    ]
    assert (day["top_up_fen"], day["hand_in_fen"], day["in_fen"], day["out_fen"]) == (100_00, 50_00, 150_00, 0)
    assert day["expected_fen"] == 200_00 + 100_00 + 50_00
    other = (await client.get("/desks/centre-2/day", headers=OPS)).json()
    assert (other["hand_in_fen"], other["expected_fen"]) == (10_00, 200_00 + 10_00)

    closed = await client.post(f"/desks/centre-1/days/{today()}/close", json={"counted_fen": 350_00}, headers=OPS)
    assert closed.status_code == 201, closed.text
    close = closed.json()["closed"]
    assert (close["in_fen"], close["expected_fen"], close["difference_fen"], close["transactions"]) == (
        150_00,
        350_00,
        0,
        2,
    )

    # Handed in after the close: tomorrow's cash, and the closed day is as it was closed.
    await rider_took_at_doors(orders_pool, "r1", 20_00)
    late = await hand_in(orders_pool, "r1", 20_00, "centre-1")
    again = (await client.get(f"/desks/centre-1/days/{today()}", headers=OPS)).json()
    assert ([h["entry_id"] for h in again["hand_ins"]], again["expected_fen"]) == ([here], 350_00)
    tomorrow = (await client.get("/desks/centre-1/day", headers=OPS)).json()
    assert tomorrow["business_day"] == (today() + timedelta(days=1)).isoformat()
    assert ([h["entry_id"] for h in tomorrow["hand_ins"]], tomorrow["expected_fen"]) == ([late], 200_00 + 20_00)
    async with unit_of_work(orders_pool, readonly=True) as uow:
        assert await uow.journal.balance(Book.DESK_CASH, ["centre-1"]) == 100_00 + 50_00 + 20_00
