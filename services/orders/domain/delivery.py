"""What dispatch did with an order, as the shopper sees it: the promise, the rider, the door, the locker.

Dispatch owns riders, deliveries and lockers (docs/dispatch.md) and reports facts on
`linli.dispatch`; these functions apply one fact to the order. Most are timeline facts; a few
move the order (delivered, failed, in the locker, collected from it, cancelled for want of a
rider). The move to OUT_FOR_DELIVERY is inventory's (`OrderHandedOver(to=rider)`), but that
event travels on another topic: when dispatch's next step overtakes it, the order is first
moved out for delivery here, and the shop's handover arrives later as a fact.

A fact that no longer fits (the order was cancelled, switched to pickup, already delivered)
goes on the timeline and changes nothing: a late event must never crash a consumer. Codes
(the delivery code, a locker's code) never go on the timeline, which the shop's staff read too.
Every entry made here carries `detail["step"]`, so views can tell dispatch's steps apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.orders.domain.order import Order
from shared.errors import Conflict
from shared.vocabulary.money import format_yuan
from shared.vocabulary.order_status import TERMINAL, OrderStatus, can_move

S = OrderStatus
# Before the bag leaves the shop: a pickup offer still makes sense, an ETA still counts.
BEFORE_PICKUP = frozenset({S.PLACED, S.CONFIRMED, S.ACCEPTED, S.PICKING, S.PACKED})
ETA_COUNTS = BEFORE_PICKUP | {S.OUT_FOR_DELIVERY}


class PickupOfferRefused(Conflict):
    """There is no open pickup offer to answer (none, answered, expired, or the order moved on): HTTP 409."""


def _detail(step: str, **values: Any) -> dict[str, Any]:
    return {"step": step, **values}


def _fits(
    order: Order,
    what: str,
    step: str,
    at: datetime,
    detail: dict[str, Any],
    statuses: frozenset[OrderStatus] | None = None,
) -> bool:
    """True when a dispatch fact still applies; otherwise it is kept on the timeline as a late fact."""
    if not order.dispatched:
        order.note_fact(
            at,
            f"{what} arrived, but the order is for {order.fulfilment_mode} now; nothing changed",
            {**detail, "step": step},
        )
        return False
    if order.status in TERMINAL or (statuses is not None and order.status not in statuses):
        order.note_fact(
            at, f"{what} arrived after the order was {order.status.value}; nothing changed", {**detail, "step": step}
        )
        return False
    return True


def _rider_name(order: Order, rider_id: str) -> str:
    rider = order.tracking.rider
    return str(rider["name"]) if rider and rider.get("rider_id") == rider_id else rider_id


def _catch_up(order: Order, at: datetime, step: str) -> None:
    """Dispatch's step after pickup overtook the shop's handover (another topic): the bag is with the rider."""
    if order.status is S.PACKED and order.dispatched:
        order.move(
            S.OUT_FOR_DELIVERY, at, "picked up by the rider (the shop's handover is still on its way)", _detail(step)
        )


def _late_risk(order: Order) -> bool:
    t = order.tracking
    return bool(t.promised_at and t.eta_door_at and t.eta_door_at > t.promised_at)


# The promise and the rider


def promise_placed(order: Order, promised_at: datetime, minutes: int, at: datetime) -> None:
    """The promise the checkout showed, recorded on the order as it is placed (dispatch adopts it)."""
    order.tracking.promised_at = promised_at
    order.tracking.promised_minutes = minutes
    detail = {"promised_at": promised_at.isoformat(), "minutes": minutes, "by": "checkout"}
    order.note_fact(at, f"delivery promised in about {minutes} min", _detail("delivery_promised", **detail))


def delivery_promised(
    order: Order, promised_at: datetime, minutes: int, at: datetime, reason: str | None = None
) -> None:
    """Dispatch's promise: the checkout's kept (nothing new to say), or set or moved, with why."""
    detail: dict[str, Any] = {"promised_at": promised_at.isoformat(), "minutes": minutes}
    if reason:
        detail["reason"] = reason
    if not _fits(order, "a delivery promise", "delivery_promised", at, detail):
        return
    t = order.tracking
    if t.promised_at == promised_at:
        return  # dispatch kept the promise the order was placed with
    before = t.promised_at
    t.promised_at = promised_at
    t.promised_minutes = minutes
    t.late_risk = _late_risk(order)
    if before is None:
        cause = f"delivery promised in about {minutes} min"
    else:
        detail["previous_promised_at"] = before.isoformat()
        cause = f"promise moved to {promised_at:%H:%M} (about {minutes} min)"
    order.note_fact(at, f"{cause}: {reason}" if reason else cause, _detail("delivery_promised", **detail))


def rider_assigned(  # noqa: PLR0913 (what RiderAssigned says, each by name)
    order: Order,
    rider_id: str,
    rider_name: str,
    vehicle: str,
    eta_shop_at: datetime,
    eta_door_at: datetime,
    *,
    assigned_by: str,
    at: datetime,
    override: str | None = None,
) -> None:
    detail = {
        "rider_id": rider_id,
        "rider_name": rider_name,
        "vehicle": vehicle,
        "eta_shop_at": eta_shop_at.isoformat(),
        "eta_door_at": eta_door_at.isoformat(),
        "assigned_by": assigned_by,
    }
    if override:
        detail["override"] = override
    # OUT_FOR_DELIVERY too: the counter's handover (linli.inventory) may overtake the assignment.
    if not _fits(order, f"rider {rider_name} being assigned", "rider_assigned", at, detail, ETA_COUNTS):
        return
    t = order.tracking
    t.rider = {
        "rider_id": rider_id,
        "name": rider_name,
        "vehicle": vehicle,
        "assigned_by": assigned_by,
        "assigned_at": at.isoformat(),
    }
    t.eta_shop_at, t.eta_door_at = eta_shop_at, eta_door_at
    t.late_risk = _late_risk(order)
    cause = f"rider {rider_name} ({vehicle.replace('_', '-')}) assigned"
    order.note_fact(at, f"{cause}, {override}" if override else cause, _detail("rider_assigned", **detail))


def rider_unassigned(order: Order, rider_id: str, reason: str, at: datetime) -> None:
    name = _rider_name(order, rider_id)
    detail = {"rider_id": rider_id, "reason": reason}
    if not _fits(order, f"rider {name} being unassigned", "rider_unassigned", at, detail):
        return
    t = order.tracking
    current = bool(t.rider and t.rider.get("rider_id") == rider_id)
    if current:
        t.rider, t.eta_shop_at, t.eta_door_at = None, None, None
        t.late_risk = False
    order.note_fact(
        at,
        f"rider {name} no longer carries the order: {reason}"
        + ("" if current else " (they were not the assigned rider)"),
        _detail("rider_unassigned", **detail),
    )


def eta_updated(order: Order, eta_door_at: datetime, late_risk: bool, at: datetime) -> None:
    """The live ETA; only a change of the late flag goes on the timeline (ETAs come every few seconds)."""
    if order.status not in ETA_COUNTS or not order.dispatched:
        if not order.dispatched or order.status in TERMINAL:
            return  # a last ETA overtaken by the end of the delivery is not worth a line
        order.note_fact(
            at,
            f"an ETA update arrived after the order was {order.status.value}; nothing changed",
            _detail("eta_updated", eta_door_at=eta_door_at.isoformat()),
        )
        return
    t = order.tracking
    was_late = t.late_risk
    t.eta_door_at, t.late_risk = eta_door_at, late_risk
    if late_risk != was_late:
        cause = (
            "running late: the rider will arrive after the promised time"
            if late_risk
            else "back on time for the promised delivery"
        )
        order.note_fact(at, cause, _detail("eta_updated", eta_door_at=eta_door_at.isoformat(), late_risk=late_risk))


# The rider's steps


def rider_at_shop(order: Order, rider_id: str, at: datetime) -> None:
    name = _rider_name(order, rider_id)
    if _fits(order, f"rider {name} at the shop", "rider_at_shop", at, {"rider_id": rider_id}):
        order.note_fact(at, f"rider {name} is at the shop", _detail("rider_at_shop", rider_id=rider_id))


def delivery_picked_up(order: Order, rider_id: str, at: datetime) -> None:
    """A fact only: OUT_FOR_DELIVERY comes from inventory's OrderHandedOver(to=rider). The code stays off."""
    name = _rider_name(order, rider_id)
    if _fits(order, f"pickup by rider {name}", "delivery_picked_up", at, {"rider_id": rider_id}):
        order.note_fact(
            at,
            f"picked up by rider {name} with the shop's handover code",
            _detail("delivery_picked_up", rider_id=rider_id),
        )


