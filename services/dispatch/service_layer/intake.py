"""What dispatch does with the events of orders, inventory and the catalog, and its own deadlines.

Each use case is `(uow, event)` or `(uow, deadline)`; the consumer or the scheduler opens the unit
of work around it. Events that come late (the delivery already moved on) change nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from services.dispatch.adapters.places import Shop
from services.dispatch.domain.delivery import BEFORE_PICKUP, Delivery, DeliveryStatus, Happening, Packing
from services.dispatch.domain.eta import ready_at
from services.dispatch.domain.promises import (
    PROMISE_TOLERANCE,
    Ahead,
    Forecast,
    PromiseHistory,
    PromiseMove,
    adopt,
    load_band,
    promised_minutes,
    quote_shop,
    slot_times,
)
from services.dispatch.service_layer import lockers, quoting
from services.dispatch.service_layer.assigning import NO_RIDER, PICKUP_ANSWER, follow_load
from services.dispatch.service_layer.riders import withdraw_offers
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.deadlines import Deadline
from shared.events.contracts import (
    DeliveryAbandoned,
    DeliveryAddress,
    DeliveryPromised,
    HandoverTo,
    LocationUpserted,
    OrderAccepted,
    OrderCancelled,
    OrderConfirmed,
    OrderHandedOver,
    OrderPacked,
    OrderPlaced,
    OrderRated,
    OrderRejected,
    PickupChoiceMade,
    PickupOffered,
    RiderUnassigned,
)
from shared.events.envelope import Event, RawEnvelope
from shared.vocabulary.geo import Point
from shared.vocabulary.money import due_at_door
from shared.vocabulary.promise import door_minutes

E = TypeVar("E", bound=Event)
Run = Sequence[tuple[RawEnvelope | None, E]]  # events in offset order; no envelope when a test calls alone


async def on_order_placed(uow: DispatchUnitOfWork, event: OrderPlaced) -> None:
    """A delivery for every delivery or locker order, and a promised time for its door.

    A slot order is promised by the end of its slot and will be packed from its release, not from now.
    """
    await on_orders_placed(uow, [(uow.cause, event)])


async def on_orders_placed(uow: DispatchUnitOfWork, items: Run[OrderPlaced]) -> None:
    """OrderPlaced for a run of orders, set-based: the shops, the queues, the riders and the orders
    already known are read once, the new deliveries written in one statement. Each order is promised
    as if the run's earlier ones had been placed before it (they join the shop's queue)."""
    run = [(env, e) for env, e in items if e.fulfilment_mode.dispatched]
    if not run:
        return
    now = uow.now()
    store_ids = sorted({e.store_id for _, e in run})
    shops = await uow.shops.get_many(store_ids)
    site_ids = sorted({e.locker_site_id for _, e in run if e.locker_site_id})
    sites = {i: s for i in site_ids if (s := await uow.lockers.site(i)) is not None}
    known = await uow.deliveries.known([e.order_id for _, e in run])
    queued = await uow.deliveries.queued_many(store_ids, now)
    promiser = _Promiser(uow)
    new: list[tuple[RawEnvelope | None, Delivery, PromiseMove | None]] = []
    for env, event in run:
        shop = shops.get(event.store_id)
        picking = shop.picking_minutes if shop else 10
        site = sites.get(event.locker_site_id) if event.locker_site_id else None
        address = event.address
        if address is None and site is not None:
            address = DeliveryAddress(text=site.name, lat=site.lat, lon=site.lon)
        move: PromiseMove | None = None
        if event.slot is not None and event.release_at is not None:
            times = slot_times(event.release_at, event.slot.end, picking, now)
            ready, promised = times.ready_at, times.promised_at
        else:
            ready = ready_at(now, picking, queued.get(event.store_id, 0))
            pickup = Point(shop.lat, shop.lon) if shop else None
            door = Point(address.lat, address.lon) if address else None
            pickup, door = pickup or door, door or pickup
            move = await promiser.promise(event, pickup, door, ready)
            promised = move.promised_at if move else (event.promised_at or ready + timedelta(minutes=30))
        if event.order_id in known:
            continue  # a redelivered OrderPlaced: the order has its delivery
        known.add(event.order_id)
        delivery = _delivery(event, address, ready, promised)
        promiser.keep_base(delivery)
        if delivery.release_at is None or delivery.release_at <= now:
            queued[event.store_id] = queued.get(event.store_id, 0) + 1
        new.append((env, delivery, move))
    added = await uow.deliveries.add_many([d for _, d, _ in new])
    for env, d, move in new:
        if d.order_id not in added:
            continue
        if env is not None:
            uow.cause = env
        assert d.promised_at is not None
        placed_with = next((e.promised_at for _, e in run if e.order_id == d.order_id), None)
        if move is not None:
            uow.note("promise_moved", {"promised_at": d.promised_at.isoformat(), "reason": move.reason}, d.order_id)
        await uow.publish(
            DeliveryPromised(
                order_id=d.order_id,
                store_id=d.store_id,
                promised_at=d.promised_at,
                minutes=promised_minutes(d.promised_at, now),
                reason=move.reason if move else None,
                previous_promised_at=placed_with if move else None,
            )
        )


class _Promiser:
    """A run's promises: the load read and forecast once, each order then joining it ahead of the next."""

    def __init__(self, uow: DispatchUnitOfWork, without: frozenset[str] = frozenset()) -> None:
        self.uow = uow
        self.without = without  # the run's own orders, already in the database: not ahead of themselves
        self.ahead = 0
        self.per_shop: Counter[str] = Counter()
        self.forecast: Forecast | None = None
        self.history: PromiseHistory | None = None
        self.base: dict[str, tuple[datetime, int]] = {}  # per order: the forecast without slack, its band

    async def door_at(
        self, store_id: str, pickup: Point, door: Point, ready: datetime, order_id: str = ""
    ) -> datetime | None:
        """The forecast's promise for an order from `pickup` to `door`, which then joins the load; its
        base (the door without slack) and load band are kept under `order_id` for the history."""
        now = self.uow.now()
        if self.forecast is None:
            current = await quoting.load(self.uow, without=self.without)
            self.forecast = Forecast(current.couriers, now).add_all(current.ahead)
            self.ahead = len(current.ahead)
            self.per_shop = Counter(a.store_id for a in current.ahead)
            self.history = await quoting.history(self.uow)
        ready_s, mine = (ready - now).total_seconds(), self.per_shop[store_id]
        quote = quote_shop(
            store_id, pickup, ready_s, self.forecast.crew, ahead=self.ahead, shop_ahead=mine, history=self.history
        )
        minutes = quote.door_minutes(pickup, door)
        base = door_minutes(quote.ready_minutes, quote.chances, 0, pickup, door)
        if base is not None and order_id:
            self.base[order_id] = (now + timedelta(minutes=base), load_band(quote.ready_s, dict(quote.pickups)))
        self.forecast.add(Ahead(store_id, pickup, door, ready))  # the run's next order has it ahead
        self.ahead += 1
        self.per_shop[store_id] += 1
        return None if minutes is None else now + timedelta(minutes=minutes)

    def keep_base(self, d: Delivery) -> None:
        """The delivery remembers the forecast it was promised from: its miss teaches the history."""
        if d.order_id in self.base:
            d.promise_base_at, d.promise_band = self.base[d.order_id]

    async def promise(
        self, event: OrderPlaced, pickup: Point | None, door: Point | None, ready: datetime
    ) -> PromiseMove | None:
        """None: the order keeps the promise it was placed with; else the promise dispatch sets, and why."""
        now = self.uow.now()
        forecast_at: datetime | None = None
        if pickup is not None and door is not None:
            forecast_at = await self.door_at(event.store_id, pickup, door, ready, event.order_id)
        move = adopt(event.promised_at, forecast_at, now)
        if move is None and event.promised_at is None:  # no rider on shift within the horizon
            move = PromiseMove(ready + timedelta(minutes=30), "no rider on shift now: a slow promise")
        return move


