"""Orders' view of dispatch: the promise, the rider's steps, lockers, the pickup offer and the no-rider cancel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from services.orders.domain import delivery as dl
from services.orders.domain import fulfilment as shop
from services.orders.domain.basket import CatalogLocation, CatalogProduct, Wanted, price_basket
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.order import Order, Packed, Tracking
from services.orders.entrypoints.answers import order_json
from services.orders.entrypoints.consumers import SUBSCRIPTIONS
from services.orders.entrypoints.http import PlaceOrder
from shared.auth import Principal
from shared.events.contracts import LineOutcome
from shared.events.envelope import event_types
from shared.events.topics import DISPATCH
from shared.vocabulary.order_status import OrderStatus, TransitionRefused
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.unit.orders.conftest import T0, placed

S = OrderStatus
SHOP = CatalogLocation("shop", "shop", None, "小店", "Corner shop", True)
PRODUCTS = {"water": CatalogProduct("water", "shop", "shop", "水", "Water", StockUnit.PIECE, 200, None, True)}
HOME = {"text": "3-201 Wenchang Lane", "lat": 32.04, "lon": 118.78}
ORDERER = Principal("grandma", Role.SHOPPER)
HELPER = Principal("helper-1", Role.HELPER)
ADMIN = Principal("ops", Role.ADMIN)
STAFF = Principal("counter", Role.STORE_STAFF, store="shop")
DISPATCHER = Principal("desk", Role.DISPATCHER)


def order(mode: str = "delivery", status: OrderStatus = S.ACCEPTED) -> Order:
    fulfilment = (
        {"mode": mode, "address": HOME}
        if mode == "delivery"
        else {"mode": mode, "site_id": "lane-lockers"}
        if mode == "locker"
        else {"mode": mode}
    )
    o = placed(
        store_id="shop",
        fulfilment=Fulfilment.from_dict(fulfilment),
        lines=price_basket(SHOP, "shop", [Wanted("water", 2)], PRODUCTS),
        delivery_code="246810" if mode != "pickup" else None,
    )
    o.confirm(T0)
    o.accept(T0, "staff")
    if status in (S.PICKING, S.PACKED, S.OUT_FOR_DELIVERY):
        shop.picking_started(o, "shop", "staff", T0)
    if status in (S.PACKED, S.OUT_FOR_DELIVERY):
        shop.order_packed(
            o, Packed(400, 0, 1, 1200, {"location_id": "shop"}, "135790"), 400, [(1, LineOutcome.PICKED, 2, 400)], T0
        )
    if status is S.OUT_FOR_DELIVERY:
        shop.handed_over(o, "rider", "rider-7", T0)
    assert o.status is status
    return o


def assign(o: Order, rider_id: str = "rider-7", eta_door: datetime = T0 + timedelta(minutes=25)) -> None:
    dl.rider_assigned(
        o, rider_id, f"Rider {rider_id}", "e_bike", T0 + timedelta(minutes=8), eta_door, assigned_by="dispatch", at=T0
    )


def causes(o: Order) -> str:
    return " | ".join(e.cause for e in o.timeline)


def test_the_promise_the_rider_and_the_live_eta() -> None:
    o = order()
    dl.delivery_promised(o, T0 + timedelta(minutes=30), 30, T0)
    assign(o)
    assert o.tracking.promised_at == T0 + timedelta(minutes=30)
    assert o.tracking.rider is not None
    assert o.tracking.rider["name"] == "Rider rider-7"
    assert o.tracking.late_risk is False
    entries = len(o.timeline)
    dl.eta_updated(o, T0 + timedelta(minutes=26), False, T0)  # no change of the flag: no line
    assert len(o.timeline) == entries
    assert o.tracking.eta_door_at == T0 + timedelta(minutes=26)
    dl.eta_updated(o, T0 + timedelta(minutes=40), True, T0)
    assert o.tracking.late_risk is True
    assert "running late" in o.timeline[-1].cause
    dl.eta_updated(o, T0 + timedelta(minutes=29), False, T0)
    assert "back on time" in o.timeline[-1].cause
    assert all(e.detail.get("step") for e in o.timeline[entries - 2 :])
    assert o.status is S.ACCEPTED  # none of it moves the order


def test_an_unassigned_rider_leaves_the_reason_on_the_timeline() -> None:
    o = order()
    assign(o)
    dl.rider_unassigned(o, "rider-7", "silent", T0)
    assert o.tracking.rider is None
    assert o.tracking.eta_door_at is None
    assert "Rider rider-7 no longer carries the order: silent" in o.timeline[-1].cause
    assign(o, "rider-9")
    dl.rider_unassigned(o, "rider-7", "reassigned by desk", T0)  # a stale one: the new rider stays
    assert o.tracking.rider is not None
    assert o.tracking.rider["rider_id"] == "rider-9"
    assert "not the assigned rider" in o.timeline[-1].cause


def test_from_the_shop_to_the_door_with_cash_on_delivery() -> None:
    o = order(status=S.PACKED)
    assign(o)
    dl.rider_at_shop(o, "rider-7", T0)
    dl.delivery_picked_up(o, "rider-7", T0)
    assert o.status is S.PACKED  # the move out is inventory's OrderHandedOver(to=rider)
    shop.handed_over(o, "rider", "rider-7", T0)
    assert o.status is S.OUT_FOR_DELIVERY
    dl.rider_at_door(o, "rider-7", T0)
    dl.delivery_completed(o, "rider-7", 400, T0)
    assert o.status is S.DELIVERED
    assert o.tracking.cash_collected_fen == 400
    text = causes(o)
    for step in ("assigned", "at the shop", "picked up", "at the door", "delivered", "¥4.00 paid in cash"):
        assert step in text, step
    assert "246810" not in text
    assert "135790" not in text


def test_dispatch_overtaking_the_shops_handover_still_delivers() -> None:
    o = order(status=S.PACKED)
    dl.delivery_completed(o, "rider-7", None, T0)  # linli.dispatch overtook linli.inventory
    assert [e.status for e in o.timeline if e.status][-2:] == [S.OUT_FOR_DELIVERY, S.DELIVERED]
    shop.handed_over(o, "rider", "rider-7", T0)
    assert o.status is S.DELIVERED
    assert o.timeline[-1].cause == "the shop confirmed the handover to the rider"


def test_a_failed_delivery_then_the_bag_back_at_the_shop() -> None:
    o = order(status=S.OUT_FOR_DELIVERY)
    dl.delivery_failed(o, "rider-7", "nobody home", T0)
    assert o.status is S.DELIVERY_FAILED
    assert o.tracking.failure_reason == "nobody home"
    shop.bag_returned(o, 400, [], "counter", T0)
    assert o.status is S.RETURNED
    assert o.refund_fen == 400


def test_a_locker_order_in_the_locker_then_collected() -> None:
    o = order("locker", S.PACKED)
    dl.locker_reserved(o, "lane-lockers", "A1", "M", T0)
    assert o.tracking.locker == {"site_id": "lane-lockers", "compartment_id": "A1", "size": "M"}
    shop.handed_over(o, "rider", "rider-7", T0)
    dl.locker_deposited(o, "lane-lockers", "A1", "864209", T0 + timedelta(days=1), T0)
    assert o.status is S.IN_LOCKER
    assert o.tracking.locker["code"] == "864209"
    assert "864209" not in str([(e.cause, e.detail) for e in o.timeline])
    dl.locker_collected(o, "lane-lockers", "A1", T0)
    assert o.status is S.COLLECTED


def test_an_expired_locker_goes_back_to_the_shop() -> None:
    o = order("locker", S.OUT_FOR_DELIVERY)
    dl.locker_deposited(o, "lane-lockers", "A1", "864209", T0, T0)
    dl.locker_expired(o, "lane-lockers", "A1", T0)
    assert o.status is S.IN_LOCKER
    assert o.tracking.locker is not None
    assert o.tracking.locker["expired"]
    shop.bag_returned(o, 400, [], "counter", T0)
    assert o.status is S.RETURNED


@pytest.mark.parametrize("status", [S.ACCEPTED, S.PICKING, S.PACKED])
def test_no_rider_is_a_system_cancel_even_after_picking_started(status: OrderStatus) -> None:
    o = order(status=status)
    if status is not S.ACCEPTED:
        with pytest.raises(TransitionRefused, match="can no longer be cancelled"):
            o.cancel(T0, "grandma")  # the shopper still may not
    previous = dl.delivery_abandoned(o, "no_rider", T0)
    assert previous is status
    assert o.status is S.CANCELLED
    assert o.cancel_reason == "no_rider"
    assert o.timeline[-1].detail == {"by": "linli", "reason": "no_rider"}


def test_abandoning_an_order_already_on_its_way_changes_nothing() -> None:
    o = order(status=S.OUT_FOR_DELIVERY)
    assert dl.delivery_abandoned(o, "no_rider", T0) is None
    assert o.status is S.OUT_FOR_DELIVERY
    assert "nothing changed" in o.timeline[-1].cause


def test_late_facts_are_kept_and_change_nothing() -> None:
    o = order()
    o.cancel(T0, "grandma")
    assign(o)
    dl.delivery_completed(o, "rider-7", 400, T0)
    dl.locker_deposited(o, "lane-lockers", "A1", "864209", T0, T0)
    assert o.status is S.CANCELLED
    assert o.tracking.rider is None
    assert o.tracking.locker is None
    assert o.tracking.cash_collected_fen is None
    assert sum("nothing changed" in e.cause for e in o.timeline) == 3
    pickup = order("pickup")
    dl.rider_at_shop(pickup, "rider-7", T0)
    assert "the order is for pickup now" in pickup.timeline[-1].cause


def test_a_pickup_offer_accepted_when_packed_makes_it_ready_at_the_counter() -> None:
    o = order(status=S.PACKED)
    assign(o)
    dl.pickup_offered(o, "no_rider", T0 + timedelta(minutes=5), T0)
    assert dl.open_pickup_offer(o, T0) is not None
    dl.answer_pickup_offer(o, True, "helper-1", T0 + timedelta(minutes=1))
    assert o.status is S.READY_FOR_PICKUP
    assert o.fulfilment_mode == "pickup"
    assert o.fulfilment.switched_from is not None
    assert o.fulfilment.switched_from.mode == "delivery"
    assert o.fulfilment.as_dict()["switched_from"]["mode"] == "delivery"
    assert o.tracking.rider is None
    assert dl.open_pickup_offer(o) is None
    with pytest.raises(dl.PickupOfferRefused, match="already answered: helper-1 accepted"):
        dl.answer_pickup_offer(o, False, "grandma", T0)
    assert dl.delivery_abandoned(o, "no_rider", T0) is None  # dispatch's late word: the shopper collects
    assert o.status is S.READY_FOR_PICKUP
    shop.handed_over(o, "shopper", "counter", T0)
    assert o.status is S.COLLECTED


def test_a_pickup_offer_accepted_while_picking_waits_for_the_bag() -> None:
    o = order(status=S.PICKING)
    dl.pickup_offered(o, "no_rider", T0 + timedelta(minutes=5), T0)
    dl.answer_pickup_offer(o, True, "grandma", T0)
    assert o.status is S.PICKING
    assert o.fulfilment_mode == "pickup"
    shop.order_packed(
        o, Packed(400, 0, 1, 1200, {"location_id": "shop"}, "135790"), 400, [(1, LineOutcome.PICKED, 2, 400)], T0
    )
    assert o.status is S.READY_FOR_PICKUP


def test_a_pickup_offer_can_be_answered_only_while_open() -> None:
    o = order()
    with pytest.raises(dl.PickupOfferRefused, match="no pickup offer"):
        dl.answer_pickup_offer(o, True, "grandma", T0)
    dl.pickup_offered(o, "no_rider", T0 + timedelta(minutes=5), T0)
    with pytest.raises(dl.PickupOfferRefused, match="ran out"):
        dl.answer_pickup_offer(o, True, "grandma", T0 + timedelta(minutes=6))
    assert dl.open_pickup_offer(o, T0 + timedelta(minutes=6)) is None
    dl.answer_pickup_offer(o, False, "grandma", T0 + timedelta(minutes=2))
    assert o.fulfilment_mode == "delivery"
    assert "declined" in o.timeline[-1].cause
    assert dl.delivery_abandoned(o, "no_rider", T0) is S.ACCEPTED
    late = order(status=S.OUT_FOR_DELIVERY)
    dl.pickup_offered(late, "no_rider", T0 + timedelta(minutes=5), T0)
    assert late.tracking.pickup_offer is None
    assert "nothing changed" in late.timeline[-1].cause


def test_tracking_survives_a_round_trip_through_json() -> None:
    o = order(status=S.PACKED)
    dl.delivery_promised(o, T0 + timedelta(minutes=30), 30, T0)
    assign(o, eta_door=T0 + timedelta(minutes=45))
    dl.pickup_offered(o, "no_rider", T0 + timedelta(minutes=5), T0)
    again = Tracking.from_dict(o.tracking.as_dict())
    assert again == o.tracking
    assert again.late_risk is True


def test_who_sees_codes_the_rider_and_dispatchs_steps() -> None:
    o = order("locker", S.OUT_FOR_DELIVERY)
    assign(o)
    dl.locker_deposited(o, "lane-lockers", "A1", "864209", T0 + timedelta(days=1), T0)
    mine, helper, admin = order_json(o, ORDERER), order_json(o, HELPER), order_json(o, ADMIN)
    staff, desk = order_json(o, STAFF), order_json(o, DISPATCHER)
    assert mine["delivery_code"] == helper["delivery_code"] == admin["delivery_code"] == "246810"
    assert staff["delivery_code"] is None
    assert desk["delivery_code"] is None
    assert mine["locker"]["code"] == helper["locker"]["code"] == "864209"
    assert "code" not in admin["locker"]
    assert "code" not in desk["locker"]
    assert mine["rider"] == {
        "rider_id": "rider-7",
        "name": "Rider rider-7",
        "vehicle": "e_bike",
        "assigned_at": T0.isoformat(),
    }
    assert staff["rider"] is None
    assert staff["locker"] is None
    assert desk["rider"] is not None
    assert any(e["detail"].get("step") == "rider_assigned" for e in mine["timeline"])
    assert not any(e["detail"].get("step") == "rider_assigned" for e in staff["timeline"])
    assert staff["status"] == "IN_LOCKER"


def test_orders_applies_every_dispatch_event_in_its_own_group() -> None:
    sub = next(s for s in SUBSCRIPTIONS if s.topic == DISPATCH)
    assert sub.group == "orders-dispatch"
    assert set(sub.handlers) == {cls for cls in event_types().values() if cls.topic == DISPATCH}


def test_a_locker_order_names_a_well_formed_site_and_may_leave_out_the_address() -> None:
    body = {"store_id": "shop", "lines": [{"product_id": "water", "quantity": 1}]}
    locker = PlaceOrder.model_validate({**body, "fulfilment": {"mode": "locker", "site_id": "lane-lockers"}})
    assert locker.fulfilment.model_dump() == {"mode": "locker", "site_id": "lane-lockers", "address": None}
    with_home = PlaceOrder.model_validate({**body, "fulfilment": {"mode": "locker", "site_id": "A.1", "address": HOME}})
    assert with_home.fulfilment.model_dump()["address"] == HOME
    for bad in (
        {"mode": "locker"},
        {"mode": "locker", "site_id": ""},
        {"mode": "locker", "site_id": "../x"},
        {"mode": "locker", "site_id": "a b"},
        {"mode": "locker", "site_id": "x" * 101},
    ):
        with pytest.raises(ValidationError):
            PlaceOrder.model_validate({**body, "fulfilment": bad})