def rider_at_door(order: Order, rider_id: str, at: datetime) -> None:
    name = _rider_name(order, rider_id)
    if _fits(order, f"rider {name} at the door", "rider_at_door", at, {"rider_id": rider_id}):
        order.note_fact(at, f"rider {name} is at the door", _detail("rider_at_door", rider_id=rider_id))


def delivery_completed(order: Order, rider_id: str, cash_collected_fen: int | None, at: datetime) -> None:
    detail = _detail("delivery_completed", rider_id=rider_id, cash_collected_fen=cash_collected_fen)
    if not _fits(order, "a delivery confirmation", "delivery_completed", at, detail):
        return
    _catch_up(order, at, "delivery_completed")
    cause = "delivered to the door with the delivery code"
    if cash_collected_fen is not None:
        cause += f"; {format_yuan(cash_collected_fen)} paid in cash to the rider"
    if order.move_or_note(S.DELIVERED, at, cause, "a delivery confirmation", detail):
        order.tracking.cash_collected_fen = cash_collected_fen


def delivery_failed(order: Order, rider_id: str, reason: str, at: datetime) -> None:
    detail = _detail("delivery_failed", rider_id=rider_id, reason=reason)
    if not _fits(order, "a failed delivery", "delivery_failed", at, detail):
        return
    _catch_up(order, at, "delivery_failed")
    if order.move_or_note(
        S.DELIVERY_FAILED, at, f"delivery failed ({reason}): the bag goes back to the shop", "a failed delivery", detail
    ):
        order.tracking.failure_reason = reason


