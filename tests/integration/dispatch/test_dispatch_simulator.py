"""The rider simulator delivers an order end to end, against real PostgreSQL and Redis, on a clock moved by hand."""

from __future__ import annotations

from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.entrypoints.app import DEMO_RIDERS
from services.dispatch.service_layer import assigning, intake
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from services.dispatch.simulator import RiderSimulator, towards
from shared.vocabulary.geo import Point, metres
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import DOOR, accepted, packed, placed

TICK_S = 5.0


def test_towards_moves_along_the_line_and_stops_at_the_target() -> None:
    a, b = Point(32.0440, 118.7900), Point(32.0470, 118.7950)
    step, arrived = towards(a, b, 100)
    assert not arrived
    assert abs(metres(a, step) - 100) < 1
    assert metres(step, b) < metres(a, b) - 99
    assert towards(step, b, 10_000) == (b, True)


async def seed_demo_riders(d: Dispatch) -> None:
    async def add(uow: DispatchUnitOfWork) -> None:
        for rider, _, _ in DEMO_RIDERS:
            await uow.riders.put(rider)

    await d.run(add)
    for rider, lat, lon in DEMO_RIDERS:
        await d.seen(rider.id, lat, lon)


async def test_a_demo_order_is_delivered_without_anyone_playing_the_rider(dispatch: Dispatch) -> None:
    d = dispatch
    await seed_demo_riders(d)
    sim = RiderSimulator(d.unit_of_work, [(r.id, Point(lat, lon)) for r, lat, lon in DEMO_RIDERS])
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1", pay_on_delivery=True)))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))

    seen: list[str] = []
    for _ in range(120):
        d.clock.advance(TICK_S)
        await d.run(assigning.run_round)
        await sim.tick(TICK_S)
        row = await d.delivery("o1")
        seen.append(row["status"])
        if row["status"] == "at_shop" and seen.count("at_shop") == 3:
            # The rider waited at the counter until now: the bag is packed only after they arrived.
            await d.run(lambda uow: intake.on_order_packed(uow, packed("o1")))
        if row["status"] == "delivered":
            break

    assert seen[-1] == "delivered", seen
    steps = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] != s]
    assert steps[-4:] == ["at_shop", "picked_up", "at_door", "delivered"]  # assigned may pass within a tick
    assert seen.count("at_shop") >= 3  # no pickup before the bag was packed
    types = [t for t in await d.types("o1") if t != "EtaUpdated"]
    assert types == [
        "DeliveryPromised",
        "RiderAssigned",
        "RiderAtShop",
        "DeliveryPickedUp",
        "RiderAtDoor",
        "DeliveryCompleted",
    ]
    events = dict(await d.events("o1"))
    rider = events["RiderAssigned"]["rider_id"]
    assert rider in {r.id for r, _, _ in DEMO_RIDERS}
    assert rider != "rider-zhao"
    assert events["DeliveryPickedUp"]["handover_code"] == "4321"
    assert events["DeliveryCompleted"]["cash_collected_fen"] == 200
    # The rider rode there: their last reported position is the door, sent through the location use case.
    pos = (await RiderPositions(d.redis).positions([rider]))[rider]
    assert pos is not None
    assert metres(Point(pos.lat, pos.lon), Point(*DOOR)) < 5
    assert pos.seen_at == d.clock.now().timestamp()
    assert (await d.pool.fetchval("SELECT state FROM riders WHERE id = $1", rider)) == "available"