def _delivery(event: OrderPlaced, address: DeliveryAddress | None, ready: datetime, promised: datetime) -> Delivery:
    return Delivery(
        order_id=event.order_id,
        store_id=event.store_id,
        mode=event.fulfilment_mode,
        placed_by=event.placed_by,
        placed_for=event.placed_for,
        address=address,
        contact_phone=event.contact_phone,
        note=event.note,
        delivery_code=event.delivery_code,
        locker_site_id=event.locker_site_id,
        call_first=event.flags.call_before_delivery,
        pay_on_delivery=event.flags.pay_on_delivery or event.payment == "on_delivery",
        payment=event.payment,
        delivery_fee_fen=event.delivery_fee_fen,
        platform_fee_fen=event.platform_fee_fen,
        total_fen=event.total_fen,
        ready_at=ready,
        promised_at=promised,
        release_at=event.release_at,
        slot_start=event.slot.start if event.slot else None,
        slot_end=event.slot.end if event.slot else None,
    )


async def on_order_confirmed(uow: DispatchUnitOfWork, event: OrderConfirmed) -> None:
    """Nothing to plan yet: the order log records it (see tracking.py)."""


async def on_order_accepted(uow: DispatchUnitOfWork, event: OrderAccepted) -> None:
    """The delivery needs a rider now; the no-rider clock starts."""
    await on_orders_accepted(uow, [(uow.cause, event)])


