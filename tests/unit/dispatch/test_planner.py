"""The planner's rules beyond one trip (issue 14): shifts, holding only when it wins (and not for
long), bundling under scarcity within bags and kilograms, shops within 300 m, additions to accepted
trips, undeliverable orders, old orders first, idle riders' rides, and a big round's answer. Pure:
no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bench.dispatch_day import offset
from bench.dispatch_scenarios import scale_round
from services.dispatch.domain.assignment import (
    DEFAULT_WEIGHTS,
    OpenOrder,
    RiderView,
    _as_member,
    _Frame,
    _make_batch,
    plan,
    plan_round,
)
from services.dispatch.domain.delivery import Delivery
from services.dispatch.domain.riders import Shift
from services.dispatch.service_layer.planning import _route_end, shift_end
from shared.events.contracts import DeliveryAddress
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.geo import Point, speed_mps, street_metres

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SHOP = Point(32.0432, 118.7926)
W = DEFAULT_WEIGHTS


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def north(m: float, of: Point = SHOP) -> Point:
    return offset(of, 0, m)


def east(m: float, of: Point = SHOP) -> Point:
    return offset(of, m, 0)


def order(oid: str, drop: Point, *, ready: float = 0, promised: float = 1800, **kw: object) -> OpenOrder:
    store = str(kw.pop("store", "shop"))
    pickup = kw.pop("pickup", SHOP)
    assert isinstance(pickup, Point)
    return OpenOrder(oid, store, pickup, drop, at(ready), at(promised), **kw)  # type: ignore[arg-type]


def rider(rid: str, where: Point, **kw: object) -> RiderView:
    vehicle = str(kw.pop("vehicle", "e_bike"))
    capacity = int(kw.pop("capacity", 3))  # type: ignore[call-overload]
    return RiderView(rid, vehicle, where, capacity, **kw)  # type: ignore[arg-type]


# --- shifts ---------------------------------------------------------------------------------------


def test_no_pickup_after_the_shift_ends() -> None:
    far = east(1500)
    ride = street_metres(far, SHOP) / speed_mps("e_bike")  # ~6.5 minutes to the shop
    ending = rider("ending", far, shift_ends_at=at(ride - 30))  # the shift ends before the rider gets there
    assert plan_round([order("a", north(500))], [ending], NOW) == []
    staying = rider("staying", far, shift_ends_at=at(ride + 600))
    assert [p.rider_id for p in plan_round([order("a", north(500))], [staying], NOW)] == ["staying"]


def test_no_route_ends_more_than_ten_minutes_past_the_shift() -> None:
    # At the shop in time, but the drop is 25 minutes away on foot: the route would end ~20 minutes late.
    walker = rider("walker", SHOP, vehicle="foot", capacity=2, shift_ends_at=at(300))
    result = plan([order("a", north(1400), promised=3600)], [walker], NOW)
    assert result.proposals == []
    assert [u.order_id for u in result.undeliverable] == ["a"]
    assert result.undeliverable[0].best_door_at is None


def test_a_rider_without_a_shift_is_planned_as_before() -> None:
    assert [p.rider_id for p in plan_round([order("a", north(500))], [rider("r1", SHOP)], NOW)] == ["r1"]


# --- holding --------------------------------------------------------------------------------------


def test_the_customers_minute_costs_more_than_the_riders_idle_one() -> None:
    assert W.wait < W.door
    assert W.wait < W.travel


def test_an_order_is_held_for_a_busy_rider_only_when_holding_costs_less_and_the_comparison_is_kept() -> None:
    busy = rider("busy", east(1500), carrying=1, free_at=at(240), route_end=north(30))
    free = rider("free", east(2600))  # free now, ~11 minutes from the shop
    result = plan([order("a", north(600), promised=2400)], [busy, free], NOW)
    assert result.proposals == []
    [hold] = result.holds
    assert (hold.order_id, hold.reason, hold.rider_id) == ("a", "rider_busy", "busy")
    assert hold.send_now_rider == "free"
    assert hold.send_now_cost is not None
    assert hold.hold_cost < hold.send_now_cost
    assert hold.leaves_at == at(240)


def test_holding_does_not_win_when_the_busy_rider_is_too_late() -> None:
    busy = rider("busy", SHOP, carrying=1, free_at=at(1500), route_end=SHOP)
    free = rider("free", east(1000))
    result = plan([order("a", north(600), promised=900)], [busy, free], NOW)
    assert [p.rider_id for p in result.proposals] == ["free"]
    assert result.holds == []


def test_no_order_is_held_for_a_busy_rider_past_three_minutes_when_a_free_one_reaches_the_bag_in_time() -> None:
    busy = rider("busy", east(1500), carrying=1, free_at=at(240), route_end=north(30))
    free = rider("free", east(900))  # ~4 minutes away; the bag is ready in 5
    a = order("a", north(600), ready=300, promised=2400)
    assert [h.rider_id for h in plan([a], [busy, free], NOW).holds] == ["busy"]  # cheaper to wait for "busy"
    held = order("a", north(600), ready=300, promised=2400, held_since=at(-W.max_hold_s))
    assert [p.rider_id for p in plan([held], [busy, free], NOW).proposals] == ["free"]


def test_an_old_order_is_not_left_behind_by_younger_ones() -> None:
    # One rider, two orders equally placed for it; the one open for 20 minutes goes first.
    old = order("old", north(500), placed_at=at(-1200))
    young = order("young", north(-500), placed_at=at(-60))
    (p,) = plan_round([old, young], [rider("r1", SHOP, capacity=1)], NOW)
    assert p.order_ids == ("old",)


# --- bundling -------------------------------------------------------------------------------------


def test_when_riders_are_scarce_a_bundle_may_exceed_three_orders() -> None:
    orders = [order(f"o{i}", north(300 + 150 * i), promised=3600) for i in range(5)]
    result = plan(orders, [rider("r1", SHOP, capacity=6)], NOW)
    assert result.pressure > 1
    (p,) = result.proposals
    assert len(p.order_ids) >= 4
    assert list(p.order_ids) == sorted(p.order_ids, key=lambda o: int(o[1:]))  # drops along the way


def test_a_bundle_fits_the_vehicle_in_bags_and_kilograms() -> None:
    heavy = [order(f"o{i}", north(300 + 100 * i), promised=3600, bags=2, weight_g=4000) for i in range(4)]
    (p,) = plan_round(heavy, [rider("walker", SHOP, vehicle="foot", capacity=4)], NOW)
    assert len(p.order_ids) == 1  # on foot: 3 bags, 8 kg at most
    (q,) = plan_round(heavy, [rider("ebike", SHOP, vehicle="e_bike", capacity=4)], NOW)
    assert len(q.order_ids) == 4  # 8 bags, 16 kg: within an e-bike's 8 bags and 30 kg


def test_shops_within_300_m_share_a_trip_and_farther_ones_do_not() -> None:
    near_shop, far_shop = east(200), east(900)
    pair = [order("a", north(600)), order("b", north(700, near_shop), store="bakery", pickup=near_shop)]
    (p,) = plan_round(pair, [rider("r1", SHOP)], NOW)
    assert sorted(p.order_ids) == ["a", "b"]
    assert set(p.pickups) == {"shop", "bakery"}
    apart = [order("a", north(600)), order("c", north(700, far_shop), store="far", pickup=far_shop)]
    assert all(len(q.order_ids) == 1 for q in plan_round(apart, [rider("r1", SHOP)], NOW))
    # A chain of shops 200 m apart clusters all three; a trip never takes the two ends (400 m apart).
    mid, end = east(200), east(400)
    frame = _Frame(SHOP)
    a, m, e = (
        _as_member(order(oid, north(600, p), store=oid, pickup=p), frame, NOW.timestamp())
        for oid, p in (("a", SHOP), ("m", mid), ("e", end))
    )
    assert _make_batch([a, m], W) is not None
    assert _make_batch([m, e], W) is not None
    assert _make_batch([a, e], W) is None
    assert _make_batch([a, m, e], W) is None


# --- additions ------------------------------------------------------------------------------------


def test_an_order_is_added_to_a_trip_accepted_and_not_picked_up() -> None:
    accepted = order("taken", north(800))
    on_the_way = rider("r1", east(300), carrying=1, planned=(accepted,), load_bags=1, load_kg=2.0)
    result = plan([order("new", north(600))], [on_the_way], NOW)
    [p] = result.additions
    assert (p.rider_id, p.order_ids, p.adds_to) == ("r1", ("new",), ("taken",))
    assert p.route == ("new", "taken")  # the whole new drop order
    assert set(p.eta_door_at) == {"new", "taken"}


def test_no_addition_for_a_rider_who_has_picked_up_bags() -> None:
    # Carrying two (one in hand, one accepted): the trip in hand is not one planned pickup.
    accepted = order("taken", north(800))
    mixed = rider("r1", east(300), carrying=2, planned=(accepted,))
    assert plan([order("new", north(600))], [mixed], NOW).additions == []


# --- undeliverable, scale -------------------------------------------------------------------------


def test_an_order_no_plan_carries_in_time_is_reported() -> None:
    late = order("late", north(500), promised=-3600)  # promised an hour ago
    result = plan([late, order("fine", north(-500))], [rider("r1", SHOP), rider("r2", SHOP)], NOW)
    assert [u.order_id for u in result.undeliverable] == ["late"]
    assert "late" in result.undeliverable[0].reason
    assert plan([late], [], NOW).undeliverable[0].reason == "no rider on shift can take it"


def test_a_round_at_scale_offers_each_order_and_rider_at_most_once() -> None:
    """The round's time is a bench figure (`make bench-dispatch`, scale_round), not a timed test."""
    big = scale_round(orders=2000, riders=500, repeat=1)
    assert big["orders_proposed"] > 200
    assert big["held"] > 0


