"""Round → offer → accept → steps, against real PostgreSQL and Redis, calling the use cases directly."""

from __future__ import annotations

import pytest

from services.dispatch.domain.offers import OfferStatus
from services.dispatch.service_layer import assigning, delivering, intake
from services.dispatch.service_layer.assigning import NO_RIDER, PICKUP_ANSWER
from shared.errors import Conflict, Forbidden, Invalid, NotFound, WrongCode
from shared.events.contracts import HandoverTo, OrderCancelled, OrderHandedOver, PickupChoiceMade
from shared.vocabulary.order_status import OrderStatus
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import SHOP, accepted, due, me_json, offers_json, packed, placed, rider_view


async def open_order(d: Dispatch, order_id: str, **kw: object) -> None:
    await d.run(lambda uow: intake.on_order_placed(uow, placed(order_id, **kw)))  # type: ignore[arg-type]
    await d.run(lambda uow: intake.on_order_accepted(uow, accepted(order_id)))


async def offers(d: Dispatch, rider_id: str) -> list[dict]:
    return await d.run(lambda uow: offers_json(uow, rider_id))


async def test_placing_promises_and_accepting_opens_with_the_no_rider_clock(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    await open_order(d, "o1")
    promised = next(p for t, p in await d.events("o1") if t == "DeliveryPromised")
    assert promised["minutes"] >= 5  # the trip and the slack at the door
    row = await d.delivery("o1")
    assert row["status"] == "open"
    assert row["promised_at"] is not None
    due = await d.pool.fetchval("SELECT due_at FROM deadlines WHERE kind = 'no_rider' AND key = 'o1'")
    assert (due - d.clock.now()).total_seconds() == 600


async def test_a_round_offers_the_nearest_rider_and_a_decline_asks_the_next(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    await d.rider("far", SHOP[0] + 0.010, SHOP[1])
    await open_order(d, "o1")

    counts = await d.run(assigning.run_round)
    assert counts.offers == 1
    [offer] = await offers(d, "near")
    assert offer["order_id"] == "o1"
    assert offer["seconds_left"] == 30
    assert offer["distance_to_shop_m"] < 200
    assert await offers(d, "far") == []
    assert (await d.run(assigning.run_round)).offers == 0  # one pending offer per order

    with pytest.raises(NotFound):  # not yours: it does not exist for you
        await d.run(lambda uow: assigning.accept_offer(uow, "far", offer["offer_id"]))
    await d.run(lambda uow: assigning.decline_offer(uow, "near", offer["offer_id"]))
    await d.run(assigning.run_round)
    assert await offers(d, "near") == []  # a rider who declined is not asked again
    [second] = await offers(d, "far")

    await d.run(lambda uow: assigning.accept_offer(uow, "far", second["offer_id"]))
    row = await d.delivery("o1")
    assert row["status"] == "assigned"
    assert row["rider_id"] == "far"
    assigned = next(p for t, p in await d.events("o1") if t == "RiderAssigned")
    assert assigned["rider_id"] == "far"
    assert assigned["assigned_by"] == "dispatch"
    assert await d.pool.fetchval("SELECT cancelled_at IS NOT NULL FROM deadlines WHERE kind = 'no_rider'")
    with pytest.raises(Conflict, match="already accepted"):
        await d.run(lambda uow: assigning.accept_offer(uow, "far", second["offer_id"]))


async def test_an_unanswered_offer_lapses_and_goes_to_the_next_rider(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("near", SHOP[0] + 0.001, SHOP[1])
    await d.rider("far", SHOP[0] + 0.010, SHOP[1])
    await open_order(d, "o1")
    await d.run(assigning.run_round)
    [offer] = await offers(d, "near")
    d.clock.advance(31)
    await d.seen("near", SHOP[0] + 0.001, SHOP[1])
    await d.seen("far", SHOP[0] + 0.010, SHOP[1])
    with pytest.raises(Conflict, match="lapsed"):
        await d.run(lambda uow: assigning.accept_offer(uow, "near", offer["offer_id"]))
    counts = await d.run(assigning.run_round)
    assert counts.lapsed == 1
    assert counts.offers == 1
    assert (await offers(d, "far"))[0]["order_id"] == "o1"
    status = await d.pool.fetchval("SELECT status FROM offers WHERE id = $1::uuid", offer["offer_id"])
    assert status == OfferStatus.EXPIRED


async def assigned_to(d: Dispatch, rider: str, order_id: str, **kw: object) -> None:
    await d.rider(rider, SHOP[0] + 0.001, SHOP[1])
    await open_order(d, order_id, **kw)
    await d.run(lambda uow: assigning.assign_by_hand(uow, order_id, rider, "dispatcher-1"))


async def test_the_steps_in_order_with_the_codes(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1", pay_on_delivery=True)
    await d.rider("r2", SHOP[0], SHOP[1])

    with pytest.raises(Conflict, match="next step is 'at-shop'"):
        await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321"))
    with pytest.raises(Forbidden):
        await d.run(lambda uow: delivering.at_shop(uow, "o1", "r2"))
    await d.run(lambda uow: delivering.at_shop(uow, "o1", "r1"))
    with pytest.raises(Conflict, match="not packed"):
        await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321"))
    await d.run(lambda uow: intake.on_order_packed(uow, packed("o1")))
    me = await d.run(lambda uow: me_json(uow, "r1"))
    assert "handover_code" not in me["deliveries"][0]
    assert "customer" not in me["deliveries"][0]
    with pytest.raises(WrongCode):
        await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "0000"))
    view = rider_view(await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321")))
    assert view["customer"]["contact_phone"] == "13800000000"  # now carrying it: the customer is shown
    with pytest.raises(Conflict, match="next step is 'at-door'"):
        await d.run(lambda uow: delivering.delivered(uow, "o1", "r1", "123456", 200))
    await d.run(lambda uow: delivering.at_door(uow, "o1", "r1"))
    with pytest.raises(Conflict, match="wait at the door"):
        await d.run(lambda uow: delivering.failed(uow, "o1", "r1", "nobody home"))
    with pytest.raises(WrongCode):
        await d.run(lambda uow: delivering.delivered(uow, "o1", "r1", "999999", 200))
    with pytest.raises(Invalid):
        await d.run(lambda uow: delivering.delivered(uow, "o1", "r1", "123456", None))
    await d.run(lambda uow: delivering.delivered(uow, "o1", "r1", "123456", 200))
    assert (await d.types("o1"))[-5:] == [
        "RiderAssigned",
        "RiderAtShop",
        "DeliveryPickedUp",
        "RiderAtDoor",
        "DeliveryCompleted",
    ]
    picked = next(p for t, p in await d.events("o1") if t == "DeliveryPickedUp")
    assert picked["handover_code"] == "4321"
    done = next(p for t, p in await d.events("o1") if t == "DeliveryCompleted")
    assert done["cash_collected_fen"] == 200
    me = await d.run(lambda uow: me_json(uow, "r1"))
    assert me["deliveries"] == []


async def test_a_failed_delivery_after_waiting(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1")
    await d.run(lambda uow: intake.on_order_packed(uow, packed("o1")))
    await d.run(lambda uow: delivering.at_shop(uow, "o1", "r1"))
    await d.run(lambda uow: delivering.picked_up(uow, "o1", "r1", "4321"))
    await d.run(lambda uow: delivering.at_door(uow, "o1", "r1"))
    d.clock.advance(121)
    await d.run(lambda uow: delivering.failed(uow, "o1", "r1", "nobody home"))
    assert (await d.types("o1"))[-1] == "DeliveryFailed"


async def test_counter_staff_handing_over_counts_as_picked_up(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1")
    await d.run(
        lambda uow: intake.on_handed_over(
            uow, OrderHandedOver(order_id="o1", store_id="shop", to=HandoverTo.RIDER, by="counter")
        )
    )
    assert (await d.delivery("o1"))["status"] == "picked_up"
    await d.run(lambda uow: delivering.at_door(uow, "o1", "r1"))


async def test_reassigning_by_hand_tells_the_previous_rider(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1")
    await d.rider("r2", SHOP[0], SHOP[1])
    await d.run(lambda uow: assigning.assign_by_hand(uow, "o1", "r2", "dispatcher-7"))
    unassigned = next(p for t, p in await d.events("o1") if t == "RiderUnassigned")
    assert unassigned == {**unassigned, "rider_id": "r1", "reason": "reassigned by dispatcher-7"}
    assert (await d.delivery("o1"))["rider_id"] == "r2"


async def test_a_silent_rider_loses_the_order_before_pickup(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1")
    await d.rider("r2", SHOP[0], SHOP[1])
    d.clock.advance(61)
    await d.seen("r2", SHOP[0], SHOP[1])  # r2 keeps sending positions, r1 went quiet
    counts = await d.run(assigning.run_round)
    assert counts.taken_back == 1
    unassigned = next(p for t, p in await d.events("o1") if t == "RiderUnassigned")
    assert unassigned["rider_id"] == "r1"
    assert unassigned["reason"] == "silent"
    assert (await offers(d, "r2"))[0]["order_id"] == "o1"
    assert await offers(d, "r1") == []
    assert {a["kind"] for a in await d.pool.fetch("SELECT kind FROM alerts")} == {"reassigned"}


async def test_a_rider_far_behind_their_eta_to_the_shop_is_reassigned(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1")
    d.clock.advance(400)
    await d.seen("r1", SHOP[0] + 0.001, SHOP[1])
    await d.run(assigning.run_round)
    unassigned = next(p for t, p in await d.events("o1") if t == "RiderUnassigned")
    assert unassigned["reason"].startswith("behind")
    assert await offers(d, "r1") == []  # not asked again for it


async def test_no_rider_in_time_offers_pickup_then_abandons(dispatch: Dispatch) -> None:
    d = dispatch
    await open_order(d, "o1")
    await d.run(lambda uow: intake.on_no_rider_deadline(uow, due(NO_RIDER, "o1")))
    offered = next(p for t, p in await d.events("o1") if t == "PickupOffered")
    assert offered["reason"] == "no_rider"
    assert (await d.delivery("o1"))["status"] == "pickup_offered"
    await d.run(lambda uow: intake.on_pickup_answer_deadline(uow, due(PICKUP_ANSWER, "o1")))
    assert (await d.types("o1"))[-1] == "DeliveryAbandoned"
    assert (await d.delivery("o1"))["status"] == "abandoned"


async def test_the_shoppers_pickup_choice(dispatch: Dispatch) -> None:
    d = dispatch
    for order_id in ("yes", "no"):
        await open_order(d, order_id)
        await d.run(lambda uow, o=order_id: intake.on_no_rider_deadline(uow, due(NO_RIDER, o)))
    await d.run(
        lambda uow: intake.on_pickup_choice(
            uow, PickupChoiceMade(order_id="yes", store_id="shop", accepted=True, by="u")
        )
    )
    await d.run(
        lambda uow: intake.on_pickup_choice(
            uow, PickupChoiceMade(order_id="no", store_id="shop", accepted=False, by="u")
        )
    )
    assert (await d.delivery("yes"))["status"] == "dropped"
    assert "DeliveryAbandoned" not in await d.types("yes")
    abandoned = [p for t, p in await d.events("no") if t == "DeliveryAbandoned"]
    assert [p["reason"] for p in abandoned] == ["no_rider"]
    assert (
        await d.pool.fetchval(
            "SELECT count(*) FROM deadlines WHERE kind = 'pickup_answer' AND fired_at IS NULL AND cancelled_at IS NULL"
        )
        == 0
    )


async def test_a_cancelled_order_frees_its_rider(dispatch: Dispatch) -> None:
    d = dispatch
    await assigned_to(d, "r1", "o1")
    await d.run(lambda uow: intake.drop(uow, "o1", "order cancelled (cancelled)"))
    assert (await d.delivery("o1"))["status"] == "dropped"
    assert (await d.types("o1"))[-1] == "RiderUnassigned"
    me = await d.run(lambda uow: me_json(uow, "r1"))
    assert me["deliveries"] == []
    OrderCancelled(order_id="o1", store_id="shop", cancelled_by="u", previous_status=OrderStatus.ACCEPTED)
