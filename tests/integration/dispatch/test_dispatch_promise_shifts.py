"""The one promise on dispatch's side, shifts at assignment by hand, positions far from the circle,
and the board's view of the rounds, against real PostgreSQL and Redis."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.dispatch.domain.riders import Shift
from services.dispatch.entrypoints import answers
from services.dispatch.service_layer import assigning, intake, riders
from services.dispatch.service_layer.assigning import OffShift
from shared.errors import Invalid
from tests.integration.dispatch.conftest import SETTINGS, Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, placed


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def test_dispatch_keeps_the_promise_the_order_was_placed_with(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    shown = d.clock.now() + timedelta(minutes=25)
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1").model_copy(update={"promised_at": shown})))
    [promised] = [p for t, p in await d.events("o1") if t == "DeliveryPromised"]
    assert when(promised["promised_at"]) == shown
    assert promised["reason"] is None
    assert (await d.delivery("o1"))["promised_at"] == shown


async def test_a_promise_the_load_cannot_keep_moves_and_says_why(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("only", SHOP[0] + 0.001, SHOP[1], capacity=1)
    for n in range(6):  # six orders ahead for one rider: far more than the quote the shopper saw
        await d.run(lambda uow, n=n: intake.on_order_placed(uow, placed(f"ahead-{n}")))
    shown = d.clock.now() + timedelta(minutes=8)
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1").model_copy(update={"promised_at": shown})))
    [promised] = [p for t, p in await d.events("o1") if t == "DeliveryPromised"]
    assert when(promised["promised_at"]) > shown + timedelta(minutes=5)
    assert promised["reason"].startswith("more orders ahead than when it was quoted")
    assert when(promised["previous_promised_at"]) == shown


async def test_a_quote_follows_the_orders_ahead(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("only", SHOP[0] + 0.001, SHOP[1], capacity=1)
    await d.run(assigning.run_round)
    [first] = [p for t, p in await d.events() if t == "PromiseQuoted"]
    assert first["orders_ahead"] == 0
    assert first["pickups"] == [{"vehicle": "e_bike", "at_shop_minutes": first["rider_to_shop_minutes"]}]
    for n in range(5):
        await d.run(lambda uow, n=n: intake.on_order_placed(uow, placed(f"ahead-{n}")))
    await d.run(assigning.run_round)
    quotes = [p for t, p in await d.events() if t == "PromiseQuoted"]
    assert len(quotes) == 2
    assert quotes[-1]["orders_ahead"] == 5
    assert quotes[-1]["rider_to_shop_minutes"] >= first["rider_to_shop_minutes"] + 5 * 3  # five trips first


async def test_assigning_a_rider_off_shift_needs_an_override_the_timeline_records(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("gone", SHOP[0] + 0.001, SHOP[1])
    now = d.clock.now()
    ended = Shift(now - timedelta(hours=3), now - timedelta(minutes=20))
    await d.run(lambda uow: riders.put_shifts(uow, "gone", [ended]))
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))

    with pytest.raises(OffShift, match="shift ended") as refused:
        await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "gone", "disp-1"))
    assert refused.value.status_code == 409
    assert refused.value.body()["needs"] == "override_shift"
    assert (await d.delivery("o1"))["rider_id"] is None

    await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "gone", "disp-1", override_shift=True))
    assert (await d.delivery("o1"))["rider_id"] == "gone"
    [assigned] = [p for t, p in await d.events("o1") if t == "RiderAssigned"]
    assert assigned["assigned_by"] == "disp-1"
    assert "off shift" in assigned["override"]
    assert assigned["override"].endswith("by disp-1")


async def test_just_after_midnight_a_shift_that_ended_before_it_still_needs_the_override(dispatch: Dispatch) -> None:
    d = dispatch
    zone = ZoneInfo(SETTINGS.timezone)
    local = d.clock.now().astimezone(zone)
    after_midnight = datetime.combine(local.date() + timedelta(days=1), time(0, 10), tzinfo=zone)
    d.clock.advance((after_midnight - d.clock.now()).total_seconds())
    await d.rider("gone", SHOP[0] + 0.001, SHOP[1])
    ended = Shift(after_midnight - timedelta(hours=3), after_midnight - timedelta(minutes=20))  # 21:10-23:50
    await d.run(lambda uow: riders.put_shifts(uow, "gone", [ended]))
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))

    with pytest.raises(OffShift, match="shift ended at 23:50"):
        await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "gone", "disp-1"))
    assert (await d.delivery("o1"))["rider_id"] is None


async def test_a_rider_on_shift_is_assigned_without_asking(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("on", SHOP[0] + 0.001, SHOP[1])
    now = d.clock.now()
    await d.run(lambda uow: riders.put_shifts(uow, "on", [Shift(now - timedelta(hours=1), now + timedelta(hours=2))]))
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1")))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "on", "disp-1"))
    [assigned] = [p for t, p in await d.events("o1") if t == "RiderAssigned"]
    assert assigned["override"] is None


async def test_a_position_far_from_every_shop_is_refused_saying_why(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("r1", SHOP[0], SHOP[1])
    with pytest.raises(Invalid, match=r"km from the nearest shop of the circle \(Shop\)"):
        await d.run(lambda uow: riders.report_location(uow, "r1", SHOP[0] + 0.6, SHOP[1]))  # ~67 km north
    await d.run(lambda uow: riders.report_location(uow, "r1", SHOP[0] + 0.3, SHOP[1]))  # ~33 km: a long way, allowed


async def test_the_board_sees_held_orders_shift_ends_and_bundles(dispatch: Dispatch) -> None:
    d = dispatch
    now = d.clock.now()
    await d.rider("far", SHOP[0] + 0.02, SHOP[1], capacity=3)  # ~2 km away: long before the bag it would wait
    await d.run(
        lambda uow: riders.put_shifts(uow, "far", [Shift(now - timedelta(hours=2), now + timedelta(minutes=40))])
    )
    slow = placed("o1")
    await d.run(lambda uow: intake.on_order_placed(uow, slow))
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    async with d.pool.acquire() as conn:  # the bag is 35 minutes away: no rider should set off yet
        await conn.execute("UPDATE deliveries SET ready_at = $1 WHERE order_id = 'o1'", now + timedelta(minutes=35))
    shown = await d.run(assigning.board_plan)
    answer = answers.board_plan(shown).model_dump(mode="json")
    [held] = answer["held"]
    assert held["order_id"] == "o1"
    assert held["rider_id"] == "far"
    assert held["reason"] == "timing"
    assert "far" in held["why"]
    [ending] = answer["shift_ends"]
    assert ending["rider_id"] == "far"
    assert when(ending["ends_at"]) == now + timedelta(minutes=40)
    assert answer["bundles"] == []


async def test_a_shop_accepting_late_moves_the_promise_and_says_so(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    shown = d.clock.now() + timedelta(minutes=15)
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1").model_copy(update={"promised_at": shown})))
    d.clock.advance(25 * 60)  # the shop takes 25 minutes to accept: the promise has already passed
    await d.seen("near", SHOP[0] + 0.001, SHOP[1])  # the rider still there, heard from
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    promises = [p for t, p in await d.events("o1") if t == "DeliveryPromised"]
    assert len(promises) == 2
    moved = promises[-1]
    assert when(moved["previous_promised_at"]) == shown
    assert when(moved["promised_at"]) > d.clock.now()
    assert moved["reason"].startswith("the shop accepted it only at ")
    assert moved["reason"].endswith("min later than promised")
    assert (await d.delivery("o1"))["promised_at"] == when(moved["promised_at"])


async def test_a_shop_accepting_in_time_keeps_the_promise(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    shown = d.clock.now() + timedelta(minutes=20)
    await d.run(lambda uow: intake.on_order_placed(uow, placed("o1").model_copy(update={"promised_at": shown})))
    d.clock.advance(60)
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted("o1")))
    assert [t for t, _ in await d.events("o1")].count("DeliveryPromised") == 1
    assert (await d.delivery("o1"))["promised_at"] == shown
