"""Dispatch's code routes resist guessing, over HTTP against real PostgreSQL: five wrong codes for an
order lock its code for fifteen minutes (429 with Retry-After, the right code included), the board
gets an alert and orders a CodeLockedOut for the timeline, the lockout ends on the clock, a right
code resets the count, the count survives a restart, and a subject is limited across orders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.dispatch.entrypoints.app import SPEC
from services.dispatch.service_layer import assigning, codes, delivering, intake, lockers
from shared.auth import issue_token
from shared.events.contracts import HandoverCodeLockedOut
from shared.service import build_app
from shared.settings import Settings
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.roles import Role
from tests.integration.dispatch.conftest import SETTINGS, Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, packed, placed
from tests.runtime import runtime_for

LOCKOUT_S = 15 * 60


@dataclass
class Served:
    d: Dispatch
    http: httpx.AsyncClient
    settings: Settings

    def as_(self, role: Role, subject: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {issue_token(self.settings, role, subject)}"}

    async def pick_up(self, order_id: str, code: str, rider: str = "r1") -> httpx.Response:
        return await self.http.post(
            f"/deliveries/{order_id}/picked-up", json={"code": code}, headers=self.as_(Role.RIDER, rider)
        )

    async def deliver(self, order_id: str, code: str, rider: str = "r1") -> httpx.Response:
        return await self.http.post(
            f"/deliveries/{order_id}/delivered", json={"code": code}, headers=self.as_(Role.RIDER, rider)
        )

    async def alerts(self) -> list[dict[str, Any]]:
        answer = await self.http.get("/alerts", headers=self.as_(Role.DISPATCHER, "d1"))
        assert answer.status_code == 200, answer.text
        return list(answer.json())

    async def lockouts(self, order_id: str) -> list[dict[str, Any]]:
        return [p for t, p in await self.d.events(order_id) if t == "CodeLockedOut"]


def serve(d: Dispatch, settings: Settings) -> httpx.AsyncClient:
    """Dispatch's app in process on the test's database, Redis and clock (a fresh runtime: a restart)."""
    app = build_app(SPEC, settings)
    app.state.runtime = runtime_for(SPEC, settings, d.pool, d.redis, d.clock)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dispatch")


@pytest.fixture
async def served(dispatch: Dispatch) -> AsyncIterator[Served]:
    async with serve(dispatch, SETTINGS) as http:
        yield Served(dispatch, http, SETTINGS)


async def at_the_shop(d: Dispatch, order_id: str, rider: str = "r1", **kw: Any) -> None:
    """A packed order whose rider (given it by hand) stands at the counter; its handover code is 4321."""
    await d.rider(rider, SHOP[0] + 0.001, SHOP[1])
    await d.run(lambda uow: intake.on_order_placed(uow, placed(order_id, **kw)))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted(order_id)))
    await d.run(lambda uow: assigning.assign_by_hand(uow, order_id, rider, "dispatcher-1"))
    await d.run(lambda uow: intake.on_order_packed(uow, packed(order_id)))
    await d.run(lambda uow: delivering.at_shop(uow, order_id, rider))


async def at_the_door(d: Dispatch, order_id: str, rider: str = "r1") -> None:
    """Picked up and at the door; the shopper's delivery code is 123456."""
    await at_the_shop(d, order_id, rider)
    await d.run(lambda uow: delivering.picked_up(uow, order_id, rider, "4321"))
    await d.run(lambda uow: delivering.at_door(uow, order_id, rider))


def assert_locked(answer: httpx.Response, retry_after_s: int) -> None:
    assert answer.status_code == 429, answer.text
    assert int(answer.headers["Retry-After"]) == retry_after_s
    assert answer.json()["retry_after_s"] == retry_after_s
    assert "retry_at" in answer.json()


async def test_five_wrong_handover_codes_lock_the_pickup_for_fifteen_minutes(served: Served) -> None:
    s = served
    await at_the_shop(s.d, "o1")
    for left in (4, 3, 2, 1):
        wrong = await s.pick_up("o1", "0000")
        assert wrong.status_code == 422, wrong.text
        assert wrong.json()["tries_left"] == left
    fifth = await s.pick_up("o1", "0000")
    assert fifth.status_code == 422
    assert fifth.json()["tries_left"] == 0
    assert "locked_until" in fifth.json()

    s.d.clock.advance(60)
    assert_locked(await s.pick_up("o1", "4321"), LOCKOUT_S - 60)  # the right code too
    assert (await s.d.delivery("o1"))["status"] == "at_shop"
    [lockout] = await s.lockouts("o1")
    assert (lockout["code"], lockout["by"], lockout["wrong_tries"]) == ("handover", "r1", 5)
    [alert] = [a for a in await s.alerts() if a["kind"] == "code_locked"]
    assert alert["order_id"] == "o1"
    assert "5 wrong handover codes" in alert["message"]

    s.d.clock.advance(LOCKOUT_S - 60)
    picked = await s.pick_up("o1", "4321")
    assert picked.status_code == 200, picked.text
    assert (await s.d.delivery("o1"))["status"] == "picked_up"


