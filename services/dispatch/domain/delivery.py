"""A delivery: from the order being placed to the bag at the door (or in a locker).

Dispatch learns about orders only from events. It keeps, per carried order, a `Delivery`
aggregate whose status moves only along `TRANSITIONS`, the one table of what may follow what:
the rider's steps (`Step`) and what happens to a delivery without one (`Happening`: the shop
accepts it, a round assigns it, the counter hands the bag over, the shopper cancels ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from urllib.parse import quote

from shared.errors import Conflict, Forbidden, Invalid, WrongCode
from shared.events.contracts import DeliveryAddress
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.geo import Point
from shared.vocabulary.money import format_yuan
from shared.vocabulary.order_status import OrderStatus

# The order event that leaves an order in each status, as dispatch sees it.
STATUS_AFTER: dict[str, OrderStatus] = {
    "OrderPlaced": OrderStatus.PLACED,
    "OrderConfirmed": OrderStatus.CONFIRMED,
    "OrderRejected": OrderStatus.REJECTED,
    "OrderAccepted": OrderStatus.ACCEPTED,
    "OrderCancelled": OrderStatus.CANCELLED,
}


def awaits_rider(mode: FulfilmentMode | None, status: OrderStatus) -> bool:
    """A delivery order the shop has accepted is one dispatch must plan a rider for."""
    return mode is FulfilmentMode.DELIVERY and status is OrderStatus.ACCEPTED


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # placed; the shop has not accepted it yet
    OPEN = "open"  # accepted: needs a rider
    ASSIGNED = "assigned"
    AT_SHOP = "at_shop"
    PICKED_UP = "picked_up"
    AT_DOOR = "at_door"
    DELIVERED = "delivered"
    FAILED = "failed"
    IN_LOCKER = "in_locker"
    COLLECTED = "collected"
    EXPIRED = "expired"  # left in the locker too long
    PICKUP_OFFERED = "pickup_offered"  # no rider: the shopper may collect
    DROPPED = "dropped"  # cancelled, rejected, or switched to pickup
    ABANDONED = "abandoned"  # no rider and no pickup


class Step(StrEnum):
    """What the assigned rider does, one route each (`POST /deliveries/{id}/<step>`)."""

    AT_SHOP = "at-shop"
    PICKED_UP = "picked-up"
    AT_DOOR = "at-door"
    DELIVERED = "delivered"
    FAILED = "failed"
    LOCKER_DEPOSIT = "locker-deposit"


class Happening(StrEnum):
    """What moves a delivery without a rider's step (values differ from every Step's)."""

    ACCEPTED = "accepted"  # OrderAccepted: it needs a rider now
    ASSIGNED = "assigned"  # a rider took the offer, or a dispatcher assigned one
    UNASSIGNED = "unassigned"  # taken back before pickup: silent, behind, reassigned
    HANDED_OVER = "handed-over"  # OrderHandedOver(to=rider): also when counter staff entered the code
    NO_RIDER = "no-rider"  # nobody took it in time: the shopper is offered pickup
    DROPPED = "dropped"  # cancelled, rejected, or switched to pickup
    ABANDONED = "abandoned"  # no rider and no pickup
    COLLECTED = "collected"  # the orderer opened the compartment
    EXPIRED = "expired"  # not collected in time


Move = Step | Happening
S, H = DeliveryStatus, Happening

# The one table of a delivery's moves: from each status, what may happen and where it leads.
# Rider steps come first in each row, the usual next step before the others (see `next_step`).
TRANSITIONS: Mapping[DeliveryStatus, Mapping[Move, DeliveryStatus]] = {
    S.PENDING: {H.ACCEPTED: S.OPEN, H.DROPPED: S.DROPPED},
    S.OPEN: {H.ASSIGNED: S.ASSIGNED, H.NO_RIDER: S.PICKUP_OFFERED, H.DROPPED: S.DROPPED, H.ABANDONED: S.ABANDONED},
    S.PICKUP_OFFERED: {H.ASSIGNED: S.ASSIGNED, H.DROPPED: S.DROPPED, H.ABANDONED: S.ABANDONED},
    S.ASSIGNED: {
        Step.AT_SHOP: S.AT_SHOP,
        H.HANDED_OVER: S.PICKED_UP,
        H.UNASSIGNED: S.OPEN,
        H.DROPPED: S.DROPPED,
    },
    S.AT_SHOP: {Step.PICKED_UP: S.PICKED_UP, H.HANDED_OVER: S.PICKED_UP, H.UNASSIGNED: S.OPEN, H.DROPPED: S.DROPPED},
    S.PICKED_UP: {Step.AT_DOOR: S.AT_DOOR, Step.LOCKER_DEPOSIT: S.IN_LOCKER},
    S.AT_DOOR: {Step.DELIVERED: S.DELIVERED, Step.FAILED: S.FAILED},
    S.IN_LOCKER: {H.COLLECTED: S.COLLECTED, H.EXPIRED: S.EXPIRED},
}

CARRYING = frozenset({S.PICKED_UP, S.AT_DOOR})
BEFORE_PICKUP = frozenset({S.ASSIGNED, S.AT_SHOP})
WITH_RIDER = BEFORE_PICKUP | CARRYING
FINISHED = frozenset({S.DELIVERED, S.FAILED, S.COLLECTED, S.EXPIRED, S.DROPPED, S.ABANDONED})
ASSIGNABLE = frozenset(s for s, moves in TRANSITIONS.items() if H.ASSIGNED in moves) | BEFORE_PICKUP
_DOOR_STEPS = frozenset({Step.AT_DOOR, Step.DELIVERED, Step.FAILED})


def can(status: DeliveryStatus, move: Move) -> bool:
    return move in TRANSITIONS.get(status, {})


def _fits(step: Step, mode: FulfilmentMode) -> bool:
    if mode is FulfilmentMode.LOCKER:
        return step not in _DOOR_STEPS
    return step is not Step.LOCKER_DEPOSIT


def next_step(status: DeliveryStatus, mode: FulfilmentMode) -> Step | None:
    """The rider's next step on a delivery in `status`, or None when the rider has nothing to do."""
    return next((m for m in TRANSITIONS.get(status, {}) if isinstance(m, Step) and _fits(m, mode)), None)