async def on_orders_accepted(uow: DispatchUnitOfWork, items: Run[OrderAccepted]) -> None:
    """OrderAccepted for a run: the deliveries loaded (and locked) in one statement, saved in one."""
    found = {d.order_id: d for d in await uow.deliveries.get_many([e.order_id for _, e in items], lock=True)}
    shops = await uow.shops.get_many(sorted({e.store_id for _, e in items}))
    opened: dict[str, Delivery] = {}
    for _, event in items:
        d = found.get(event.order_id)
        if d is None or not d.can(Happening.ACCEPTED):
            continue
        d.open(uow.now())
        opened[d.order_id] = d
        shop = shops.get(event.store_id)
        limit = _no_rider_limit(uow, shop)
        await uow.schedule(NO_RIDER, event.order_id, uow.now() + timedelta(seconds=limit))
        uow.note("delivery_open", {"store_id": event.store_id}, event.order_id, to_order=True)
    moved = await _keep_or_move(uow, list(opened.values()), shops)
    await uow.deliveries.save_many(list(opened.values()))
    for d, previous, reason in moved:
        assert d.promised_at is not None
        uow.note("promise_moved", {"promised_at": d.promised_at.isoformat(), "reason": reason}, d.order_id)
        await uow.publish(
            DeliveryPromised(
                order_id=d.order_id,
                store_id=d.store_id,
                promised_at=d.promised_at,
                minutes=promised_minutes(d.promised_at, uow.now()),
                reason=reason,
                previous_promised_at=previous,
            )
        )


