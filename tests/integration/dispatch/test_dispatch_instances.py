"""Two dispatch instances on one database: one rider simulator leads (the other waits and takes over
when the leader goes), and an assignment round never offers one order twice, however the rounds of
the two instances meet."""

from __future__ import annotations

import asyncio

from services.dispatch.adapters.leader import Leadership
from services.dispatch.entrypoints.app import DEMO_RIDERS, SIMULATOR_LEADER
from services.dispatch.service_layer import assigning, intake
from services.dispatch.simulator import RiderSimulator
from shared.vocabulary.geo import Point
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, placed
from tests.integration.dispatch.test_dispatch_simulator import seed_demo_riders


def simulator(d: Dispatch, database_url: str) -> RiderSimulator:
    riders = [(r.id, Point(lat, lon)) for r, lat, lon in DEMO_RIDERS]
    return RiderSimulator(d.unit_of_work, riders, leadership=Leadership(database_url, SIMULATOR_LEADER, retry_s=0))


async def test_exactly_one_rider_simulator_runs_and_another_takes_over(dispatch: Dispatch, database_url: str) -> None:
    d = dispatch
    await seed_demo_riders(d)
    first, second = simulator(d, database_url), simulator(d, database_url)
    try:
        for _ in range(3):
            await asyncio.gather(first.round(), second.round())
        leaders = [s for s in (first, second) if s.leadership and s.leadership.is_leader]
        assert len(leaders) == 1
        assert sorted((first.ticks, second.ticks)) == [0, 3]  # only the leader moved the riders
        leader, follower = (first, second) if first.ticks else (second, first)

        await leader.stop()  # the leading instance goes away: its lock with it
        await follower.round()
        assert follower.leadership is not None
        assert follower.leadership.is_leader
        assert follower.ticks == 1
    finally:
        await first.stop()
        await second.stop()


async def test_rounds_of_two_instances_never_offer_an_order_twice(dispatch: Dispatch) -> None:
    d = dispatch
    for order_id in ("o1", "o2", "o3"):
        await d.run(lambda uow, o=order_id: intake.on_order_placed(uow, placed(o)))
        await d.run(lambda uow, o=order_id: intake.on_order_accepted(uow, accepted(o)))
    d.clock.advance(300)  # every bag is ready: no offer waits for a later round
    for i in range(3):
        await d.rider(f"r{i}", SHOP[0] + 0.001 * (i + 1), SHOP[1])

    async with d.unit_of_work() as one:  # instance one's round, not yet committed ...
        first = await assigning.run_round(one)
        async with d.unit_of_work() as two:  # ... when instance two's round starts
            overlapping = await assigning.run_round(two)
    after = await d.run(assigning.run_round)  # and a round of either after it

    assert first.offers == 3
    assert overlapping.skipped == 1
    assert overlapping.offers == 0
    assert after.offers == 0  # each order has its pending offer: none is offered again
    per_order = await d.pool.fetch("SELECT order_id, count(*) AS n FROM offers GROUP BY order_id ORDER BY order_id")
    assert [(r["order_id"], r["n"]) for r in per_order] == [("o1", 1), ("o2", 1), ("o3", 1)]
