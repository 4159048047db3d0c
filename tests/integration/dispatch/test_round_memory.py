"""The rounds' memory lives in PostgreSQL (migration 009), not in a process: two dispatch
runtimes on one database taking turns at the round keep one hold clock for an order held for a
busy rider, and raise an order's undeliverable alert once."""

from __future__ import annotations

from datetime import timedelta

from services.dispatch.domain.riders import Shift, Vehicle
from services.dispatch.entrypoints.app import SPEC, make_uow
from services.dispatch.service_layer import assigning, intake, riders
from tests.integration.dispatch.conftest import SETTINGS, Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, packed, placed
from tests.runtime import runtime_for


def other_instance(d: Dispatch) -> Dispatch:
    """A second dispatch runtime of its own on the same database, Redis and clock."""
    runtime = runtime_for(SPEC, SETTINGS, d.pool, d.redis, d.clock)
    return Dispatch(
        d.pool, d.redis, d.clock, lambda: make_uow(runtime, cause=None, correlation_id=None, readonly=False)
    )


async def open_order(d: Dispatch, order_id: str, *, pack: bool = False) -> None:
    await d.run(lambda uow: intake.on_order_placed(uow, placed(order_id)))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted(order_id)))
    if pack:
        await d.run(lambda uow: intake.on_order_packed(uow, packed(order_id)))


async def offers_of(d: Dispatch, order_id: str) -> list[str]:
    rows = await d.pool.fetch("SELECT rider_id FROM offers WHERE order_id = $1 ORDER BY created_at", order_id)
    return [r["rider_id"] for r in rows]


async def test_two_instances_keep_one_hold_clock(dispatch: Dispatch) -> None:
    one, two = dispatch, other_instance(dispatch)
    await one.rider("busy", SHOP[0] + 0.03, SHOP[1])  # 3.3 km off, finishing a delivery near the shop
    await one.rider("far", SHOP[0] - 0.04, SHOP[1], vehicle=Vehicle.FOOT)  # free, but an hour's walk away
    await open_order(one, "o0", pack=True)
    await one.pool.execute(
        "UPDATE deliveries SET status = 'picked_up', rider_id = 'busy', eta_door_at = $1 WHERE order_id = 'o0'",
        one.clock.now() + timedelta(minutes=15),
    )
    await open_order(one, "o1", pack=True)

    async def round_on(d: Dispatch) -> None:
        await d.seen("busy", SHOP[0] + 0.03, SHOP[1])
        await d.seen("far", SHOP[0] - 0.04, SHOP[1])
        await d.run(assigning.run_round)

    began = one.clock.now()
    await round_on(one)  # instance one holds o1 for the busy rider: waiting costs less than the walk
    [held] = await one.pool.fetch("SELECT reason, rider_id, busy_since FROM round_holds WHERE order_id = 'o1'")
    assert (held["reason"], held["rider_id"], held["busy_since"]) == ("rider_busy", "busy", began)
    assert await offers_of(one, "o1") == []

    one.clock.advance(200)
    await round_on(two)  # instance two goes on with instance one's clock: it does not start a new hold
    assert await one.pool.fetchval("SELECT busy_since FROM round_holds WHERE order_id = 'o1'") == began
    assert await offers_of(one, "o1") == []

    one.clock.advance(170)  # 370 s since the hold began (> 2 x max_hold_s), 170 s since instance two saw it
    await round_on(one)
    assert await offers_of(one, "o1") == ["far"]  # held no longer: the free rider is sent
    assert await one.pool.fetchval("SELECT count(*) FROM round_holds WHERE order_id = 'o1'") == 0


async def test_two_instances_raise_an_undeliverable_alert_once(dispatch: Dispatch) -> None:
    one, two = dispatch, other_instance(dispatch)
    await one.rider("done", SHOP[0] + 0.001, SHOP[1])
    now = one.clock.now()
    shift = Shift(now - timedelta(hours=3), now - timedelta(hours=1))  # today's shift ended an hour ago
    await one.run(lambda uow: riders.put_shifts(uow, "done", [shift]))
    await open_order(one, "o1")
    for i in range(4):
        instance = (one, two)[i % 2]
        await instance.seen("done", SHOP[0] + 0.001, SHOP[1])
        await instance.run(assigning.run_round)
        one.clock.advance(5)
    alerts = await one.pool.fetch("SELECT order_id FROM alerts WHERE kind = 'undeliverable'")
    assert [a["order_id"] for a in alerts] == ["o1"]