def check_step(status: DeliveryStatus, mode: FulfilmentMode, step: Step) -> DeliveryStatus:
    """The status after `step`, or Conflict naming the step that comes next."""
    if mode is FulfilmentMode.LOCKER and step in _DOOR_STEPS:
        raise Conflict(f"a locker order has no '{step.value}' step: after picked-up comes locker-deposit")
    if not _fits(step, mode):
        raise Conflict("only locker orders are deposited in a locker")
    after = TRANSITIONS.get(status, {}).get(step)
    if after is None:
        following = next_step(status, mode)
        hint = f"the next step is '{following.value}'" if following else f"the delivery is {status.value}"
        raise Conflict(f"'{step.value}' is out of order: {hint}")
    return after


def check_failure_allowed(at_door_at: datetime | None, now: datetime, door_wait_s: float) -> None:
    waited = (now - at_door_at).total_seconds() if at_door_at else 0.0
    if waited < door_wait_s:
        raise Conflict(
            f"wait at the door (and call) for {door_wait_s:.0f}s before giving up: {door_wait_s - waited:.0f}s to go"
        )


def check_handover(packed: bool, expected: str | None, code: str) -> None:
    if not packed or expected is None:
        raise Conflict("the bag is not packed yet: wait at the counter")
    if code.strip() != expected:
        raise WrongCode("that is not this order's handover code")


def check_delivery(
    expected: str | None, code: str, pay_on_delivery: bool, cash_collected_fen: int | None, due_fen: int | None = None
) -> None:
    """The shopper's code, and for a pay-on-delivery order the cash the rider took."""
    if expected is not None and code.strip() != expected:
        raise WrongCode("that is not the shopper's delivery code")
    if pay_on_delivery and cash_collected_fen is None:
        amount = format_yuan(due_fen) if due_fen is not None else "the amount due"
        raise Invalid(f"this order is paid on delivery: collect {amount} in cash and enter it (cash_collected_fen)")


def cash_difference(due_fen: int | None, cash_collected_fen: int | None) -> int | None:
    """Cash taken minus cash due, when they differ: accepted as given, but someone must look at it."""
    if due_fen is None or cash_collected_fen is None or due_fen == cash_collected_fen:
        return None
    return cash_collected_fen - due_fen


def pickup_kind(pickup_location: str | None, store_id: str) -> str:
    """Where the rider takes the bag: a market's stall, or the shop's (or market's) counter."""
    return "stall" if pickup_location and pickup_location != store_id else "counter"


def maps_url(lat: float, lon: float, label: str) -> str:
    """A geo: URI that phones open in their map app, with a pin named after the address."""
    return f"geo:{lat},{lon}?q={lat},{lon}({quote(label, safe='')})"