async def _keep_or_move(
    uow: DispatchUnitOfWork, opened: list[Delivery], shops: dict[str, Shop]
) -> list[tuple[Delivery, datetime, str]]:
    """A shop that accepts late can make the promise unkeepable: picking starts now. When the forecast
    from now is more than the tolerance past the promise, the promise moves, saying why."""
    now = uow.now()
    due = [d for d in opened if d.slot_end is None and d.promised_at and d.shop and d.door]
    if not due:
        return []
    promiser = _Promiser(uow, frozenset(d.order_id for d in due))
    moved: list[tuple[Delivery, datetime, str]] = []
    for d in due:
        shop, pickup, door, promised = shops.get(d.store_id), d.shop, d.door, d.promised_at
        if pickup is None or door is None or promised is None:
            continue
        picking = timedelta(minutes=shop.picking_minutes if shop else 10)
        ready = max(d.ready_at or now, now + picking)
        forecast_at = await promiser.door_at(d.store_id, pickup, door, ready, d.order_id)
        promiser.keep_base(d)  # the forecast from the shop's acceptance: picking starts now
        if forecast_at is None or forecast_at - promised <= PROMISE_TOLERANCE:
            continue  # kept (with no rider to forecast from, the promise stays as it was)
        later = math.ceil((forecast_at - promised).total_seconds() / 60)
        accepted_at = now.astimezone(ZoneInfo(uow.settings.timezone))
        d.promised_at = forecast_at
        moved.append(
            (d, promised, f"the shop accepted it only at {accepted_at:%H:%M}: {later} min later than promised")
        )
    return moved


def _no_rider_limit(uow: DispatchUnitOfWork, shop: Shop | None) -> float:
    if shop is not None and shop.no_rider_limit_s is not None:
        return float(shop.no_rider_limit_s)
    return uow.settings.no_rider_limit_s


async def on_order_cancelled(uow: DispatchUnitOfWork, event: OrderCancelled) -> None:
    await drop(uow, event.order_id, f"order cancelled ({event.reason})")


async def on_order_rejected(uow: DispatchUnitOfWork, event: OrderRejected) -> None:
    await drop(uow, event.order_id, "order rejected")


async def drop(uow: DispatchUnitOfWork, order_id: str, reason: str) -> bool:
    """The order will not be carried: offers withdrawn, rider and compartment freed, deadlines cancelled."""
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None or not d.can(Happening.DROPPED):
        return False
    had_rider = d.rider_id if d.status in BEFORE_PICKUP else None
    await withdraw_offers(uow, reason, order_id=order_id)
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    if d.compartment_id:
        await lockers.release(uow, d)
    d.drop(uow.now())
    await uow.deliveries.save(d)
    if had_rider:
        await uow.publish(RiderUnassigned(order_id=order_id, store_id=d.store_id, rider_id=had_rider, reason=reason))
        await follow_load(uow, had_rider)
    uow.note("delivery_dropped", {"reason": reason}, order_id, to_order=True)
    return True


async def on_pickup_choice(uow: DispatchUnitOfWork, event: PickupChoiceMade) -> None:
    if event.accepted:
        await drop(uow, event.order_id, "switched to pickup")
        return
    await abandon(uow, event.order_id)


async def abandon(uow: DispatchUnitOfWork, order_id: str) -> None:
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None or not d.can(Happening.ABANDONED):
        return
    await withdraw_offers(uow, "abandoned", order_id=order_id)
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    if d.compartment_id:
        await lockers.release(uow, d)
    d.abandon(uow.now())
    await uow.deliveries.save(d)
    await uow.publish(DeliveryAbandoned(order_id=order_id, store_id=d.store_id, reason="no_rider"))


async def on_no_rider_deadline(uow: DispatchUnitOfWork, deadline: Deadline) -> None:
    """Nobody took it in time: offer the shopper to collect it themselves."""
    order_id = deadline.key
    d = await uow.deliveries.get(order_id, lock=True)
    if d is None or not d.can(Happening.NO_RIDER):
        return
    now = uow.now()
    answer_by = now + timedelta(seconds=uow.settings.pickup_offer_answer_s)
    await withdraw_offers(uow, "no rider in time", order_id=order_id)
    d.offer_pickup(answer_by)
    await uow.deliveries.save(d)
    await uow.schedule(PICKUP_ANSWER, order_id, answer_by)
    await uow.publish(PickupOffered(order_id=order_id, store_id=d.store_id, reason="no_rider", answer_by=answer_by))
    message = f"no rider took order {order_id}: the shopper is offered pickup until {answer_by:%H:%M}"
    await uow.alerts.raise_("no_rider", message, order_id)
    uow.note("alert", {"kind": "no_rider", "message": message}, order_id)


