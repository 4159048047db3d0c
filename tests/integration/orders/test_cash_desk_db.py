"""The service centre's cash desk over HTTP on real PostgreSQL: top-ups and refunds through the resident's
ledger with numbered receipts, the day's report, and the day's close with its difference kept."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.orders.domain.ledger import Kind
from services.orders.entrypoints import cash_desk_http
from services.orders.entrypoints.http import router
from services.orders.service_layer import residents
from shared.auth import Principal, issue_token
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import SETTINGS, unit_of_work

OPS = {"Authorization": f"Bearer {issue_token(SETTINGS, Role.ADMIN, 'ops-1')}"}
HELPER_LI = Principal("helper-li", Role.HELPER)


def as_(role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject)}"}


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
        yield c


@pytest.fixture
async def desk(client: httpx.AsyncClient) -> str:
    answer = await client.put(
        "/desks/centre-1",
        json={"name_zh": "文昌巷服务中心", "name_en": "Wenchang centre", "float_fen": 200_00},
        headers=OPS,
    )
    assert answer.status_code == 200, answer.text
    return "centre-1"


async def cash(
    client: httpx.AsyncClient,
    desk: str,
    what: str,
    resident: str,
    fen: int,
    headers: dict[str, str] = OPS,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"/desks/{desk}/{what}",
        json={"resident": resident, "amount_fen": fen},
        headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def balance(client: httpx.AsyncClient, holder: str) -> dict[str, Any]:
    answer = await client.get("/balance", params={"resident": holder}, headers=OPS)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_a_top_up_and_a_refund_move_the_balance_on_its_ledger_with_numbered_receipts(
    client: httpx.AsyncClient, desk: str, orders_pool: asyncpg.Pool
) -> None:
    topped = await cash(client, desk, "top-ups", "grandma", 100_00)
    assert topped.status_code == 201, topped.text
    receipt = topped.json()
    assert (receipt["code"], receipt["number"], receipt["movement"]) == ("centre-1-000001", 1, "top_up")
    assert (receipt["resident"], receipt["amount_fen"], receipt["balance_after_fen"]) == ("grandma", 100_00, 100_00)
    assert (receipt["operator"], receipt["business_day"]) == ("ops-1", today().isoformat())

    refunded = (await cash(client, desk, "refunds", "grandma", 30_50)).json()
    assert (refunded["code"], refunded["cash_fen"], refunded["balance_after_fen"]) == ("centre-1-000002", -30_50, 69_50)

    money = await balance(client, "grandma")
    assert money["balance_fen"] == 69_50
    entries = {e["id"]: e for e in money["entries"]}
    assert (entries[receipt["entry_id"]]["kind"], entries[receipt["entry_id"]]["amount_fen"]) == (Kind.TOP_UP, 100_00)
    assert (entries[refunded["entry_id"]]["kind"], entries[refunded["entry_id"]]["amount_fen"]) == (Kind.REFUND, -30_50)
    assert "desk centre-1" in entries[refunded["entry_id"]]["note"]

    again = await client.get(f"/desks/{desk}/receipts/2", headers=OPS)
    assert again.json() == refunded
    # Receipts are numbered per desk, from 1.
    await client.put("/desks/centre-2", json={"name_zh": "二号台", "name_en": "Desk 2"}, headers=OPS)
    assert (await cash(client, "centre-2", "top-ups", "grandma", 1)).json()["code"] == "centre-2-000001"
    rows = await orders_pool.fetch("SELECT number FROM cash_desk_receipts WHERE desk_id = 'centre-1' ORDER BY number")
    assert [r["number"] for r in rows] == [1, 2]
    # The ledger names the desk where the cash changed hands (settlement books it to that desk's cash).
    desks = await orders_pool.fetch("SELECT desk FROM ledger_entries WHERE holder = 'grandma' ORDER BY id")
    assert [r["desk"] for r in desks] == ["centre-1", "centre-1", "centre-2"]


async def test_a_retried_top_up_prints_one_receipt_and_moves_the_balance_once(
    client: httpx.AsyncClient, desk: str
) -> None:
    first = await cash(client, desk, "top-ups", "grandma", 50_00, key="k-1")
    second = await cash(client, desk, "top-ups", "grandma", 50_00, key="k-1")
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()
    assert (await balance(client, "grandma"))["balance_fen"] == 50_00
    missing = await client.post(f"/desks/{desk}/top-ups", json={"resident": "grandma", "amount_fen": 1}, headers=OPS)
    assert missing.status_code in (400, 422), missing.text


async def test_a_refund_beyond_the_balance_is_refused_with_the_balance_and_nothing_moves(
    client: httpx.AsyncClient, desk: str
) -> None:
    await cash(client, desk, "top-ups", "grandma", 20_00)
    refused = await cash(client, desk, "refunds", "grandma", 20_01)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "the balance of grandma is ¥20.00; a refund of ¥20.01 cannot exceed it"
    assert refused.json()["balance_fen"] == 20_00
    assert (await balance(client, "grandma"))["balance_fen"] == 20_00
    # The refused refund took no number: the next receipt is the second.
    assert (await cash(client, desk, "refunds", "grandma", 20_00)).json()["code"] == "centre-1-000002"
    for bad in (0, -100):
        assert (await cash(client, desk, "refunds", "grandma", bad)).status_code == 422
    assert (await cash(client, "nowhere", "top-ups", "grandma", 1)).status_code == 404


async def test_residents_never_reach_the_desk_and_helpers_only_for_their_residents(
    client: httpx.AsyncClient, desk: str, orders_pool: asyncpg.Pool
) -> None:
    async with unit_of_work(orders_pool) as uow:
        zhou = (await residents.register(uow, HELPER_LI, {"name": "Zhou Ayi"})).resident_id
    grandma = as_(Role.SHOPPER, "grandma")
    assert (await cash(client, desk, "top-ups", "grandma", 100, headers=grandma)).status_code == 403
    assert (await client.get("/desks", headers=grandma)).status_code == 403
    assert (await client.get(f"/desks/{desk}/day", headers=grandma)).status_code == 403
    rider = as_(Role.RIDER, "rider-1")
    assert (await cash(client, desk, "refunds", "grandma", 100, headers=rider)).status_code == 403

    li = as_(Role.HELPER, "helper-li")
    topped = await cash(client, desk, "top-ups", zhou, 80_00, headers=li)
    assert topped.status_code == 201, topped.text
    assert topped.json()["operator"] == "helper-li"
    stranger = await cash(client, desk, "top-ups", "grandma", 100, headers=li)
    assert stranger.status_code == 403
    assert "not one" in stranger.json()["detail"]
    wang = as_(Role.HELPER, "helper-wang")
    assert (await cash(client, desk, "refunds", zhou, 100, headers=wang)).status_code == 403
    # A helper reprints their own receipts, but reads no desk's day, closes none, sets up no desk.
    assert (await client.get(f"/desks/{desk}/receipts/1", headers=li)).status_code == 200
    assert (await client.get(f"/desks/{desk}/receipts/1", headers=wang)).status_code == 404
    assert (await client.get(f"/desks/{desk}/day", headers=li)).status_code == 403
    close = await client.post(f"/desks/{desk}/days/{today()}/close", json={"counted_fen": 0}, headers=li)
    assert close.status_code == 403
    assert (await client.put("/desks/x", json={"name_zh": "x", "name_en": "x"}, headers=li)).status_code == 403


async def test_the_days_report_lists_every_transaction_with_totals_and_the_expected_cash(
    client: httpx.AsyncClient, desk: str
) -> None:
    for what, fen in (("top-ups", 100_00), ("top-ups", 55_50), ("refunds", 20_00)):
        assert (await cash(client, desk, what, "grandma", fen)).status_code == 201
    await cash(client, desk, "top-ups", "grandpa", 10_00)
    day = (await client.get(f"/desks/{desk}/day", headers=OPS)).json()
    assert day["business_day"] == today().isoformat()
    assert [(r["number"], r["resident"], r["cash_fen"]) for r in day["receipts"]] == [
        (1, "grandma", 100_00),
        (2, "grandma", 55_50),
        (3, "grandma", -20_00),
        (4, "grandpa", 10_00),
    ]
    assert (day["float_fen"], day["in_fen"], day["out_fen"]) == (200_00, 165_50, 20_00)
    assert day["expected_fen"] == 200_00 + 165_50 - 20_00
    assert day["closed"] is None
    same = (await client.get(f"/desks/{desk}/days/{today()}", headers=OPS)).json()
    assert same == day
    yesterday = (await client.get(f"/desks/{desk}/days/{today() - timedelta(days=1)}", headers=OPS)).json()
    assert (yesterday["receipts"], yesterday["expected_fen"]) == ([], 200_00)


async def test_closing_the_day_keeps_the_difference_refuses_a_second_close_and_sends_later_cash_to_the_next_day(
    client: httpx.AsyncClient, desk: str, orders_pool: asyncpg.Pool
) -> None:
    await cash(client, desk, "top-ups", "grandma", 100_00)
    await cash(client, desk, "refunds", "grandma", 10_00)
    url = f"/desks/{desk}/days/{today()}/close"
    closed = await client.post(url, json={"counted_fen": 289_00, "note": "one yuan short"}, headers=OPS)
    assert closed.status_code == 201, closed.text
    close = closed.json()["closed"]
    assert (close["expected_fen"], close["counted_fen"], close["difference_fen"]) == (290_00, 289_00, -1_00)
    assert (close["transactions"], close["closed_by"], close["note"]) == (2, "ops-1", "one yuan short")
    kept = await orders_pool.fetchrow("SELECT difference_fen FROM cash_desk_day_closes WHERE desk_id = $1", desk)
    assert kept["difference_fen"] == -1_00

    twice = await client.post(url, json={"counted_fen": 290_00}, headers=OPS)
    assert twice.status_code == 409
    assert "already closed by ops-1" in twice.json()["detail"]
    assert "a closed day never changes" in twice.json()["detail"]

    late = (await cash(client, desk, "top-ups", "grandma", 5_00)).json()
    tomorrow = today() + timedelta(days=1)
    assert (late["business_day"], late["number"]) == (tomorrow.isoformat(), 3)
    report = (await client.get(f"/desks/{desk}/days/{today()}", headers=OPS)).json()
    assert [r["number"] for r in report["receipts"]] == [1, 2]
    assert report["closed"]["difference_fen"] == -1_00
    next_day = (await client.get(f"/desks/{desk}/day", headers=OPS)).json()
    assert (next_day["business_day"], [r["number"] for r in next_day["receipts"]]) == (tomorrow.isoformat(), [3])
    assert next_day["expected_fen"] == 200_00 + 5_00
    # Tomorrow has not begun: it cannot be closed yet.
    early = await client.post(f"/desks/{desk}/days/{tomorrow}/close", json={"counted_fen": 205_00}, headers=OPS)
    assert early.status_code == 422
    assert "has not begun" in early.json()["detail"]


async def test_top_ups_at_once_at_one_desk_take_every_number_once_and_all_reach_the_balance(
    client: httpx.AsyncClient, desk: str
) -> None:
    answers = await asyncio.gather(*(cash(client, desk, "top-ups", f"resident-{n % 3}", 1_00 + n) for n in range(8)))
    assert [a.status_code for a in answers] == [201] * 8
    assert sorted(a.json()["number"] for a in answers) == list(range(1, 9))
    for holder in range(3):
        expected = sum(1_00 + n for n in range(8) if n % 3 == holder)
        assert (await balance(client, f"resident-{holder}"))["balance_fen"] == expected
    day = (await client.get(f"/desks/{desk}/day", headers=OPS)).json()
    assert day["in_fen"] == sum(1_00 + n for n in range(8))