@dataclass(frozen=True)
class Place:
    """Where the rider fetches the bag (the pickup point, else the store) and what the store is called.

    Read with the delivery from the shops read model; never saved with it.
    """

    lat: float | None = None
    lon: float | None = None
    name_zh: str | None = None
    name_en: str | None = None
    store_name_zh: str | None = None
    store_name_en: str | None = None

    @property
    def point(self) -> Point | None:
        return Point(self.lat, self.lon) if self.lat is not None and self.lon is not None else None


@dataclass(frozen=True)
class Packing:
    """What OrderPacked tells dispatch about the bag."""

    bags: int
    weight_g: int
    call_first: bool
    pay_on_delivery: bool
    final_fen: int
    due_at_door_fen: int | None
    handover_code: str
    packed_at: datetime
    pickup_location: str | None  # None when the pickup point is not a place dispatch knows
    pickup_name_zh: str
    pickup_name_en: str


@dataclass
class Delivery:
    """One carried order and everything that has happened to it on its way."""

    order_id: str
    store_id: str
    mode: FulfilmentMode
    placed_by: str
    placed_for: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    address: DeliveryAddress | None = None
    contact_phone: str | None = None
    note: str | None = None
    delivery_code: str | None = None
    locker_site_id: str | None = None
    compartment_id: str | None = None
    call_first: bool = False
    pay_on_delivery: bool = False
    payment: str = "balance"
    delivery_fee_fen: int = 0
    platform_fee_fen: int = 0
    total_fen: int = 0
    bags: int | None = None
    weight_g: int | None = None
    handover_code: str | None = None
    pickup_location: str | None = None
    pickup_name_zh: str | None = None
    pickup_name_en: str | None = None
    packed_at: datetime | None = None
    ready_at: datetime | None = None
    promised_at: datetime | None = None
    release_at: datetime | None = None
    slot_start: datetime | None = None
    slot_end: datetime | None = None
    opened_at: datetime | None = None
    rider_id: str | None = None
    assigned_at: datetime | None = None
    eta_shop_at: datetime | None = None
    eta_door_at: datetime | None = None
    late_risk: bool = False
    at_shop_at: datetime | None = None
    picked_up_at: datetime | None = None
    at_door_at: datetime | None = None
    finished_at: datetime | None = None
    answer_by: datetime | None = None
    final_fen: int | None = None
    due_at_door_fen: int | None = None
    cash_collected_fen: int | None = None
    promise_base_at: datetime | None = None  # the forecast's door without slack: its miss teaches the slack
    promise_band: int | None = None  # the load band it was promised in (promises.load_band)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0
    place: Place = field(default_factory=Place, compare=False)

    # -- what it is ---------------------------------------------------------------------------------
    @property
    def door(self) -> Point | None:
        return Point(self.address.lat, self.address.lon) if self.address else None

    @property
    def shop(self) -> Point | None:
        return self.place.point

    @property
    def carrying(self) -> bool:
        return self.status in CARRYING

    @property
    def packed(self) -> bool:
        return self.packed_at is not None

    @property
    def next_step(self) -> Step | None:
        return next_step(self.status, self.mode)

    def can(self, move: Move) -> bool:
        return can(self.status, move)

    def _move(self, move: Move) -> DeliveryStatus:
        after = TRANSITIONS.get(self.status, {}).get(move)
        if after is None:
            raise Conflict(f"the delivery is {self.status.value}: it cannot be {move.value} now")
        self.status = after
        return after

    # -- before a rider -----------------------------------------------------------------------------
    def open(self, at: datetime) -> None:
        """The shop accepted it: it needs a rider from now."""
        self._move(H.ACCEPTED)
        self.opened_at = at

    def check_assignable(self, rider_id: str) -> None:
        if self.status is DeliveryStatus.PENDING:
            raise Conflict("the shop has not accepted this order yet: it can be assigned once the shop accepts it")
        if self.status not in ASSIGNABLE:
            raise Conflict(f"the delivery is {self.status.value}: it can no longer be (re)assigned")
        if self.rider_id == rider_id:
            raise Conflict(f"{rider_id} already has this order")

    def assign(self, rider_id: str, at: datetime, eta_shop_at: datetime, eta_door_at: datetime) -> None:
        self._move(H.ASSIGNED)
        self.rider_id, self.assigned_at = rider_id, at
        self.eta_shop_at, self.eta_door_at = eta_shop_at, eta_door_at
        self.answer_by = None

    def unassign(self) -> str:
        """Taken back from its rider before pickup: open again. Returns who had it."""
        rider_id = self.rider_id
        assert rider_id is not None, "unassigning a delivery nobody has"
        self._move(H.UNASSIGNED)
        self.rider_id = self.assigned_at = self.eta_shop_at = self.at_shop_at = None
        return rider_id

    def offer_pickup(self, answer_by: datetime) -> None:
        self._move(H.NO_RIDER)
        self.answer_by = answer_by

    def drop(self, at: datetime) -> None:
        self._move(H.DROPPED)
        self.finished_at = at

    def abandon(self, at: datetime) -> None:
        self._move(H.ABANDONED)
        self.finished_at = at

    def pack(self, bag: Packing) -> None:
        """The bag's size, where to take it from, and for pay on delivery the cash due at the door."""
        self.bags, self.weight_g, self.final_fen = bag.bags, bag.weight_g, bag.final_fen
        self.call_first = self.call_first or bag.call_first
        self.pay_on_delivery = self.pay_on_delivery or bag.pay_on_delivery
        self.due_at_door_fen, self.handover_code = bag.due_at_door_fen, bag.handover_code
        self.packed_at = self.ready_at = bag.packed_at
        self.pickup_location = bag.pickup_location
        self.pickup_name_zh, self.pickup_name_en = bag.pickup_name_zh, bag.pickup_name_en

    def follow_eta(self, eta_door_at: datetime, late_risk: bool) -> None:
        self.eta_door_at, self.late_risk = eta_door_at, late_risk

    # -- the rider's steps --------------------------------------------------------------------------
    def _step(self, rider_id: str, step: Step) -> None:
        if self.rider_id != rider_id:
            raise Forbidden("only the rider assigned to this order can do that")
        self.status = check_step(self.status, self.mode, step)

    def arrive_at_shop(self, rider_id: str, at: datetime) -> None:
        self._step(rider_id, Step.AT_SHOP)
        self.at_shop_at = at

    def pick_up(self, rider_id: str, code: str, at: datetime) -> None:
        """With the shop's handover code, which the counter tells the rider with the bag."""
        if self.rider_id == rider_id:
            check_step(self.status, self.mode, Step.PICKED_UP)
            check_handover(self.packed, self.handover_code, code)
        self._step(rider_id, Step.PICKED_UP)
        self.picked_up_at = at

    def handed_over(self, at: datetime) -> None:
        """The counter handed the bag to the rider (also when staff entered the code themselves)."""
        self._move(H.HANDED_OVER)
        self.picked_up_at = at
        self.at_shop_at = self.at_shop_at or at

    def arrive_at_door(self, rider_id: str, at: datetime) -> None:
        self._step(rider_id, Step.AT_DOOR)
        self.at_door_at = at

    def deliver(self, rider_id: str, code: str, cash_collected_fen: int | None, at: datetime) -> int | None:
        """Handed over with the shopper's code; returns cash taken minus cash due when they differ."""
        if self.rider_id == rider_id:
            check_step(self.status, self.mode, Step.DELIVERED)
            check_delivery(self.delivery_code, code, self.pay_on_delivery, cash_collected_fen, self.due_at_door_fen)
        self._step(rider_id, Step.DELIVERED)
        self.finished_at = at
        self.cash_collected_fen = cash_collected_fen if self.pay_on_delivery else None
        return cash_difference(self.due_at_door_fen, self.cash_collected_fen)

    def fail(self, rider_id: str, at: datetime, door_wait_s: float) -> None:
        if self.rider_id == rider_id:
            check_step(self.status, self.mode, Step.FAILED)
            check_failure_allowed(self.at_door_at, at, door_wait_s)
        self._step(rider_id, Step.FAILED)
        self.finished_at = at

    def check_deposit(self, rider_id: str) -> None:
        if self.rider_id != rider_id:
            raise Forbidden("only the rider assigned to this order can do that")
        check_step(self.status, self.mode, Step.LOCKER_DEPOSIT)

    def deposit(self, rider_id: str, compartment_id: str, at: datetime) -> None:
        self._step(rider_id, Step.LOCKER_DEPOSIT)
        self.compartment_id = compartment_id
        self.finished_at = at

    # -- in the locker ------------------------------------------------------------------------------
    def collect(self) -> None:
        self._move(H.COLLECTED)

    def expire(self) -> None:
        self._move(H.EXPIRED)