async def test_five_wrong_delivery_codes_lock_the_door_and_the_lockout_ends(served: Served) -> None:
    s = served
    await at_the_door(s.d, "o1")
    for _ in range(5):
        assert (await s.deliver("o1", "999999")).status_code == 422
    assert_locked(await s.deliver("o1", "123456"), LOCKOUT_S)
    assert_locked(await s.deliver("o1", "999999"), LOCKOUT_S)  # a refused try does not lengthen it
    assert [p["code"] for p in await s.lockouts("o1")] == ["delivery"]
    assert (await s.d.delivery("o1"))["status"] == "at_door"

    s.d.clock.advance(LOCKOUT_S)
    done = await s.deliver("o1", "123456")
    assert done.status_code == 200, done.text
    assert (await s.d.delivery("o1"))["status"] == "delivered"


async def test_a_right_code_resets_the_count(served: Served) -> None:
    s = served
    await at_the_shop(s.d, "o1")
    for _ in range(4):
        assert (await s.pick_up("o1", "0000")).status_code == 422
    assert (await s.pick_up("o1", "4321")).status_code == 200
    await s.d.run(lambda uow: delivering.at_door(uow, "o1", "r1"))
    for left in (4, 3, 2, 1):  # the door's code counts on its own
        assert (await s.deliver("o1", "999999")).json()["tries_left"] == left
    assert (await s.deliver("o1", "123456")).status_code == 200
    assert await s.d.pool.fetchval("SELECT count(*) FROM code_tries") == 0
    assert await s.lockouts("o1") == []


async def test_the_count_survives_a_restart(served: Served) -> None:
    s = served
    await at_the_shop(s.d, "o1")
    for _ in range(3):
        assert (await s.pick_up("o1", "0000")).status_code == 422
    async with serve(s.d, SETTINGS) as restarted:
        again = Served(s.d, restarted, SETTINGS)
        assert (await again.pick_up("o1", "0000")).json()["tries_left"] == 1
        assert (await again.pick_up("o1", "0000")).json()["tries_left"] == 0
        assert_locked(await again.pick_up("o1", "4321"), LOCKOUT_S)


async def test_a_retried_wrong_code_is_answered_again_and_counted_once(served: Served) -> None:
    s = served
    await at_the_shop(s.d, "o1")
    headers = {**s.as_(Role.RIDER, "r1"), "Idempotency-Key": "try-1"}
    first = await s.http.post("/deliveries/o1/picked-up", json={"code": "0000"}, headers=headers)
    retry = await s.http.post("/deliveries/o1/picked-up", json={"code": "0000"}, headers=headers)
    assert first.status_code == retry.status_code == 422
    assert retry.json() == first.json()
    assert (await s.pick_up("o1", "0000")).json()["tries_left"] == 3, "the retry was not a second try"


async def test_a_subject_is_limited_on_all_code_routes_together(dispatch: Dispatch) -> None:
    settings = SETTINGS.model_copy(update={"code_tries_per_subject_per_min": 3})
    async with serve(dispatch, settings) as http:
        s = Served(dispatch, http, settings)
        await at_the_shop(s.d, "o1")
        await at_the_door(s.d, "o2")  # its pickup was a code try too
        s.d.clock.advance(60)  # a minute of its own
        assert (await s.pick_up("o1", "0000")).status_code == 422
        assert (await s.deliver("o2", "999999")).status_code == 422
        assert (await s.pick_up("o1", "0000")).status_code == 422
        s.d.clock.current = s.d.clock.current.replace(second=30)
        refused = await s.deliver("o2", "123456")
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "30"
        s.d.clock.advance(30)
        assert (await s.deliver("o2", "123456")).status_code == 200, "a new minute"


async def test_five_wrong_locker_codes_lock_the_asker_out_of_the_site(served: Served) -> None:
    s, d = served, served.d
    await d.run(lambda uow: lockers.put_site(uow, "site-1", "Lane 5 lockers", 32.046, 118.794, [("A1", "M")]))
    await at_the_shop(d, "o1", mode=FulfilmentMode.LOCKER, site="site-1", by="shopper-1")
    await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321"))
    await d.run(lambda uow: delivering.locker_deposit(uow, "o1", "r1"))
    code = next(p for t, p in await d.events("o1") if t == "LockerDeposited")["code"]
    wrong = "000000" if code != "000000" else "111111"
    shopper = s.as_(Role.SHOPPER, "shopper-1")

    async def open_with(c: str) -> httpx.Response:
        return await s.http.post("/lockers/site-1/open", json={"code": c}, headers=shopper)

    for left in (4, 3, 2, 1, 0):
        answer = await open_with(wrong)
        assert answer.status_code == 422, answer.text
        assert answer.json()["tries_left"] == left
    assert_locked(await open_with(code), LOCKOUT_S)
    [lockout] = await s.lockouts("o1")
    assert (lockout["code"], lockout["by"]) == ("locker", "shopper-1")
    assert any(a["kind"] == "code_locked" and a["order_id"] == "o1" for a in await s.alerts())

    d.clock.advance(LOCKOUT_S)
    opened = await open_with(code)
    assert opened.status_code == 200, opened.text
    assert await d.pool.fetchval("SELECT count(*) FROM code_tries WHERE kind = 'locker'") == 0, "reset"


async def test_a_lockout_at_the_counter_is_an_alert_on_the_board(served: Served) -> None:
    s = served
    await at_the_shop(s.d, "o1")
    until = s.d.clock.now().replace(minute=15)
    locked = HandoverCodeLockedOut(order_id="o1", store_id="shop", by="store_staff:k", wrong_tries=5, until=until)
    await s.d.run(lambda uow: codes.on_counter_code_locked_out(uow, locked))
    [alert] = [a for a in await s.alerts() if a["kind"] == "code_locked"]
    assert alert["order_id"] == "o1"
    assert "at the counter of shop" in alert["message"]
