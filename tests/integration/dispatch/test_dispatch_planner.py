"""The planner in the round, against real PostgreSQL and Redis: shifts bound who is offered work
and end offers as they close, an order joins a trip accepted and not picked up as an addition,
and an order no rider on shift can carry raises one alert."""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.domain.riders import Shift
from services.dispatch.service_layer import assigning, intake, riders
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, packed, placed


async def open_order(d: Dispatch, order_id: str, *, pack: bool = False) -> None:
    await d.run(lambda uow: intake.on_order_placed(uow, placed(order_id)))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted(order_id)))
    if pack:
        await d.run(lambda uow: intake.on_order_packed(uow, packed(order_id)))


async def shifts(d: Dispatch, rider_id: str, start_s: float, end_s: float) -> None:
    now = d.clock.now()
    shift = Shift(now + timedelta(seconds=start_s), now + timedelta(seconds=end_s))
    await d.run(lambda uow: riders.put_shifts(uow, rider_id, [shift]))


async def pending(d: Dispatch, rider_id: str) -> list[dict[str, object]]:
    rows = await d.pool.fetch(
        "SELECT order_id, status, reason, adds_to FROM offers WHERE rider_id = $1 ORDER BY created_at", rider_id
    )
    return [dict(r) for r in rows]


async def test_a_rider_off_shift_is_not_offered_work_and_the_order_raises_an_alert(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("done", SHOP[0] + 0.001, SHOP[1])
    await shifts(d, "done", -3 * 3600, -3600)  # today's shift ended an hour ago
    await open_order(d, "o1")
    assert (await d.run(assigning.run_round)).offers == 0
    assert await pending(d, "done") == []
    alerts = await d.pool.fetch("SELECT kind, order_id FROM alerts WHERE kind = 'undeliverable'")
    assert [(a["kind"], a["order_id"]) for a in alerts] == [("undeliverable", "o1")]
    await d.run(assigning.run_round)
    assert await d.pool.fetchval("SELECT count(*) FROM alerts WHERE kind = 'undeliverable'") == 1  # once


async def test_an_offer_ends_as_its_riders_shift_closes(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("r1", SHOP[0], SHOP[1])
    await shifts(d, "r1", -3600, 20)  # 20 s left: the bag is packed and the rider is at the shop
    await open_order(d, "o1", pack=True)
    assert (await d.run(assigning.run_round)).offers == 1
    d.clock.advance(25)
    await d.seen("r1", SHOP[0], SHOP[1])
    await d.run(assigning.run_round)
    [offer] = await pending(d, "r1")
    assert (offer["status"], offer["reason"]) == ("withdrawn", "shift ended")


async def test_an_order_joins_a_trip_accepted_and_not_picked_up_as_an_addition(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("r1", SHOP[0] + 0.0005, SHOP[1])
    await open_order(d, "o1")
    await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "r1", "dispatcher-1"))
    await open_order(d, "o2", pack=True)  # packed, the same shop, the same door: on the way
    assert (await d.run(assigning.run_round)).offers == 1
    [offer] = await pending(d, "r1")
    assert offer["order_id"] == "o2"
    assert offer["adds_to"] == ["o1"]
    [seen] = await d.run(lambda uow: assigning.offers_for(uow, "r1"))
    assert seen.offer.adds_to == ("o1",)
    assert seen.offer.is_addition