async def on_pickup_answer_deadline(uow: DispatchUnitOfWork, deadline: Deadline) -> None:
    """The shopper did not answer the pickup offer in time: the order is abandoned."""
    d = await uow.deliveries.get(deadline.key)
    if d is not None and d.status is DeliveryStatus.PICKUP_OFFERED:
        await abandon(uow, deadline.key)


async def on_order_packed(uow: DispatchUnitOfWork, event: OrderPacked) -> None:
    """The bag's size, where to take it, and for pay on delivery the cash due at the door."""
    await on_orders_packed(uow, [(uow.cause, event)])


async def on_orders_packed(uow: DispatchUnitOfWork, items: Run[OrderPacked]) -> None:
    """OrderPacked for a run: deliveries and pickup points read in one statement each, saved in one."""
    found = {d.order_id: d for d in await uow.deliveries.get_many([e.order_id for _, e in items], lock=True)}
    points = await uow.shops.get_many(sorted({e.pickup_point.location_id for _, e in items}))
    packed: dict[str, Delivery] = {}
    for env, event in items:
        d = found.get(event.order_id)
        if d is None:
            continue
        pickup = event.pickup_point.location_id
        pay_on_delivery = d.pay_on_delivery or event.flags.pay_on_delivery
        due = due_at_door(event.final_fen, d.delivery_fee_fen, d.platform_fee_fen) if pay_on_delivery else None
        d.pack(
            Packing(
                bags=event.bags,
                weight_g=event.weight_g,
                call_first=event.flags.call_before_delivery,
                pay_on_delivery=pay_on_delivery,
                final_fen=event.final_fen,
                due_at_door_fen=due,
                handover_code=event.handover_code,
                packed_at=env.occurred_at if env is not None else uow.now(),
                pickup_location=pickup if pickup in points else None,
                pickup_name_zh=event.pickup_point.name_zh,
                pickup_name_en=event.pickup_point.name_en,
            )
        )
        packed[d.order_id] = d
        uow.note("packed", {"bags": event.bags, "weight_g": event.weight_g}, event.order_id, to_order=True)
    await uow.deliveries.save_many(list(packed.values()))


async def on_handed_over(uow: DispatchUnitOfWork, event: OrderHandedOver) -> None:
    """The bag is with the rider, also when the counter staff entered the code themselves."""
    if event.to is not HandoverTo.RIDER:
        return
    d = await uow.deliveries.get(event.order_id, lock=True)
    if d is None or not d.can(Happening.HANDED_OVER):
        return
    d.handed_over(uow.now())
    await uow.deliveries.save(d)
    uow.note("picked_up", {"rider_id": d.rider_id, "by": event.by}, event.order_id, to_order=True)


async def on_location(uow: DispatchUnitOfWork, event: LocationUpserted) -> None:
    await uow.shops.put(
        Shop(
            location_id=event.location_id,
            parent_id=event.parent_id,
            name_zh=event.name_zh,
            name_en=event.name_en,
            lat=event.lat,
            lon=event.lon,
            picking_minutes=event.picking_minutes,
            no_rider_limit_s=getattr(event, "no_rider_limit_s", None),
            kind=event.kind,
            active=event.active,
        )
    )


async def on_order_rated(uow: DispatchUnitOfWork, event: OrderRated) -> None:
    """The rider's stars count towards their average, once per order."""
    if event.rider_id is None or event.rider_stars is None:
        return
    if await uow.riders.rate(event.order_id, event.rider_id, event.rider_stars, uow.now()):
        uow.note("rider_rated", {"rider_id": event.rider_id, "stars": event.rider_stars}, event.order_id)
