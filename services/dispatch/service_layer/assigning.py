"""Assignment: the rounds that turn plan_round's proposals into offers, riders' answers, assignment
by hand, and taking an order back from a rider who went silent or fell behind."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.dispatch.domain.assignment import OpenOrder, RiderView, plan_round, single_trip
from services.dispatch.domain.delivery import (
    BEFORE_PICKUP,
    CARRYING,
    DeliveryStatus,
    NotFound,
    Refused,
    RiderState,
    rider_state_after,
)
from services.dispatch.domain.eta import eta_change, live_eta
from services.dispatch.domain.offers import Offer, OfferStatus, check_answer, is_behind, is_silent, seconds_left
from services.dispatch.service_layer import lockers
from services.dispatch.service_layer.quoting import quote_promises
from services.dispatch.service_layer.riders import job_view, positions_of, rider_views
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.events.contracts import EtaUpdated, RiderAssigned, RiderUnassigned
from shared.vocabulary.geo import Point

ROUND_LOCK = 0x6469737061  # one round at a time across dispatch processes
NO_RIDER = "no_rider"
PICKUP_ANSWER = "pickup_answer"
ASSIGNABLE = frozenset({DeliveryStatus.OPEN, DeliveryStatus.PICKUP_OFFERED}) | BEFORE_PICKUP


def _door(d: asyncpg.Record) -> Point | None:
    address = d["address"]
    return Point(address["lat"], address["lon"]) if address else None


def _shop(d: asyncpg.Record) -> Point | None:
    return Point(d["shop_lat"], d["shop_lon"]) if d.get("shop_lat") is not None else None


async def run_round(uow: UnitOfWork) -> dict[str, int]:
    """One round: lapse old offers, take orders back from silent or late riders, offer the open ones,
    refresh the live ETAs. Returns counts, for logs and tests."""
    if not await uow.conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", ROUND_LOCK):
        return {"skipped": 1}
    now, settings = uow.now(), uow.settings
    counts = {"lapsed": 0, "taken_back": 0, "offers": 0, "eta_updates": 0}
    for o in await uow.repo.pending_offers(lapsed_at=now):
        await uow.repo.answer_offer(o["id"], OfferStatus.EXPIRED.value, now, "no answer in time")
        await uow.repo.exclude(o["order_id"], o["rider_id"], "no answer")
        uow.note("offer_lapsed", {"offer_id": str(o["id"]), "rider_id": o["rider_id"]}, o["order_id"])
        counts["lapsed"] += 1

    riders = await uow.log.riders()
    found = await positions_of(uow, [r["id"] for r in riders])
    for r in riders:
        pos = found.get(r["id"])
        if not is_silent(pos["seen_at"] if pos else None, now, settings.rider_silent_s):
            continue
        await uow.repo.withdraw_offers(now, "silent", rider_id=r["id"])
        for d in await uow.repo.of_rider(r["id"], [s.value for s in BEFORE_PICKUP]):
            await unassign(uow, d, "silent", exclude=False)
            counts["taken_back"] += 1
    for d in await uow.repo.in_status([DeliveryStatus.ASSIGNED.value]):
        if is_behind(d["eta_shop_at"], now, settings.rider_behind_s):
            late_s = int((now - d["eta_shop_at"]).total_seconds())
            await unassign(uow, d, f"behind: {late_s}s past the ETA to the shop", exclude=True)
            counts["taken_back"] += 1

    pending = {o["order_id"]: o["rider_id"] for o in await uow.repo.pending_offers()}
    open_rows = [
        d
        for d in await uow.repo.in_status([DeliveryStatus.OPEN.value])
        if d["order_id"] not in pending and _door(d) is not None and _shop(d) is not None
    ]
    excluded = await uow.repo.exclusions([d["order_id"] for d in open_rows])
    orders = [
        OpenOrder(
            d["order_id"],
            d["store_id"],
            _shop(d),  # type: ignore[arg-type]
            _door(d),  # type: ignore[arg-type]
            d["ready_at"] or now,
            d["promised_at"] or now + timedelta(minutes=30),
            excluded.get(d["order_id"], frozenset()),
        )
        for d in open_rows
    ]
    busy_with_offer = set(pending.values())
    views = await rider_views(uow)
    free = [v for v in views if v.rider_id not in busy_with_offer]
    if orders and free:
        for proposal in plan_round(orders, free, now):
            for order_id in proposal.order_ids:
                if order_id in pending:
                    continue
                offer_id = await uow.repo.add_offer(
                    order_id,
                    proposal.rider_id,
                    proposal.eta_shop_at,
                    proposal.eta_door_at.get(order_id, proposal.eta_shop_at),
                    now,
                    now + timedelta(seconds=settings.offer_limit_s),
                )
                pending[order_id] = proposal.rider_id
                uow.note(
                    "offer",
                    {
                        "offer_id": offer_id,
                        "rider_id": proposal.rider_id,
                        "expires_at": (now + timedelta(seconds=settings.offer_limit_s)).isoformat(),
                    },
                    order_id,
                )
                counts["offers"] += 1
    counts["eta_updates"] = await refresh_etas(uow, found)
    counts["quotes"] = await quote_promises(uow, views)
    return counts


async def refresh_etas(uow: UnitOfWork, found: dict[str, dict[str, float] | None]) -> int:
    """Follow each assigned rider: EtaUpdated when the door ETA moves, late_risk (and an alert) past the promise."""
    now, updates = uow.now(), 0
    active = [s.value for s in BEFORE_PICKUP | CARRYING]
    vehicles = {r["id"]: r["vehicle"] for r in await uow.log.riders()}
    for d in await uow.repo.in_status(active):
        pos, door = found.get(d["rider_id"]), _door(d)
        if pos is None or door is None:
            continue
        eta = live_eta(
            Point(pos["lat"], pos["lon"]),
            vehicles.get(d["rider_id"], "bicycle"),
            now,
            _shop(d),
            door,
            d["ready_at"],
            DeliveryStatus(d["status"]) in CARRYING,
        )
        change = eta_change(d["eta_door_at"], eta, d["promised_at"], d["late_risk"])
        if change is None:
            continue
        await uow.repo.update(d["order_id"], eta_door_at=change.eta_door_at, late_risk=change.late_risk)
        await uow.publish(
            EtaUpdated(
                order_id=d["order_id"],
                store_id=d["store_id"],
                eta_door_at=change.eta_door_at,
                late_risk=change.late_risk,
            )
        )
        if change.newly_late:
            message = f"order {d['order_id']} will be late: door at {eta:%H:%M}, promised {d['promised_at']:%H:%M}"
            await uow.repo.alert("late_risk", message, d["order_id"], d["rider_id"])
            uow.note("alert", {"kind": "late_risk", "message": message}, d["order_id"])
        updates += 1
    return updates


async def offers_for(uow: UnitOfWork, rider_id: str) -> list[dict[str, Any]]:
    """The rider's pending offers: the job (shop, pickup point, distances, bag, flags, cash due) and the
    countdown. No customer details: those come with the bag."""
    now = uow.now()
    pos = (await positions_of(uow, [rider_id])).get(rider_id)
    here = Point(pos["lat"], pos["lon"]) if pos else None
    result = []
    for o in await uow.repo.pending_offers(rider_id=rider_id):
        if o["expires_at"] <= now:
            continue
        result.append(
            {
                "id": str(o["id"]),
                "offer_id": str(o["id"]),
                "order_id": o["order_id"],
                "mode": o["mode"],
                "seconds_left": seconds_left(o["expires_at"], now),
                "expires_at": o["expires_at"].isoformat(),
                **job_view(o, here),
                "eta_shop_at": o["eta_shop_at"].isoformat(),
                "eta_door_at": o["eta_door_at"].isoformat(),
            }
        )
    return result


def _offer(row: asyncpg.Record | None) -> Offer | None:
    if row is None:
        return None
    return Offer(str(row["id"]), row["order_id"], row["rider_id"], OfferStatus(row["status"]), row["expires_at"])


async def accept_offer(uow: UnitOfWork, rider_id: str, offer_id: str) -> dict[str, Any]:
    now = uow.now()
    row = await uow.repo.offer(offer_id, lock=True)
    check_answer(_offer(row), rider_id, now)
    assert row is not None
    d = await uow.repo.get(row["order_id"], lock=True)
    if d is None or DeliveryStatus(d["status"]) is not DeliveryStatus.OPEN:
        await uow.repo.answer_offer(row["id"], OfferStatus.WITHDRAWN.value, now, "no longer needs a rider")
        raise Refused("this order no longer needs a rider")
    rider = await uow.repo.rider(rider_id, lock=True)
    if rider is None:
        raise NotFound(f"no rider profile for {rider_id}")
    if (await uow.repo.carrying()).get(rider_id, 0) >= rider["capacity"]:
        raise Refused("you already carry as many orders as you can")
    await uow.repo.answer_offer(row["id"], OfferStatus.ACCEPTED.value, now)
    await _assign(uow, d, rider, row["eta_shop_at"], row["eta_door_at"], "dispatch")
    return {"order_id": d["order_id"], "status": DeliveryStatus.ASSIGNED.value}


async def decline_offer(uow: UnitOfWork, rider_id: str, offer_id: str) -> dict[str, Any]:
    now = uow.now()
    row = await uow.repo.offer(offer_id, lock=True)
    check_answer(_offer(row), rider_id, now)
    assert row is not None
    await uow.repo.answer_offer(row["id"], OfferStatus.DECLINED.value, now)
    await uow.repo.exclude(row["order_id"], rider_id, "declined")
    uow.note("offer_declined", {"offer_id": offer_id, "rider_id": rider_id}, row["order_id"])
    return {"order_id": row["order_id"], "declined": True}


async def assign_by_hand(uow: UnitOfWork, order_id: str, rider_id: str, by: str) -> dict[str, Any]:
    d = await uow.repo.get(order_id, lock=True)
    if d is None:
        raise NotFound(f"dispatch has no delivery for order {order_id}")
    status = DeliveryStatus(d["status"])
    if status is DeliveryStatus.PENDING:
        raise Refused("the shop has not accepted this order yet: it can be assigned once the shop accepts it")
    if status not in ASSIGNABLE:
        raise Refused(f"the delivery is {status.value}: it can no longer be (re)assigned")
    if d["rider_id"] == rider_id:
        raise Refused(f"{rider_id} already has this order")
    rider = await uow.repo.rider(rider_id, lock=True)
    if rider is None:
        raise NotFound(f"no rider {rider_id}")
    if d["rider_id"]:
        d = await unassign(uow, d, f"reassigned by {by}", exclude=False)
    pos = (await positions_of(uow, [rider_id])).get(rider_id)
    now = uow.now()
    shop, door = await _points(uow, d)
    if pos and shop and door:
        view = RiderView(rider_id, rider["vehicle"], Point(pos["lat"], pos["lon"]), rider["capacity"])
        trip = single_trip(
            view, OpenOrder(order_id, d["store_id"], shop, door, d["ready_at"] or now, d["promised_at"] or now), now
        )
        eta_shop, eta_door = trip.eta_shop_at, trip.eta_door_at[order_id]
    else:
        eta_shop, eta_door = now + timedelta(minutes=10), now + timedelta(minutes=25)
    await _assign(uow, d, rider, eta_shop, eta_door, by)
    return {"order_id": order_id, "rider_id": rider_id, "status": DeliveryStatus.ASSIGNED.value}


async def _points(uow: UnitOfWork, d: asyncpg.Record) -> tuple[Point | None, Point | None]:
    shop = await uow.repo.shop(d["pickup_location"] or d["store_id"])
    return (Point(shop["lat"], shop["lon"]) if shop else None), _door(d)


async def _assign(
    uow: UnitOfWork, d: asyncpg.Record, rider: asyncpg.Record, eta_shop: datetime, eta_door: datetime, by: str
) -> None:
    order_id, now = d["order_id"], uow.now()
    if d["mode"] == "locker" and not d["compartment_id"]:
        await lockers.reserve(uow, d)
    await uow.repo.update(
        order_id,
        status=DeliveryStatus.ASSIGNED.value,
        rider_id=rider["id"],
        assigned_at=now,
        eta_shop_at=eta_shop,
        eta_door_at=eta_door,
        answer_by=None,
    )
    await uow.cancel_deadline(NO_RIDER, order_id)
    await uow.cancel_deadline(PICKUP_ANSWER, order_id)
    await uow.repo.withdraw_offers(now, "assigned", order_id=order_id)
    await uow.publish(
        RiderAssigned(
            order_id=order_id,
            store_id=d["store_id"],
            rider_id=rider["id"],
            rider_name=rider["name"],
            vehicle=rider["vehicle"],
            eta_shop_at=eta_shop,
            eta_door_at=eta_door,
            assigned_by=by,
        )
    )
    await _update_rider_state(uow, rider["id"])


async def unassign(uow: UnitOfWork, d: asyncpg.Record, reason: str, *, exclude: bool) -> asyncpg.Record:
    """Take the order back from its rider (before pickup): it is open again and the no-rider clock restarts."""
    order_id, rider_id, now = d["order_id"], d["rider_id"], uow.now()
    if d["compartment_id"]:
        await lockers.release(uow, d)
    await uow.repo.update(
        order_id, status=DeliveryStatus.OPEN.value, rider_id=None, assigned_at=None, eta_shop_at=None, at_shop_at=None
    )
    await uow.publish(RiderUnassigned(order_id=order_id, store_id=d["store_id"], rider_id=rider_id, reason=reason))
    if exclude:
        await uow.repo.exclude(order_id, rider_id, reason)
    if reason in ("silent",) or reason.startswith("behind"):
        await uow.repo.alert("reassigned", f"order {order_id} taken from {rider_id}: {reason}", order_id, rider_id)
    await uow.schedule(NO_RIDER, order_id, now + timedelta(seconds=await no_rider_limit_s(uow, d["store_id"])))
    await _update_rider_state(uow, rider_id)
    fresh = await uow.repo.get(order_id)
    assert fresh is not None
    return fresh


async def release_rider(uow: UnitOfWork, rider_id: str | None) -> None:
    if rider_id:
        await _update_rider_state(uow, rider_id)


async def _update_rider_state(uow: UnitOfWork, rider_id: str) -> None:
    rider = await uow.repo.rider(rider_id)
    if rider is None:
        return
    n = (await uow.repo.carrying()).get(rider_id, 0)
    state = rider_state_after(n, rider["capacity"], RiderState(rider["state"]))
    if state.value != rider["state"]:
        await uow.repo.set_rider_state(rider_id, state.value)
        uow.note("rider_state", {"rider_id": rider_id, "state": state.value})


async def no_rider_limit_s(uow: UnitOfWork, store_id: str) -> float:
    shop = await uow.repo.shop(store_id)
    if shop is not None and shop["no_rider_limit_s"] is not None:
        return float(shop["no_rider_limit_s"])
    return uow.settings.no_rider_limit_s
