"""Dispatch's side of the circle, against real PostgreSQL and Redis: locker sites and promise quotes
go out through the outbox with the change that caused them; ratings reach the rider; cash at the door."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest

from services.dispatch.domain.riders import RiderState
from services.dispatch.service_layer import assigning, delivering, intake, lockers, riders
from services.dispatch.service_layer.quoting import MAX_PER_ROUND
from shared.errors import Conflict, Invalid
from shared.events.contracts import DeliverySlot, OrderPacked, OrderRated
from shared.vocabulary.fulfilment import FulfilmentMode
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import (
    SHOP,
    accepted,
    me_json,
    offers_json,
    packed,
    placed,
    rider_view,
    roster_json,
)


async def published(d: Dispatch, event_type: str) -> list[dict[str, Any]]:
    return [p for t, p in await d.events() if t == event_type]


async def open_locker_order(d: Dispatch, order_id: str, rider_id: str) -> None:
    await d.rider(rider_id, SHOP[0], SHOP[1])
    await d.run(lambda uow: intake.on_order_placed(uow, placed(order_id, mode=FulfilmentMode.LOCKER, site="site-1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted(order_id)))


async def put_site(d: Dispatch, site_id: str, compartments: list[tuple[str, str]]) -> None:
    await d.run(lambda uow: lockers.put_site(uow, site_id, site_id, 32.046, 118.794, compartments))


async def rate(d: Dispatch, event: OrderRated) -> None:
    await d.run(lambda uow: intake.on_order_rated(uow, event))


async def site_updates(d: Dispatch, site_id: str = "site-1") -> list[dict[str, int]]:
    return [p["free"] for p in await published(d, "LockerSiteUpdated") if p["site_id"] == site_id]


async def test_every_change_to_a_locker_site_tells_the_circle_its_free_compartments(dispatch: Dispatch) -> None:
    d = dispatch
    await d.run(
        lambda uow: lockers.put_site(
            uow, "site-1", "Lane 5 lockers", 32.046, 118.794, [("A1", "S"), ("A2", "S"), ("B1", "M")]
        )
    )
    assert await site_updates(d) == [{"S": 2, "M": 1, "L": 0}]

    await d.rider("r1", SHOP[0], SHOP[1])
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1", mode=FulfilmentMode.LOCKER, site="site-1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "r1", "dispatcher-1"))
    assert (await site_updates(d))[-1] == {"S": 1, "M": 1, "L": 0}  # reserved

    await d.run(lambda uow: intake.on_order_packed(uow, packed("o1")))
    await d.run(lambda uow: delivering.at_shop(uow, "o1", "r1"))
    await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321"))
    before = len(await site_updates(d))
    await d.run(lambda uow: delivering.locker_deposit(uow, "o1", "r1"))
    after_deposit = await site_updates(d)
    assert len(after_deposit) == before + 1
    assert after_deposit[-1] == {"S": 1, "M": 1, "L": 0}

    code = next(p for t, p in await d.events("o1") if t == "LockerDeposited")["code"]
    await d.run(lambda uow: lockers.open_compartment(uow, "site-1", code, "shopper-1", False))
    assert (await site_updates(d))[-1] == {"S": 2, "M": 1, "L": 0}  # collected: free again

    # Each update is recorded with the change it describes: in the outbox, keyed by the site.
    row = await d.pool.fetchrow(
        "SELECT topic, key FROM outbox WHERE event_type = 'LockerSiteUpdated' ORDER BY id DESC LIMIT 1"
    )
    assert (row["topic"], row["key"]) == ("linli.circle", "locker:site-1")


async def test_a_refused_reservation_publishes_nothing(dispatch: Dispatch) -> None:
    d = dispatch
    await d.run(lambda uow: lockers.put_site(uow, "site-1", "Lane 5 lockers", 32.046, 118.794, [("A1", "S")]))
    for order_id, rider_id in (("o1", "r1"), ("o2", "r2")):
        await open_locker_order(d, order_id, rider_id)
    await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "r1", "dispatcher-1"))
    with pytest.raises(Conflict, match="no free compartment"):
        await d.run(lambda uow: assigning.assign_by_hand(uow, "o2", "r2", "dispatcher-1"))
    assert await site_updates(d) == [{"S": 1, "M": 0, "L": 0}, {"S": 0, "M": 0, "L": 0}]
    await d.run(lambda uow: intake.drop(uow, "o1", "order cancelled (cancelled)"))
    assert (await site_updates(d))[-1] == {"S": 1, "M": 0, "L": 0}  # released


async def test_concurrent_reservations_end_with_the_true_count(dispatch: Dispatch) -> None:
    d = dispatch
    await d.run(
        lambda uow: lockers.put_site(
            uow, "site-1", "Lane 5 lockers", 32.046, 118.794, [("A1", "M"), ("A2", "M"), ("A3", "L")]
        )
    )
    for i in range(6):
        await open_locker_order(d, f"o{i}", f"r{i}")

    async def assign(i: int) -> None:
        with contextlib.suppress(Conflict):
            await d.run(lambda uow: assigning.assign_by_hand(uow, f"o{i}", f"r{i}", "dispatcher-1"))

    await asyncio.gather(*(assign(i) for i in range(6)))
    updates = await site_updates(d)
    assert updates[-1] == {"S": 0, "M": 0, "L": 0}
    assert updates[1:] == [{"S": 0, "M": 1, "L": 1}, {"S": 0, "M": 0, "L": 1}, {"S": 0, "M": 0, "L": 0}]


async def test_at_start_up_every_site_is_announced(dispatch: Dispatch) -> None:
    d = dispatch
    for site_id in ("site-1", "site-2"):
        await put_site(d, site_id, [("A1", "L")])
    await d.pool.execute("DELETE FROM outbox")
    assert await d.run(lockers.announce_all) == 2
    assert {p["site_id"]: p["free"]["L"] for p in await published(d, "LockerSiteUpdated")} == {"site-1": 1, "site-2": 1}


async def quotes(d: Dispatch) -> list[dict[str, Any]]:
    return [p for p in await published(d, "PromiseQuoted") if p["location_id"] == "shop"]


async def test_a_shops_promise_is_quoted_when_it_changes_and_only_then(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.005, SHOP[1])  # ~720 m along the streets: 3 minutes by e-bike
    counts = await d.run(assigning.run_round)
    [first] = await quotes(d)
    assert counts.quotes == 1
    assert first == {**first, "ready_minutes": 0, "rider_to_shop_minutes": 3, "riders_available": 1}

    d.clock.advance(30)
    await d.seen("near", SHOP[0] + 0.005, SHOP[1])
    await d.run(assigning.run_round)
    assert len(await quotes(d)) == 1  # nothing moved: nothing published

    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1")))  # the queue grows by one bag: 2 minutes
    await d.run(assigning.run_round)
    assert [q["ready_minutes"] for q in await quotes(d)] == [0, 2]

    await d.run(lambda uow: riders.set_state(uow, "near", RiderState.OFFLINE))
    await d.run(assigning.run_round)
    last = (await quotes(d))[-1]
    assert (last["riders_available"], last["rider_to_shop_minutes"]) == (0, None)

    d.clock.advance(599)
    await d.run(assigning.run_round)
    assert len(await quotes(d)) == 3
    d.clock.advance(1)
    await d.run(assigning.run_round)
    assert len(await quotes(d)) == 4  # at least every ten minutes, even unchanged


async def test_a_slot_order_is_promised_by_the_end_of_its_slot(dispatch: Dispatch) -> None:
    d = dispatch
    now = d.clock.now()
    slot = DeliverySlot(start=now + timedelta(hours=3), end=now + timedelta(hours=3, minutes=30))
    release = slot.start - timedelta(minutes=15)
    order = placed("o1").model_copy(update={"slot": slot, "release_at": release})
    await d.run(lambda uow: intake.on_order_placed(uow, order))
    promised = next(p for t, p in await d.events("o1") if t == "DeliveryPromised")
    assert promised["minutes"] == 210
    row = await d.delivery("o1")
    assert row["promised_at"] == slot.end
    assert row["ready_at"] == release
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o2")))
    assert await d.run(lambda uow: uow.deliveries.queued_many(["shop"], now)) == {"shop": 1}  # o1 not yet in the queue


async def test_ratings_make_the_riders_average(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("r1", SHOP[0], SHOP[1])
    for order_id, stars in (("o1", 5), ("o2", 4), ("o2", 1)):  # o2 delivered twice by the broker: counted once
        await rate(d, OrderRated(order_id=order_id, store_id="shop", rider_id="r1", rider_stars=stars, by="shopper-1"))
    await rate(d, OrderRated(order_id="o3", store_id="shop", shop_stars=2, by="shopper-1"))  # the shop only
    [row] = await d.run(roster_json)
    assert row["rating"] == {"stars": 4.5, "count": 2}
    me = await d.run(lambda uow: me_json(uow, "r1"))
    assert me["rating"] == {"stars": 4.5, "count": 2}


async def test_cash_on_delivery_is_due_at_the_door_and_must_be_entered(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("r1", SHOP[0] + 0.001, SHOP[1])
    order = placed("o1").model_copy(update={"payment": "on_delivery", "delivery_fee_fen": 300, "platform_fee_fen": 50})
    await d.run(lambda uow: intake.on_order_placed(uow, order))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    await d.run(assigning.run_round)
    [offer] = await d.run(lambda uow: offers_json(uow, "r1"))
    assert offer["pay_on_delivery"] is True
    assert offer["due_at_door_fen"] is None
    assert offer["pickup"]["kind"] == "counter"
    assert offer["shop"]["name_en"] == "Shop"
    assert offer["shop_to_door_m"] > 500
    assert offer["expires_at"]
    assert "customer" not in offer
    assert "3-201" not in repr(offer)
    assert "13800000000" not in repr(offer)
    await d.run(lambda uow: assigning.accept_offer(uow, "r1", offer["offer_id"]))

    heavier: OrderPacked = packed("o1").model_copy(update={"final_fen": 1230, "bags": 2, "weight_g": 4200})
    await d.run(lambda uow: intake.on_order_packed(uow, heavier))
    [mine] = (await d.run(lambda uow: me_json(uow, "r1")))["deliveries"]
    assert (mine["due_at_door_fen"], mine["bags"], mine["weight_g"]) == (1580, 2, 4200)
    await d.run(lambda uow: delivering.at_shop(uow, "o1", "r1"))
    view = rider_view(await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321")))
    assert view["customer"]["maps_url"].startswith(f"geo:{order.address.lat},{order.address.lon}?q=")  # type: ignore[union-attr]
    await d.run(lambda uow: delivering.at_door(uow, "o1", "r1"))
    with pytest.raises(Invalid, match=r"collect ¥15\.80 in cash and enter it"):
        await d.run(lambda uow: delivering.delivered(uow, "o1", "r1", "123456", None))
    done = await d.run(lambda uow: delivering.delivered(uow, "o1", "r1", "123456", 1500))
    assert done.cash_difference_fen == -80
    completed = next(p for t, p in await d.events("o1") if t == "DeliveryCompleted")
    assert completed["cash_collected_fen"] == 1500  # recorded as given
    alert = await d.pool.fetchrow("SELECT kind, message FROM alerts WHERE order_id = 'o1'")
    assert alert["kind"] == "cash_differs"
    assert "¥15.80 was due" in alert["message"]


async def test_thousands_of_shops_are_quoted_over_a_few_rounds_not_in_one(dispatch: Dispatch) -> None:
    d = dispatch
    await d.pool.executemany(
        "INSERT INTO shops (location_id, name_zh, name_en, lat, lon) VALUES ($1, $1, $1, $2, $3)",
        [(f"s{i:03d}", SHOP[0] + i * 1e-4, SHOP[1]) for i in range(MAX_PER_ROUND + 50)],
    )
    await d.rider("r1", SHOP[0], SHOP[1])
    first = (await d.run(assigning.run_round)).quotes
    second = (await d.run(assigning.run_round)).quotes
    assert (first, second) == (MAX_PER_ROUND, 51)  # 250 new shops and the fixture's shop
    assert (await d.run(assigning.run_round)).quotes == 0
