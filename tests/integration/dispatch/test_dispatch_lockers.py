"""Lockers against real PostgreSQL: compartments booked under concurrency, deposit, open, expiry."""

from __future__ import annotations

import asyncio

import pytest

from services.dispatch.service_layer import assigning, delivering, intake, lockers
from shared.errors import Conflict, Forbidden, WrongCode
from shared.vocabulary.fulfilment import FulfilmentMode
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, due, packed, placed


async def site(d: Dispatch, compartments: list[tuple[str, str]]) -> None:
    await d.run(lambda uow: lockers.put_site(uow, "site-1", "Lane 5 lockers", 32.046, 118.794, compartments))


async def locker_order(d: Dispatch, order_id: str) -> None:
    await d.run(lambda uow: intake.on_order_placed(uow, placed(order_id, mode=FulfilmentMode.LOCKER, site="site-1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted(order_id)))


async def test_concurrent_assignments_never_double_book_a_compartment(dispatch: Dispatch) -> None:
    d = dispatch
    await site(d, [("A1", "M"), ("A2", "L")])
    orders = [f"o{i}" for i in range(8)]
    for i, order_id in enumerate(orders):
        await locker_order(d, order_id)
        await d.rider(f"r{i}", SHOP[0], SHOP[1])

    async def assign(i: int) -> str | None:
        try:
            await d.run(lambda uow: assigning.assign_by_hand(uow, orders[i], f"r{i}", "dispatcher-1"))
        except Conflict as e:
            refusals.append(e.message)
            return None
        return orders[i]

    refusals: list[str] = []
    won = [o for o in await asyncio.gather(*(assign(i) for i in range(len(orders)))) if o]
    assert len(won) == 2
    assert all("no free compartment" in r for r in refusals)
    assert len(refusals) == len(orders) - 2
    rows = await d.pool.fetch("SELECT id, order_id, state FROM locker_compartments ORDER BY id")
    assert {r["order_id"] for r in rows} == set(won)
    assert {r["state"] for r in rows} == {"reserved"}
    reserved = [p for t, p in await d.events() if t == "LockerReserved"]
    assert sorted(p["compartment_id"] for p in reserved) == ["A1", "A2"]
    listed = await d.run(lockers.sites)
    assert listed[0].free == {"S": 0, "M": 0, "L": 0}
    losers = [o for o in orders if o not in won]
    assert {(await d.delivery(o))["status"] for o in losers} == {"open"}  # rolled back, still needs a rider


async def assigned_locker_order(d: Dispatch, order_id: str) -> None:
    """A locker order that rider r1 (at the shop) was given by hand: a compartment is reserved for it."""
    await d.rider("r1", SHOP[0], SHOP[1])
    await locker_order(d, order_id)
    await d.run(lambda uow: assigning.assign_by_hand(uow, order_id, "r1", "dispatcher-1"))


async def carried_to_locker(d: Dispatch, order_id: str) -> str:
    await assigned_locker_order(d, order_id)
    await d.run(lambda uow: intake.on_order_packed(uow, packed(order_id)))
    await d.run(lambda uow: delivering.at_shop(uow, order_id, "r1"))
    await d.run(lambda uow: delivering.picked_up(uow, order_id, "r1", "4321"))
    with pytest.raises(Conflict, match="locker-deposit"):
        await d.run(lambda uow: delivering.at_door(uow, order_id, "r1"))
    await d.run(lambda uow: delivering.locker_deposit(uow, order_id, "r1"))
    deposited = next(p for t, p in await d.events(order_id) if t == "LockerDeposited")
    assert len(deposited["code"]) == 6
    return str(deposited["code"])


async def test_deposit_then_the_orderer_opens_it(dispatch: Dispatch) -> None:
    d = dispatch
    await site(d, [("A1", "S"), ("B1", "M")])
    code = await carried_to_locker(d, "o1")
    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(WrongCode):
        await d.run(lambda uow: lockers.open_compartment(uow, "site-1", wrong, "shopper-1", False))
    with pytest.raises(Forbidden):
        await d.run(lambda uow: lockers.open_compartment(uow, "site-1", code, "someone-else", False))
    await d.run(lambda uow: lockers.open_compartment(uow, "site-1", code, "shopper-1", False))
    assert (await d.types("o1"))[-1] == "LockerCollected"
    assert (await d.delivery("o1"))["status"] == "collected"
    assert {r["state"] for r in await d.pool.fetch("SELECT state FROM locker_compartments")} == {"free"}
    assert await d.pool.fetchval("SELECT cancelled_at IS NOT NULL FROM deadlines WHERE kind = 'locker_collect'")


async def test_uncollected_expires_and_frees_the_compartment(dispatch: Dispatch) -> None:
    d = dispatch
    await site(d, [("A1", "S")])
    await carried_to_locker(d, "o1")
    await d.run(lambda uow: lockers.on_collect_deadline(uow, due(lockers.COLLECT, "o1")))
    expired = next(p for t, p in await d.events("o1") if t == "LockerExpired")
    assert expired["compartment_id"] == "A1"
    assert await d.pool.fetchval("SELECT state FROM locker_compartments") == "free"


async def test_a_cancelled_locker_order_frees_its_compartment(dispatch: Dispatch) -> None:
    d = dispatch
    await site(d, [("A1", "S")])
    await assigned_locker_order(d, "o1")
    assert await d.pool.fetchval("SELECT state FROM locker_compartments") == "reserved"
    await d.run(lambda uow: intake.drop(uow, "o1", "order cancelled (cancelled)"))
    assert await d.pool.fetchval("SELECT state FROM locker_compartments") == "free"


async def test_compartments_in_use_cannot_be_removed(dispatch: Dispatch) -> None:
    d = dispatch
    await site(d, [("A1", "S")])
    await assigned_locker_order(d, "o1")
    with pytest.raises(Conflict, match="in use"):
        await site(d, [("B1", "L")])
