"""What dispatch does with the events of orders, inventory and the catalog, and its own deadlines."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from services.dispatch.domain.assignment import promise
from services.dispatch.domain.delivery import BEFORE_PICKUP, DROPPABLE, DeliveryStatus
from services.dispatch.domain.eta import ready_at
from services.dispatch.service_layer import lockers
from services.dispatch.service_layer.assigning import NO_RIDER, PICKUP_ANSWER, no_rider_limit_s, release_rider
from services.dispatch.service_layer.riders import rider_views
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import (
    DeliveryAbandoned,
    DeliveryPromised,
    HandoverTo,
    LocationUpserted,
    OrderAccepted,
    OrderHandedOver,
    OrderPacked,
    OrderPlaced,
    PickupChoiceMade,
    PickupOffered,
    RiderUnassigned,
)
from shared.vocabulary.geo import Point

CARRIED_MODES = ("delivery", "locker")


async def on_order_placed(uow: UnitOfWork, event: OrderPlaced) -> None:
    """A delivery for every delivery or locker order, and a promised time for its door."""
    if event.fulfilment_mode not in CARRIED_MODES:
        return
    now = uow.now()
    shop = await uow.repo.shop(event.store_id)
    site = await uow.repo.site(event.locker_site_id) if event.locker_site_id else None
    address = event.address.model_dump() if event.address else None
    if address is None and site is not None:
        address = {"text": site["name"], "lat": site["lat"], "lon": site["lon"]}
    queued = await uow.repo.queued_at(event.store_id)
    ready = ready_at(now, shop["picking_minutes"] if shop else 10, queued)
    pickup = Point(shop["lat"], shop["lon"]) if shop else None
    door = Point(address["lat"], address["lon"]) if address else None
    pickup, door = pickup or door, door or pickup
    if pickup is None or door is None:
        promised = ready + timedelta(minutes=30)
    else:
        promised = promise(pickup, door, ready, await rider_views(uow), now)
    added = await uow.repo.add({
        "order_id": event.order_id, "store_id": event.store_id, "mode": event.fulfilment_mode,
        "status": DeliveryStatus.PENDING.value, "placed_by": event.placed_by, "placed_for": event.placed_for,
        "address": address, "contact_phone": event.contact_phone, "note": event.note,
        "delivery_code": event.delivery_code, "locker_site_id": event.locker_site_id,
        "call_first": event.flags.call_before_delivery, "pay_on_delivery": event.flags.pay_on_delivery,
        "total_fen": event.total_fen, "ready_at": ready, "promised_at": promised})
    if not added:
        return
    minutes = max(0, math.ceil((promised - now).total_seconds() / 60))
    await uow.publish(DeliveryPromised(order_id=event.order_id, store_id=event.store_id, promised_at=promised,
                                       minutes=minutes))


async def on_order_accepted(uow: UnitOfWork, event: OrderAccepted) -> None:
    """The delivery needs a rider now; the no-rider clock starts."""
    d = await uow.repo.get(event.order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) is not DeliveryStatus.PENDING:
        return
    now = uow.now()
    await uow.repo.update(event.order_id, status=DeliveryStatus.OPEN.value, opened_at=now)
    limit = await no_rider_limit_s(uow, event.store_id)
    await uow.schedule(NO_RIDER, event.order_id, now + timedelta(seconds=limit))
    uow.note("delivery_open", {"store_id": event.store_id}, event.order_id, to_order=True)


async def drop(uow: UnitOfWork, order_id: str, reason: str) -> bool:
    """The order will not be carried: offers withdrawn, rider and compartment freed, deadlines cancelled."""
    d = await uow.repo.get(order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) not in DROPPABLE:
        return False
    now = uow.now()
    await uow.repo.withdraw_offers(now, reason, order_id=order_id)
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    if d["compartment_id"]:
        await lockers.release(uow, d)
    await uow.repo.update(order_id, status=DeliveryStatus.DROPPED.value, finished_at=now)
    if d["rider_id"] and DeliveryStatus(d["status"]) in BEFORE_PICKUP:
        await uow.publish(RiderUnassigned(order_id=order_id, store_id=d["store_id"], rider_id=d["rider_id"],
                                          reason=reason))
        await release_rider(uow, d["rider_id"])
    uow.note("delivery_dropped", {"reason": reason}, order_id, to_order=True)
    return True


async def on_pickup_choice(uow: UnitOfWork, event: PickupChoiceMade) -> None:
    if event.accepted:
        await drop(uow, event.order_id, "switched to pickup")
        return
    await abandon(uow, event.order_id)


async def abandon(uow: UnitOfWork, order_id: str) -> None:
    d = await uow.repo.get(order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) not in (DeliveryStatus.PICKUP_OFFERED, DeliveryStatus.OPEN):
        return
    await uow.repo.withdraw_offers(uow.now(), "abandoned", order_id=order_id)
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    if d["compartment_id"]:
        await lockers.release(uow, d)
    await uow.repo.update(order_id, status=DeliveryStatus.ABANDONED.value, finished_at=uow.now())
    await uow.publish(DeliveryAbandoned(order_id=order_id, store_id=d["store_id"], reason="no_rider"))


async def on_no_rider_deadline(uow: UnitOfWork, order_id: str) -> None:
    """Nobody took it in time: offer the shopper to collect it themselves."""
    d = await uow.repo.get(order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) is not DeliveryStatus.OPEN:
        return
    now = uow.now()
    answer_by = now + timedelta(seconds=uow.settings.pickup_offer_answer_s)
    await uow.repo.withdraw_offers(now, "no rider in time", order_id=order_id)
    await uow.repo.update(order_id, status=DeliveryStatus.PICKUP_OFFERED.value, answer_by=answer_by)
    await uow.schedule(PICKUP_ANSWER, order_id, answer_by)
    await uow.publish(PickupOffered(order_id=order_id, store_id=d["store_id"], reason="no_rider",
                                    answer_by=answer_by))
    message = f"no rider took order {order_id}: the shopper is offered pickup until {answer_by:%H:%M}"
    await uow.repo.alert("no_rider", message, order_id)
    uow.note("alert", {"kind": "no_rider", "message": message}, order_id)


async def on_pickup_answer_deadline(uow: UnitOfWork, order_id: str) -> None:
    d = await uow.repo.get(order_id, lock=True)
    if d is not None and DeliveryStatus(d["status"]) is DeliveryStatus.PICKUP_OFFERED:
        await abandon(uow, order_id)


async def on_order_packed(uow: UnitOfWork, event: OrderPacked, packed_at: Any) -> None:
    d = await uow.repo.get(event.order_id, lock=True)
    if d is None:
        return
    pickup = event.pickup_point.location_id
    known = await uow.repo.shop(pickup) is not None
    await uow.repo.update(event.order_id, bags=event.bags, weight_g=event.weight_g,
                          call_first=d["call_first"] or event.flags.call_before_delivery,
                          pay_on_delivery=d["pay_on_delivery"] or event.flags.pay_on_delivery,
                          handover_code=event.handover_code, packed_at=packed_at, ready_at=packed_at,
                          pickup_location=pickup if known else None)
    uow.note("packed", {"bags": event.bags, "weight_g": event.weight_g}, event.order_id, to_order=True)


async def on_handed_over(uow: UnitOfWork, event: OrderHandedOver) -> None:
    """The bag is with the rider, also when the counter staff entered the code themselves."""
    if event.to is not HandoverTo.RIDER:
        return
    d = await uow.repo.get(event.order_id, lock=True)
    if d is None or DeliveryStatus(d["status"]) not in BEFORE_PICKUP:
        return
    now = uow.now()
    await uow.repo.update(event.order_id, status=DeliveryStatus.PICKED_UP.value, picked_up_at=now,
                          at_shop_at=d["at_shop_at"] or now)
    uow.note("picked_up", {"rider_id": d["rider_id"], "by": event.by}, event.order_id, to_order=True)


async def on_location(uow: UnitOfWork, event: LocationUpserted) -> None:
    await uow.repo.upsert_shop({
        "location_id": event.location_id, "parent_id": event.parent_id, "name_zh": event.name_zh,
        "name_en": event.name_en, "lat": event.lat, "lon": event.lon, "picking_minutes": event.picking_minutes,
        "no_rider_limit_s": getattr(event, "no_rider_limit_s", None)})