# No rider: collect it yourself, or the order is cancelled


def pickup_offered(order: Order, reason: str, answer_by: datetime, at: datetime) -> None:
    detail = {"reason": reason, "answer_by": answer_by.isoformat()}
    if not _fits(order, "a pickup offer", "pickup_offered", at, detail, BEFORE_PICKUP):
        return
    order.tracking.pickup_offer = {
        "reason": reason,
        "answer_by": answer_by.isoformat(),
        "offered_at": at.isoformat(),
        "answer": None,
        "answered_by": None,
        "answered_at": None,
    }
    minutes = max(0, round((answer_by - at).total_seconds() / 60))
    order.note_fact(
        at,
        f"no rider has taken the order yet ({reason}): you may collect it at the shop instead; "
        f"answer within {minutes} min, or the order is cancelled",
        _detail("pickup_offered", **detail),
    )


def open_pickup_offer(order: Order, at: datetime | None = None) -> dict[str, Any] | None:
    """The pickup offer the orderer may still answer now (any time, when `at` is None), else None."""
    offer = order.tracking.pickup_offer
    if offer is None or offer.get("answer") is not None or not order.dispatched:
        return None
    if order.status not in BEFORE_PICKUP:
        return None
    if at is not None and at > datetime.fromisoformat(offer["answer_by"]):
        return None
    return offer


