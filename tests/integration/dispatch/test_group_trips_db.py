"""A group buy's one trip against real PostgreSQL: planned at the close, sized once packed, offered only to a
rider whose vehicle carries every bag, complete when the leader confirms; at a locker site, one compartment
per bag, each opened by its own holder."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.dispatch.domain.riders import Vehicle
from services.dispatch.service_layer import assigning, delivering, group_trips, lockers
from shared.errors import Conflict, Forbidden
from shared.events.contracts import (
    BagItem,
    DealBag,
    DealPickup,
    DealTotal,
    GroupBuyArrived,
    GroupBuyBagsReturned,
    GroupBuyClosed,
)
from shared.vocabulary.units import StockUnit
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import DOOR, SHOP, packed

DEAL = "gb-trip-1"


def closed(d: Dispatch, bags: int, *, locker: bool = False, deal: str = DEAL) -> GroupBuyClosed:
    now = d.clock.now()
    return GroupBuyClosed(
        deal_id=deal,
        store_id="shop",
        order_id=deal,
        leader="leader-1",
        totals=[
            DealTotal(
                line_no=1,
                product_id="p1",
                location_id="shop",
                unit=StockUnit.PIECE,
                quantity=bags,
                stock_quantity=bags,
                unit_price_fen=500,
                estimated_fen=500 * bags,
            )
        ],
        bags=[
            DealBag(
                number=n,
                holder=f"s{n}",
                name=f"s{n}",
                joined_by="helper-1" if n == 1 else f"s{n}",
                items=[BagItem(line_no=1, product_id="p1", quantity=1, price_fen=500)],
                goods_fen=500,
            )
            for n in range(1, bags + 1)
        ],
        goods_fen=500 * bags,
        pickup=DealPickup(
            kind="locker" if locker else "place",
            name="Gate 2",
            lat=DOOR[0],
            lon=DOOR[1],
            locker_site_id="site-g" if locker else None,
            window_start=now + timedelta(hours=1),
            window_end=now + timedelta(hours=3),
            delivered=not locker,
        ),
    )


async def offered_to(d: Dispatch) -> list[str]:
    rows = await d.pool.fetch("SELECT rider_id FROM offers WHERE order_id = $1 AND status = 'pending'", DEAL)
    return sorted(r["rider_id"] for r in rows)


async def test_one_trip_carries_every_bag_and_the_leader_completes_it(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("walker", SHOP[0], SHOP[1], vehicle=Vehicle.FOOT)
    await d.rider("ebike", SHOP[0] + 0.004, SHOP[1], vehicle=Vehicle.E_BIKE)
    await d.run(lambda uow: group_trips.on_group_buy_closed(uow, closed(d, 3)))
    await d.run(lambda uow: group_trips.on_group_buy_closed(uow, closed(d, 3)))  # redelivered: one trip
    row = await d.delivery(DEAL)
    assert (row["status"], row["bags"], row["address"]["text"]) == ("pending", 3, "Gate 2")
    assert await d.pool.fetchval("SELECT count(*) FROM deliveries WHERE order_id = $1", DEAL) == 1
    assert (await d.run(assigning.run_round)).offers == 0  # not before the bags are packed and weighed
    # Three bags weigh 12 kg: over the walker's 8 kg though the nearer rider, so only the e-bike is offered it.
    await d.run(lambda uow: group_trips.on_order_packed(uow, packed(DEAL, code="7788", bags=3, weight_g=12_000)))
    planned = [p for t, p in await d.events() if t == "GroupBuyTripPlanned"]
    assert [(p["bags"], p["weight_g"], p["vehicle"]) for p in planned] == [(3, None, "foot"), (3, 12_000, "bicycle")]
    assert (await d.delivery(DEAL))["status"] == "open"
    await d.run(assigning.run_round)
    assert await offered_to(d) == ["ebike"]
    [offer] = await d.pool.fetch("SELECT id FROM offers WHERE order_id = $1", DEAL)
    await d.run(lambda uow: assigning.accept_offer(uow, "ebike", str(offer["id"])))
    await d.run(lambda uow: delivering.at_shop(uow, DEAL, "ebike"))
    await d.run(lambda uow: delivering.picked_up(uow, DEAL, "ebike", "7788"))
    await d.run(lambda uow: delivering.at_door(uow, DEAL, "ebike"))
    at = [p for t, p in await d.events() if t == "GroupBuyTripAtPickup"]
    assert [(p["rider_id"], p["kind"]) for p in at] == [("ebike", "delivery")]
    with pytest.raises(Conflict, match=r"leader .* confirms their arrival"):
        await d.run(lambda uow: delivering.delivered(uow, DEAL, "ebike", "", None))
    arrived = GroupBuyArrived(deal_id=DEAL, store_id="shop", confirmed_by="leader-1")
    await d.run(lambda uow: group_trips.on_group_buy_arrived(uow, arrived))
    await d.run(lambda uow: group_trips.on_group_buy_arrived(uow, arrived))  # once
    assert (await d.delivery(DEAL))["status"] == "delivered"
    assert [t for t in await d.types(DEAL) if t == "DeliveryCompleted"] == ["DeliveryCompleted"]
    trip = await d.pool.fetchrow("SELECT status, vehicle, rider_id FROM group_trips WHERE deal_id = $1", DEAL)
    assert tuple(trip) == ("arrived", "bicycle", "ebike")


async def test_a_trip_no_vehicle_carries_is_refused_not_split(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("ebike", SHOP[0], SHOP[1], vehicle=Vehicle.E_BIKE)
    await d.run(lambda uow: group_trips.on_group_buy_closed(uow, closed(d, 6)))
    await d.run(lambda uow: group_trips.on_order_packed(uow, packed(DEAL, bags=6, weight_g=36_000)))
    [refused] = [p for t, p in await d.events() if t == "GroupBuyTripRefused"]
    assert "36.0 kg, the most any vehicle carries is 30 kg (e_bike)" in refused["reason"]
    assert "counter" in refused["reason"]
    assert (await d.delivery(DEAL))["status"] == "dropped"
    assert (await d.run(assigning.run_round)).offers == 0
    alert = await d.pool.fetchval("SELECT message FROM alerts WHERE kind = 'group_trip_refused'")
    assert DEAL in alert
    # Nine bags are refused at the close already: no vehicle carries nine.
    await d.run(lambda uow: group_trips.on_group_buy_closed(uow, closed(d, 9, deal="gb-nine")))
    assert await d.pool.fetchval("SELECT status FROM group_trips WHERE deal_id = 'gb-nine'") == "refused"
    assert await d.pool.fetchval("SELECT count(*) FROM deliveries WHERE order_id = 'gb-nine'") == 0


async def locker_site(d: Dispatch, n: int) -> None:
    comps = [(f"G{i}", "S") for i in range(1, n + 1)]
    await d.run(lambda uow: lockers.put_site(uow, "site-g", "Gate lockers", DOOR[0], DOOR[1], comps))


async def test_a_locker_site_books_one_compartment_per_bag_and_each_holder_opens_theirs(dispatch: Dispatch) -> None:
    d = dispatch
    await locker_site(d, 4)
    await d.rider("ebike", SHOP[0], SHOP[1], vehicle=Vehicle.E_BIKE)
    await d.run(lambda uow: group_trips.on_group_buy_closed(uow, closed(d, 3, locker=True)))
    rows = await d.pool.fetch("SELECT id, order_id, state FROM locker_compartments ORDER BY id")
    assert [(r["id"], r["order_id"], r["state"]) for r in rows] == [
        ("G1", f"{DEAL}#1", "reserved"),
        ("G2", f"{DEAL}#2", "reserved"),
        ("G3", f"{DEAL}#3", "reserved"),
        ("G4", None, "free"),
    ]
    [planned] = [p for t, p in await d.events() if t == "GroupBuyTripPlanned"]
    assert [c["compartment_id"] for c in planned["compartments"]] == ["G1", "G2", "G3"]
    await d.run(lambda uow: group_trips.on_order_packed(uow, packed(DEAL, code="7788", bags=3, weight_g=4_000)))
    await d.run(lambda uow: assigning.assign_by_hand(uow, DEAL, "ebike", "dispatcher-1"))
    assert await d.pool.fetchval("SELECT count(*) FROM locker_compartments WHERE order_id IS NOT NULL") == 3
    await d.run(lambda uow: delivering.at_shop(uow, DEAL, "ebike"))
    await d.run(lambda uow: delivering.picked_up(uow, DEAL, "ebike", "7788"))
    await d.run(lambda uow: delivering.delivered(uow, DEAL, "ebike", "", None))  # into the compartments
    [at] = [p for t, p in await d.events() if t == "GroupBuyTripAtPickup"]
    codes = {b["number"]: b["code"] for b in at["deposited"]}
    assert sorted(codes) == [1, 2, 3]
    assert {r["state"] for r in await d.pool.fetch("SELECT state FROM locker_compartments WHERE id <> 'G4'")} == {
        "occupied"
    }
    with pytest.raises(Forbidden, match="someone else's bag"):
        await d.run(lambda uow: lockers.open_compartment(uow, "site-g", codes[2], "s3", False))
    await d.run(lambda uow: lockers.open_compartment(uow, "site-g", codes[1], "helper-1", False))  # for s1
    [opened] = [p for t, p in await d.events() if t == "GroupBuyLockerOpened"]
    assert (opened["number"], opened["opened_by"], opened["compartment_id"]) == (1, "helper-1", "G1")
    with pytest.raises(Exception, match="does not open"):  # a code used twice opens nothing
        await d.run(lambda uow: lockers.open_compartment(uow, "site-g", codes[1], "helper-1", False))
    # Bag 3 is never collected: at the window's end it goes back and its compartment is free again.
    bag3 = closed(d, 3, locker=True).bags[2]
    back = GroupBuyBagsReturned(deal_id=DEAL, store_id="shop", order_id=DEAL, bags=[bag3])
    await d.run(lambda uow: group_trips.on_bags_returned(uow, back))
    states = {r["id"]: r["state"] for r in await d.pool.fetch("SELECT id, state FROM locker_compartments")}
    assert states == {"G1": "free", "G2": "occupied", "G3": "free", "G4": "free"}


async def test_a_locker_site_too_small_for_every_bag_is_refused(dispatch: Dispatch) -> None:
    d = dispatch
    await locker_site(d, 2)
    await d.run(lambda uow: group_trips.on_group_buy_closed(uow, closed(d, 3, locker=True)))
    [refused] = [p for t, p in await d.events() if t == "GroupBuyTripRefused"]
    assert "has 2 free compartments for the deal's 3 bags" in refused["reason"]
    assert await d.pool.fetchval("SELECT count(*) FROM locker_compartments WHERE state <> 'free'") == 0
    assert await d.pool.fetchval("SELECT count(*) FROM deliveries WHERE order_id = $1", DEAL) == 0
