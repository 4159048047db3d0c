"""The promise's history on dispatch's side (issue 14, item 5), against real PostgreSQL and Redis:
each delivery keeps the forecast it was promised from, and the delivered orders' misses set the
slack the rounds quote."""

from __future__ import annotations

from services.dispatch.service_layer import assigning, intake
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, placed


async def test_a_delivery_keeps_the_forecast_it_was_promised_from(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    row = await d.delivery("o1")
    assert row["promise_band"] in (0, 1)  # a rider beside the shop: no queue to wait in
    assert row["promise_base_at"] is not None
    assert d.clock.now() < row["promise_base_at"] <= row["promised_at"]  # the promise adds the slack


async def test_the_delivered_orders_misses_set_the_slack_the_rounds_quote(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    await d.run(assigning.run_round)
    [before] = [p for t, p in await d.events() if t == "PromiseQuoted"]
    for n in range(60):  # sixty orders of the shop, each at its door 7 minutes past its forecast,
        await d.run(lambda uow, n=n: intake.on_order_placed(uow, placed(f"done-{n}")))
    await d.pool.execute(  # thirty with no wait for a rider and thirty with a short one (bands 0 and 1)
        "UPDATE deliveries SET status = 'delivered', promise_band = split_part(order_id, '-', 2)::int % 2, "
        "at_door_at = promise_base_at + interval '7 minutes' WHERE order_id LIKE 'done-%'"
    )
    await d.run(assigning.run_round)
    quotes = [p for t, p in await d.events() if t == "PromiseQuoted"]
    assert len(quotes) == 2
    assert quotes[-1]["slack_minutes"] == 7  # what the shop's bags and riders really did
    assert before["slack_minutes"] != 7  # the rule's, while there was no history
    assert quotes[-1]["orders_ahead"] == 0