def answer_pickup_offer(order: Order, accept: bool, by: str, at: datetime) -> None:
    """The orderer answers: accepted, the order becomes a pickup order (ready at the counter once packed)."""
    offer = order.tracking.pickup_offer
    if offer is None:
        raise PickupOfferRefused(f"order {order.id} has no pickup offer to answer")
    if offer.get("answer") is not None:
        said = "accepted" if offer["answer"] else "declined"
        raise PickupOfferRefused(f"the pickup offer was already answered: {offer['answered_by']} {said} it")
    if not order.dispatched or order.status not in BEFORE_PICKUP:
        raise PickupOfferRefused(
            f"the order is {order.status.value} ({order.fulfilment_mode}); the pickup offer no longer applies"
        )
    if at > datetime.fromisoformat(offer["answer_by"]):
        raise PickupOfferRefused(f"the time to answer the pickup offer ran out at {offer['answer_by']}")
    order.tracking.pickup_offer = {**offer, "answer": accept, "answered_by": by, "answered_at": at.isoformat()}
    detail = _detail("pickup_choice", accepted=accept, by=by)
    if not accept:
        order.note_fact(at, f"pickup declined by {by}: without a rider the order will be cancelled", detail)
        return
    order.fulfilment = order.fulfilment.switched_to_pickup()
    t = order.tracking
    t.rider, t.eta_shop_at, t.eta_door_at, t.late_risk = None, None, None, False
    order.note_fact(at, f"pickup accepted by {by}: collect the order at the counter with the handover code", detail)
    if order.status is S.PACKED:
        order.move(S.READY_FOR_PICKUP, at, "ready at the counter", detail)


def delivery_abandoned(order: Order, reason: str, at: datetime) -> OrderStatus | None:
    """No rider and no switch to pickup: Linli cancels (from PICKING or PACKED too); the previous status."""
    detail = {"reason": reason}
    if not _fits(order, f"abandoning the delivery ({reason})", "delivery_abandoned", at, detail):
        return None
    if not can_move(order.status, S.CANCELLED, system=True):
        order.note_fact(
            at,
            f"abandoning the delivery ({reason}) arrived after the order was {order.status.value}; nothing changed",
            _detail("delivery_abandoned", **detail),
        )
        return None
    return order.cancel(
        at,
        "linli",
        reason,
        system=True,
        cause=f"cancelled by Linli: no rider could take the order ({reason}); the amount is refunded",
    )


# Lockers


def locker_reserved(order: Order, site_id: str, compartment_id: str, size: str, at: datetime) -> None:
    detail = {"site_id": site_id, "compartment_id": compartment_id, "size": size}
    if not _fits(order, "a locker reservation", "locker_reserved", at, detail, BEFORE_PICKUP):
        return
    order.tracking.locker = {"site_id": site_id, "compartment_id": compartment_id, "size": size}
    order.note_fact(
        at, f"locker compartment {compartment_id} ({size}) reserved at {site_id}", _detail("locker_reserved", **detail)
    )


def locker_deposited(
    order: Order, site_id: str, compartment_id: str, code: str, collect_by: datetime, at: datetime
) -> None:
    """IN_LOCKER; the compartment's code is kept for the orderer's eyes only, never on the timeline."""
    detail = _detail(
        "locker_deposited", site_id=site_id, compartment_id=compartment_id, collect_by=collect_by.isoformat()
    )
    if not _fits(order, "a locker deposit", "locker_deposited", at, detail):
        return
    _catch_up(order, at, "locker_deposited")
    if order.move_or_note(
        S.IN_LOCKER,
        at,
        f"in locker {site_id}, compartment {compartment_id}: open it with the code shown on your order",
        "a locker deposit",
        detail,
    ):
        order.tracking.locker = {
            **(order.tracking.locker or {}),
            "site_id": site_id,
            "compartment_id": compartment_id,
            "code": code,
            "collect_by": collect_by.isoformat(),
        }


def locker_collected(order: Order, site_id: str, compartment_id: str, at: datetime) -> None:
    detail = _detail("locker_collected", site_id=site_id, compartment_id=compartment_id)
    if order.move_or_note(S.COLLECTED, at, f"collected from locker {site_id}", "a locker collection", detail):
        order.tracking.locker = {**(order.tracking.locker or {}), "collected_at": at.isoformat()}


def locker_expired(order: Order, site_id: str, compartment_id: str, at: datetime) -> None:
    """Not collected in time: a fact; RETURNED comes when the shop receives the bag (BagReturned)."""
    detail = {"site_id": site_id, "compartment_id": compartment_id}
    if not _fits(order, "a locker expiry", "locker_expired", at, detail, frozenset({S.IN_LOCKER})):
        return
    order.tracking.locker = {**(order.tracking.locker or {}), "expired": True}
    order.note_fact(
        at,
        f"not collected from locker {site_id} in time: the bag goes back to the shop",
        _detail("locker_expired", **detail),
    )