def test_idle_riders_each_take_an_order_rather_than_one_bundling_both() -> None:
    # Eight idle riders beside the shop, two orders whose drops lie 900 m apart along one way: a
    # bundle spares a ride and some riding along the drops, which cost little while riders stand
    # idle; the second customer would wait for the first door and the detour.
    orders = [order("a", north(600)), order("b", east(900, north(600)))]
    riders = [rider(f"r{i}", east(30 if i % 2 else -30)) for i in range(8)]
    assert sorted(len(p.order_ids) for p in plan(orders, riders, NOW).proposals) == [1, 1]
    priced_alike = replace(W, idle_travel=1.0)  # an idle rider's ride priced like a busy one's
    assert [len(p.order_ids) for p in plan(orders, riders, NOW, priced_alike).proposals] == [2]


# --- the service's view of riders -----------------------------------------------------------------


def test_back_to_back_shifts_are_one_and_a_rider_between_shifts_is_off() -> None:
    morning = Shift(at(-3600), at(600))
    afternoon = Shift(at(600), at(4200))
    assert shift_end([afternoon, morning], NOW) == (True, at(4200))
    assert shift_end([Shift(at(-7200), at(-3600)), Shift(at(3600), at(7200))], NOW) == (False, None)
    assert shift_end([], NOW) == (True, None)


def test_a_rider_with_bags_in_hand_is_planned_from_where_the_route_ends() -> None:
    def delivery(oid: str, eta: float, lat: float) -> Delivery:
        address = DeliveryAddress(text="door", lat=lat, lon=118.79)
        return Delivery(oid, "shop", FulfilmentMode.DELIVERY, "p", "p", address=address, eta_door_at=at(eta))

    load = [delivery("a", 300, 32.05), delivery("b", 600, 32.06)]
    assert _route_end(load, NOW) == (at(600 + 60), Point(32.06, 118.79))
    assert _route_end([delivery("late", -60, 32.05)], NOW) == (None, None)  # its ETA passed: plan from here
