"""Orders reacting to dispatch, against real PostgreSQL: what a delivery order carries, the rider's steps
on the order, the pickup offer answered, the no-rider cancel, and a locker order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from services.orders.domain.basket import Wanted
from services.orders.service_layer import delivery, fulfilment, ordering, payments
from shared.auth import Principal
from shared.errors import Refusal
from shared.events.contracts import (
    BagReturned,
    DeliveryAbandoned,
    DeliveryCompleted,
    DeliveryPickedUp,
    DeliveryPromised,
    EtaUpdated,
    HandoverTo,
    LineOutcome,
    LockerDeposited,
    LockerExpired,
    LockerReserved,
    LockerSiteUpdated,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PickingStarted,
    PickupOffered,
    PickupPoint,
    RiderAssigned,
    RiderAtDoor,
    RiderAtShop,
    ShopAccepted,
    StockReserved,
)
from shared.vocabulary.roles import Role
from tests.integration.orders.conftest import (
    GRANDMA,
    HOME,
    changed_once,
    corner_shop,
    handle,
    outbox,
    place,
    run,
    seed,
    shop_product,
    view,
)

ADMIN = Principal("ops", Role.ADMIN)
STAFF = Principal("counter", Role.STORE_STAFF, store="shop")


@pytest.fixture(autouse=True)
async def the_corner_shop(orders_pool: asyncpg.Pool) -> None:
    await seed(
        orders_pool,
        corner_shop(),
        shop_product("water", "水", "Water", "drinks", 200),
        LockerSiteUpdated(site_id="lane-lockers", name="Lane lockers", lat=32.0427, lon=118.7872, free={"M": 2}),
    )


async def place_water(pool: asyncpg.Pool, fulfilment_: dict[str, Any], phone: str | None = "+86 138 0000 0000") -> str:
    await run(pool, payments.top_up, ADMIN, GRANDMA.subject, 10_000, "prepaid at the service centre")
    order = await place(pool, fulfilment_, store_id="shop", wanted=[Wanted("water", 2)], contact_phone=phone)
    return order.id


async def packed(pool: asyncpg.Pool, order_id: str) -> dict[str, Any]:
    """Reserved, accepted, picked and packed, as inventory reports it."""
    base = {"order_id": order_id, "store_id": "shop"}
    await handle(
        pool,
        ordering.on_stock_reserved,
        StockReserved(**base, lines=[], accept_deadline=datetime.now(UTC) + timedelta(minutes=3)),
    )
    await handle(pool, ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="counter"))
    await handle(pool, fulfilment.on_picking_started, PickingStarted(**base, location_id="shop", by="counter"))
    await handle(
        pool,
        fulfilment.on_order_packed,
        OrderPacked(
            **base,
            shown_fen=400,
            final_fen=400,
            difference_fen=0,
            bags=1,
            weight_g=1200,
            handover_code="135790",
            pickup_point=PickupPoint(location_id="shop", name_zh="小店", name_en="Corner shop"),
            lines=[PackedLine(line_no=1, product_id="water", outcome=LineOutcome.PICKED, quantity=2, price_fen=400)],
        ),
    )
    return base


async def test_delivery_and_locker_orders_carry_what_dispatch_needs(orders_pool: asyncpg.Pool) -> None:
    delivered = await place_water(orders_pool, {"mode": "delivery", "address": HOME})
    locker = await place_water(orders_pool, {"mode": "locker", "site_id": "lane-lockers", "address": None}, phone=None)
    pickup = await place_water(orders_pool, {"mode": "pickup"})
    by_id = {p["order_id"]: p for p in await outbox(orders_pool, "OrderPlaced")}

    to_door = by_id[delivered]
    assert to_door["address"] == HOME
    assert to_door["contact_phone"] == "+86 138 0000 0000"
    assert to_door["locker_site_id"] is None
    code = to_door["delivery_code"]
    assert len(code) == 6
    assert code.isdigit()
    assert (await view(orders_pool, delivered))["delivery_code"] == code
    assert (await view(orders_pool, delivered, ADMIN))["delivery_code"] == code
    assert (await view(orders_pool, delivered, STAFF))["delivery_code"] is None

    to_locker = by_id[locker]
    assert (to_locker["fulfilment_mode"], to_locker["locker_site_id"], to_locker["address"]) == (
        "locker",
        "lane-lockers",
        None,
    )
    assert len(to_locker["delivery_code"]) == 6
    assert by_id[pickup]["delivery_code"] is None
    assert by_id[pickup]["address"] is None
    assert (await view(orders_pool, pickup))["delivery_code"] is None


async def test_a_delivery_from_the_promise_to_the_door(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_water(orders_pool, {"mode": "delivery", "address": HOME})
    base = {"order_id": order_id, "store_id": "shop"}
    promised = datetime.now(UTC) + timedelta(minutes=30)
    await handle(orders_pool, delivery.on_delivery_promised, DeliveryPromised(**base, promised_at=promised, minutes=30))
    await packed(orders_pool, order_id)
    await handle(
        orders_pool,
        delivery.on_rider_assigned,
        RiderAssigned(
            **base,
            rider_id="rider-7",
            rider_name="Wang",
            vehicle="e_bike",
            eta_shop_at=promised - timedelta(minutes=20),
            eta_door_at=promised - timedelta(minutes=5),
            assigned_by="dispatch",
        ),
    )
    await handle(orders_pool, delivery.on_rider_at_shop, RiderAtShop(**base, rider_id="rider-7"))
    await handle(
        orders_pool,
        delivery.on_delivery_picked_up,
        DeliveryPickedUp(**base, rider_id="rider-7", handover_code="135790"),
    )
    shown = await view(orders_pool, order_id)
    assert shown["status"] == "PACKED"  # OUT_FOR_DELIVERY is inventory's word
    await handle(
        orders_pool, fulfilment.on_order_handed_over, OrderHandedOver(**base, to=HandoverTo.RIDER, by="rider-7")
    )
    await handle(
        orders_pool,
        delivery.on_eta_updated,
        EtaUpdated(**base, eta_door_at=promised + timedelta(minutes=4), late_risk=True),
    )
    shown = await view(orders_pool, order_id)
    assert shown["status"] == "OUT_FOR_DELIVERY"
    assert shown["promised_at"] == promised.isoformat()
    assert shown["eta_door_at"] == (promised + timedelta(minutes=4)).isoformat()
    assert shown["late_risk"] is True
    assert (shown["rider"]["name"], shown["rider"]["vehicle"]) == ("Wang", "e_bike")
    staff = await view(orders_pool, order_id, STAFF)
    assert staff["rider"] is None
    assert staff["promised_at"] is None
    assert "at the shop" not in str(staff["timeline"])

    await handle(orders_pool, delivery.on_rider_at_door, RiderAtDoor(**base, rider_id="rider-7"))
    done = DeliveryCompleted(**base, rider_id="rider-7", cash_collected_fen=400)
    await handle(orders_pool, delivery.on_delivery_completed, done)
    await handle(orders_pool, delivery.on_delivery_completed, done)  # a redelivery is a harmless late fact
    shown = await view(orders_pool, order_id)
    assert shown["status"] == "DELIVERED"
    assert shown["cash_collected_fen"] == 400
    causes = " ".join(e["cause"] for e in shown["timeline"])
    for step in ("promised", "assigned", "at the shop", "picked up", "at the door", "running late", "delivered"):
        assert step in causes, step
    assert shown["delivery_code"] not in str(shown["timeline"])
    assert "135790" not in str(shown["timeline"])


async def answer(
    pool: asyncpg.Pool, principal: Principal, order_id: str, accept: bool, key: str | None = None
) -> tuple[int, Any]:
    fingerprint = f"pickup-offer-{order_id}-{accept}"
    return await changed_once(pool, principal, key, fingerprint, delivery.answer_pickup_offer, order_id, accept)


async def test_no_rider_and_a_declined_offer_cancel_a_packed_order(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_water(orders_pool, {"mode": "delivery", "address": HOME})
    base = await packed(orders_pool, order_id)
    with pytest.raises(Refusal) as nothing_offered:
        await answer(orders_pool, GRANDMA, order_id, True)
    assert nothing_offered.value.status_code == 409
    answer_by = datetime.now(UTC) + timedelta(minutes=5)
    await handle(orders_pool, delivery.on_pickup_offered, PickupOffered(**base, reason="no_rider", answer_by=answer_by))
    shown = await view(orders_pool, order_id)
    assert shown["pickup_offer"] == {
        "reason": "no_rider",
        "answer_by": answer_by.isoformat(),
        "offered_at": shown["pickup_offer"]["offered_at"],
    }
    _, declined = await answer(orders_pool, GRANDMA, order_id, False)
    assert declined["pickup_offer"] is None
    assert declined["status"] == "PACKED"
    [choice] = await outbox(orders_pool, "PickupChoiceMade")
    assert (choice["accepted"], choice["by"]) == (False, "grandma")

    abandoned = DeliveryAbandoned(**base, reason="no_rider")
    await handle(orders_pool, delivery.on_delivery_abandoned, abandoned)
    await handle(orders_pool, delivery.on_delivery_abandoned, abandoned)  # again: a fact, no second cancel
    shown = await view(orders_pool, order_id)
    assert (shown["status"], shown["cancel_reason"]) == ("CANCELLED", "no_rider")
    [cancelled] = await outbox(orders_pool, "OrderCancelled")
    assert (cancelled["reason"], cancelled["cancelled_by"], cancelled["previous_status"]) == (
        "no_rider",
        "linli",
        "PACKED",
    )
    with pytest.raises(Refusal) as too_late:
        await answer(orders_pool, GRANDMA, order_id, True)
    assert too_late.value.status_code == 409
    assert "already answered" in too_late.value.message


async def test_an_accepted_offer_turns_the_order_into_a_pickup(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_water(orders_pool, {"mode": "delivery", "address": HOME})
    base = await packed(orders_pool, order_id)
    await handle(
        orders_pool,
        delivery.on_pickup_offered,
        PickupOffered(**base, reason="no_rider", answer_by=datetime.now(UTC) + timedelta(minutes=5)),
    )
    with pytest.raises(Refusal) as admin:
        await answer(orders_pool, ADMIN, order_id, True)
    assert admin.value.status_code == 403
    with pytest.raises(Refusal) as stranger:
        await answer(orders_pool, Principal("neighbour", Role.SHOPPER), order_id, True)
    assert stranger.value.status_code == 404
    key = str(uuid.uuid4())
    first = await answer(orders_pool, GRANDMA, order_id, True, key)
    assert await answer(orders_pool, GRANDMA, order_id, True, key) == first  # a retry, not a 409
    status, shown = first
    assert status == 200
    assert shown["status"] == "READY_FOR_PICKUP"
    assert shown["fulfilment"]["mode"] == "pickup"
    assert shown["handover_code"] == "135790"
    [choice] = await outbox(orders_pool, "PickupChoiceMade")
    assert choice["accepted"] is True
    await handle(orders_pool, delivery.on_delivery_abandoned, DeliveryAbandoned(**base, reason="no_rider"))
    assert await outbox(orders_pool, "OrderCancelled") == []
    await handle(
        orders_pool, fulfilment.on_order_handed_over, OrderHandedOver(**base, to=HandoverTo.SHOPPER, by="counter")
    )
    assert (await view(orders_pool, order_id))["status"] == "COLLECTED"


async def test_an_unanswered_offer_cancels_an_order_still_being_picked(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_water(orders_pool, {"mode": "delivery", "address": HOME})
    base = {"order_id": order_id, "store_id": "shop"}
    await handle(
        orders_pool,
        ordering.on_stock_reserved,
        StockReserved(**base, lines=[], accept_deadline=datetime.now(UTC) + timedelta(minutes=3)),
    )
    await handle(orders_pool, ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="counter"))
    await handle(orders_pool, fulfilment.on_picking_started, PickingStarted(**base, location_id="shop", by="c"))
    await handle(
        orders_pool,
        delivery.on_pickup_offered,
        PickupOffered(**base, reason="no_rider", answer_by=datetime.now(UTC) - timedelta(seconds=1)),
    )
    with pytest.raises(Refusal) as expired:
        await answer(orders_pool, GRANDMA, order_id, True)
    assert expired.value.status_code == 409
    assert "ran out" in expired.value.message
    await handle(orders_pool, delivery.on_delivery_abandoned, DeliveryAbandoned(**base, reason="no_rider"))
    [cancelled] = await outbox(orders_pool, "OrderCancelled")
    assert (cancelled["reason"], cancelled["previous_status"]) == ("no_rider", "PICKING")
    assert "no_rider" in str((await view(orders_pool, order_id))["timeline"])


async def test_a_locker_order_deposited_expired_and_returned(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_water(orders_pool, {"mode": "locker", "site_id": "lane-lockers", "address": None})
    base = await packed(orders_pool, order_id)
    await handle(
        orders_pool,
        delivery.on_locker_reserved,
        LockerReserved(**base, site_id="lane-lockers", compartment_id="A1", size="M"),
    )
    await handle(
        orders_pool, fulfilment.on_order_handed_over, OrderHandedOver(**base, to=HandoverTo.RIDER, by="rider-7")
    )
    collect_by = datetime.now(UTC) + timedelta(days=1)
    await handle(
        orders_pool,
        delivery.on_locker_deposited,
        LockerDeposited(**base, site_id="lane-lockers", compartment_id="A1", code="864209", collect_by=collect_by),
    )
    shown = await view(orders_pool, order_id)
    assert shown["status"] == "IN_LOCKER"
    assert shown["locker"] == {
        "site_id": "lane-lockers",
        "compartment_id": "A1",
        "size": "M",
        "code": "864209",
        "collect_by": collect_by.isoformat(),
    }
    assert "code" not in (await view(orders_pool, order_id, ADMIN))["locker"]
    assert "864209" not in str(shown["timeline"])
    await handle(
        orders_pool, delivery.on_locker_expired, LockerExpired(**base, site_id="lane-lockers", compartment_id="A1")
    )
    await handle(orders_pool, fulfilment.on_bag_returned, BagReturned(**base, lines=[], refund_fen=400, by="counter"))
    shown = await view(orders_pool, order_id)
    assert shown["status"] == "RETURNED"
    assert shown["refund_fen"] == 400
    assert shown["locker"]["expired"] is True
    assert "code" not in shown["locker"]
