"""What dispatch's routes answer: one pydantic model per JSON shape, and the functions that shape
the service layer's results into them. Times are ISO strings exactly as `datetime.isoformat()`
writes them, because the board and the rider app (and the e2e tests) read them as such."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.dispatch.adapters.places import Alert
from services.dispatch.adapters.repository import LoggedEvent, TrackedOrder
from services.dispatch.domain.assignment import Hold
from services.dispatch.domain.delivery import Delivery, maps_url, pickup_kind
from services.dispatch.domain.lockers import LockerSite
from services.dispatch.domain.offers import Offer
from services.dispatch.domain.riders import Position, Rider, Shift
from services.dispatch.domain.visibility import VISIBILITY
from services.dispatch.service_layer.assigning import BoardPlan, OfferForRider
from services.dispatch.service_layer.delivering import Delivered
from services.dispatch.service_layer.lockers import Opened, SiteDetail
from services.dispatch.service_layer.riders import RiderPage, RosterEntry
from shared.events.contracts import DeliveryAddress
from shared.vocabulary.geo import Point, street_metres


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# -- riders ---------------------------------------------------------------------------------------
class RatingAnswer(BaseModel):
    stars: float | None
    count: int


class PositionAnswer(BaseModel):
    lon: float
    lat: float
    seen_at: float


class ShiftAnswer(BaseModel):
    starts_at: str
    ends_at: str


class ProfileAnswer(BaseModel):
    id: str
    name: str
    vehicle: str
    capacity: int
    state: str
    rating: RatingAnswer


class RosterAnswer(ProfileAnswer):
    position: PositionAnswer | None
    shifts_today: list[ShiftAnswer]
    carrying: int
    silent: bool


class ShiftsAnswer(BaseModel):
    rider_id: str
    shifts: list[ShiftAnswer]


class OkAnswer(BaseModel):
    ok: bool = True


def profile(rider: Rider) -> ProfileAnswer:
    rating = rider.rating
    return ProfileAnswer(
        id=rider.id,
        name=rider.name,
        vehicle=rider.vehicle.value,
        capacity=rider.capacity,
        state=rider.state.value,
        rating=RatingAnswer(stars=rating.stars, count=rating.count),
    )


def position(pos: Position | None) -> PositionAnswer | None:
    return PositionAnswer(lon=pos.lon, lat=pos.lat, seen_at=pos.seen_at) if pos else None


def shift(s: Shift) -> ShiftAnswer:
    return ShiftAnswer(starts_at=s.starts_at.isoformat(), ends_at=s.ends_at.isoformat())


def roster_entry(e: RosterEntry) -> RosterAnswer:
    return RosterAnswer(
        **profile(e.rider).model_dump(),
        position=position(e.position),
        shifts_today=[shift(s) for s in e.shifts_today],
        carrying=e.carrying,
        silent=e.silent,
    )


# -- what a rider is told about a job -------------------------------------------------------------
class ShopAnswer(BaseModel):
    id: str
    name_zh: str | None
    name_en: str | None
    lat: float | None
    lon: float | None


class PickupAnswer(BaseModel):
    location_id: str
    kind: str = Field(description="'stall' (a market's stall) or 'counter'")
    name_zh: str | None
    name_en: str | None


class JobAnswer(BaseModel):
    """Where to take the bag from, how far, what it is like, and the cash due. Never the customer."""

    shop: ShopAnswer
    pickup: PickupAnswer
    distance_to_shop_m: int | None
    shop_to_door_m: int | None
    packed: bool
    bags: int | None
    weight_g: int | None
    call_first: bool
    pay_on_delivery: bool
    due_at_door_fen: int | None


class OfferAnswer(JobAnswer):
    id: str
    offer_id: str
    order_id: str
    mode: str
    seconds_left: int
    expires_at: str
    eta_shop_at: str | None
    eta_door_at: str | None
    adds_to: list[str] = Field(
        default_factory=list,
        description="an addition: the orders of the accepted trip (not picked up) it joins; empty for a new trip",
    )


class SlotAnswer(BaseModel):
    start: str | None
    end: str | None


class AddressAnswer(BaseModel):
    text: str
    lat: float
    lon: float

    @classmethod
    def of(cls, address: DeliveryAddress | None) -> AddressAnswer | None:
        return cls(text=address.text, lat=address.lat, lon=address.lon) if address else None


class CustomerAnswer(BaseModel):
    address: AddressAnswer | None
    contact_phone: str | None
    note: str | None
    maps_url: str | None


class RiderDeliveryAnswer(JobAnswer):
    """A delivery in the rider's hands; `customer` only while they carry the bag (absent before and after)."""

    order_id: str
    status: str
    mode: str
    next_step: str | None
    eta_shop_at: str | None
    eta_door_at: str | None
    promised_at: str | None
    slot: SlotAnswer | None
    locker_site_id: str | None
    compartment_id: str | None
    customer: CustomerAnswer | None = Field(default=None, exclude_if=lambda v: v is None)


class RiderPageAnswer(ProfileAnswer):
    shifts_today: list[ShiftAnswer]
    shift: ShiftAnswer | None
    position: PositionAnswer | None
    silent: bool
    deliveries: list[RiderDeliveryAnswer]


def _job(d: Delivery, here: Point | None) -> dict[str, Any]:
    place, pickup_at, door = d.place, d.shop, d.door
    return {
        "shop": ShopAnswer(
            id=d.store_id,
            name_zh=place.store_name_zh or place.name_zh,
            name_en=place.store_name_en or place.name_en,
            lat=place.lat,
            lon=place.lon,
        ),
        "pickup": PickupAnswer(
            location_id=d.pickup_location or d.store_id,
            kind=pickup_kind(d.pickup_location, d.store_id),
            name_zh=d.pickup_name_zh or place.name_zh,
            name_en=d.pickup_name_en or place.name_en,
        ),
        "distance_to_shop_m": round(street_metres(here, pickup_at)) if here and pickup_at else None,
        "shop_to_door_m": round(street_metres(pickup_at, door)) if pickup_at and door else None,
        "packed": d.packed,
        "bags": d.bags if d.packed else None,
        "weight_g": d.weight_g if d.packed else None,
        "call_first": d.call_first,
        "pay_on_delivery": d.pay_on_delivery,
        "due_at_door_fen": d.due_at_door_fen if d.pay_on_delivery else None,
    }


def offer_for_rider(o: OfferForRider) -> OfferAnswer:
    offer, d = o.offer, o.delivery
    return OfferAnswer(
        id=offer.id,
        offer_id=offer.id,
        order_id=offer.order_id,
        mode=d.mode.value,
        seconds_left=o.seconds_left,
        expires_at=offer.expires_at.isoformat(),
        **_job(d, o.here),
        eta_shop_at=_iso(offer.eta_shop_at),
        eta_door_at=_iso(offer.eta_door_at),
        adds_to=list(o.adds_to),
    )


def _customer(d: Delivery) -> CustomerAnswer | None:
    if not VISIBILITY.rider_sees_customer(d):
        return None
    address = d.address
    link = maps_url(address.lat, address.lon, address.text or d.order_id) if address else None
    return CustomerAnswer(address=AddressAnswer.of(address), contact_phone=d.contact_phone, note=d.note, maps_url=link)


def delivery_for_rider(d: Delivery, here: Point | None = None) -> RiderDeliveryAnswer:
    """What the assigned rider sees. No handover code, ever: the counter tells it to the rider with
    the bag, so entering it proves the bag left the shop with this rider."""
    step = d.next_step
    return RiderDeliveryAnswer(
        order_id=d.order_id,
        status=d.status.value,
        mode=d.mode.value,
        next_step=step.value if step else None,
        **_job(d, here),
        eta_shop_at=_iso(d.eta_shop_at),
        eta_door_at=_iso(d.eta_door_at),
        promised_at=_iso(d.promised_at),
        slot=SlotAnswer(start=_iso(d.slot_start), end=_iso(d.slot_end)) if d.slot_start else None,
        locker_site_id=d.locker_site_id,
        compartment_id=d.compartment_id,
        customer=_customer(d),
    )


def rider_page(page: RiderPage) -> RiderPageAnswer:
    return RiderPageAnswer(
        **profile(page.rider).model_dump(),
        shifts_today=[shift(s) for s in page.shifts_today],
        shift=shift(page.shift) if page.shift else None,
        position=position(page.position),
        silent=page.silent,
        deliveries=[delivery_for_rider(d, page.here) for d in page.deliveries],
    )


# -- changes' answers -----------------------------------------------------------------------------
class AcceptedAnswer(BaseModel):
    order_id: str
    status: str


class DeclinedAnswer(BaseModel):
    order_id: str
    declined: bool


class AssignedAnswer(BaseModel):
    order_id: str
    rider_id: str
    status: str


class StepAnswer(BaseModel):
    order_id: str
    status: str


class PaidAtDoorAnswer(StepAnswer):
    """Delivered, paid on delivery: what was due, what the rider took, and the difference (None: none)."""

    due_at_door_fen: int | None
    cash_collected_fen: int | None
    cash_difference_fen: int | None


class DepositedAnswer(StepAnswer):
    site_id: str | None
    compartment_id: str | None


def accepted(d: Delivery) -> AcceptedAnswer:
    return AcceptedAnswer(order_id=d.order_id, status=d.status.value)


def declined(o: Offer) -> DeclinedAnswer:
    return DeclinedAnswer(order_id=o.order_id, declined=True)


def assigned(d: Delivery) -> AssignedAnswer:
    return AssignedAnswer(order_id=d.order_id, rider_id=d.rider_id or "", status=d.status.value)


def step_done(d: Delivery) -> StepAnswer:
    return StepAnswer(order_id=d.order_id, status=d.status.value)


def delivered(done: Delivered) -> StepAnswer:
    d = done.delivery
    if not d.pay_on_delivery:
        return step_done(d)
    return PaidAtDoorAnswer(
        order_id=d.order_id,
        status=d.status.value,
        due_at_door_fen=d.due_at_door_fen,
        cash_collected_fen=d.cash_collected_fen,
        cash_difference_fen=done.cash_difference_fen,
    )


def deposited(d: Delivery) -> DepositedAnswer:
    return DepositedAnswer(
        order_id=d.order_id, status=d.status.value, site_id=d.locker_site_id, compartment_id=d.compartment_id
    )


# -- dispatchers ----------------------------------------------------------------------------------
class DispatcherDeliveryAnswer(BaseModel):
    """Every fact of a delivery except the two codes (the shop's and the shopper's)."""

    order_id: str
    store_id: str
    mode: str
    status: str
    placed_by: str
    placed_for: str
    address: AddressAnswer | None
    contact_phone: str | None
    note: str | None
    locker_site_id: str | None
    compartment_id: str | None
    call_first: bool
    pay_on_delivery: bool
    total_fen: int
    bags: int | None
    weight_g: int | None
    pickup_location: str | None
    packed_at: str | None
    ready_at: str | None
    promised_at: str | None
    opened_at: str | None
    rider_id: str | None
    assigned_at: str | None
    eta_shop_at: str | None
    eta_door_at: str | None
    late_risk: bool
    at_shop_at: str | None
    picked_up_at: str | None
    at_door_at: str | None
    finished_at: str | None
    answer_by: str | None
    created_at: str | None
    updated_at: str | None
    slot_start: str | None
    slot_end: str | None
    release_at: str | None
    payment: str
    delivery_fee_fen: int
    platform_fee_fen: int
    final_fen: int | None
    due_at_door_fen: int | None
    cash_collected_fen: int | None
    pickup_name_zh: str | None
    pickup_name_en: str | None
    shop_lat: float | None
    shop_lon: float | None


def delivery_for_dispatcher(d: Delivery) -> DispatcherDeliveryAnswer:
    values: dict[str, Any] = {}
    for name in DispatcherDeliveryAnswer.model_fields:
        if name in ("shop_lat", "shop_lon", "address"):
            continue
        value = getattr(d, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return DispatcherDeliveryAnswer(
        **values, address=AddressAnswer.of(d.address), shop_lat=d.place.lat, shop_lon=d.place.lon
    )


class AlertAnswer(BaseModel):
    id: int
    order_id: str | None
    rider_id: str | None
    kind: str
    message: str
    created_at: str
    resolved_at: str | None


def alert(a: Alert) -> AlertAnswer:
    return AlertAnswer(
        id=a.id,
        order_id=a.order_id,
        rider_id=a.rider_id,
        kind=a.kind,
        message=a.message,
        created_at=a.created_at.isoformat(),
        resolved_at=None,
    )


class TrackedOrderAnswer(BaseModel):
    order_id: str
    store_id: str
    fulfilment_mode: str | None
    status: str
    awaits_rider: bool
    updated_at: str


def tracked_order(t: TrackedOrder) -> TrackedOrderAnswer:
    return TrackedOrderAnswer(
        order_id=t.order_id,
        store_id=t.store_id,
        fulfilment_mode=t.fulfilment_mode.value if t.fulfilment_mode else None,
        status=t.status,
        awaits_rider=t.awaits_rider,
        updated_at=t.updated_at.isoformat(),
    )


class OrderEventAnswer(BaseModel):
    type: str
    occurred_at: str
    received_at: str
    payload: dict[str, Any]


def order_event(e: LoggedEvent) -> OrderEventAnswer:
    return OrderEventAnswer(
        type=e.type, occurred_at=e.occurred_at.isoformat(), received_at=e.received_at.isoformat(), payload=e.payload
    )


class BoardOfferAnswer(BaseModel):
    offer_id: str
    order_id: str
    rider_id: str
    expires_at: str


def board_offer(o: Offer) -> BoardOfferAnswer:
    return BoardOfferAnswer(
        offer_id=o.id, order_id=o.order_id, rider_id=o.rider_id, expires_at=o.expires_at.isoformat()
    )


class OrderStatusAnswer(BaseModel):
    """The orderer's view of their order's delivery; the rider's position follows only while visible."""

    order_id: str
    status: str
    rider_id: str | None
    promised_at: str | None
    eta_door_at: str | None
    late_risk: bool
    rider_visible: bool


def order_status(d: Delivery) -> OrderStatusAnswer:
    return OrderStatusAnswer(
        order_id=d.order_id,
        status=d.status.value,
        rider_id=d.rider_id,
        promised_at=_iso(d.promised_at),
        eta_door_at=_iso(d.eta_door_at),
        late_risk=d.late_risk,
        rider_visible=VISIBILITY.orderer_sees_rider(d),
    )


# -- lockers --------------------------------------------------------------------------------------
class CompartmentAnswer(BaseModel):
    id: str
    size: str
    free: bool


class SiteDetailAnswer(BaseModel):
    id: str
    name: str
    lat: float
    lon: float
    compartments: list[CompartmentAnswer]


class SiteAnswer(BaseModel):
    id: str
    name: str
    lat: float
    lon: float
    free: dict[str, int] = Field(description="free compartments by size (S, M, L)")


class OpenedAnswer(BaseModel):
    order_id: str
    compartment_id: str
    opened: bool


def site_detail(s: SiteDetail) -> SiteDetailAnswer:
    return SiteDetailAnswer(
        id=s.site.id,
        name=s.site.name,
        lat=s.site.lat,
        lon=s.site.lon,
        compartments=[CompartmentAnswer(id=c.id, size=c.size, free=c.state == "free") for c in s.compartments],
    )


def site(s: LockerSite) -> SiteAnswer:
    return SiteAnswer(id=s.id, name=s.name, lat=s.lat, lon=s.lon, free=s.free)


def opened(o: Opened) -> OpenedAnswer:
    return OpenedAnswer(order_id=o.order_id, compartment_id=o.compartment_id, opened=True)


# -- the board's view of the rounds -----------------------------------------------------------------
class HoldAnswer(BaseModel):
    order_id: str
    reason: str = Field(description="'timing': the bag is far from ready; 'rider_busy': waiting for a rider costs less")
    why: str
    rider_id: str = Field(description="the rider it is held for")
    leaves_at: str
    eta_door_at: str
    hold_cost: float
    send_now_rider: str | None
    send_now_cost: float | None


class UndeliverableAnswer(BaseModel):
    order_id: str
    reason: str
    best_door_at: str | None


class BundleAnswer(BaseModel):
    rider_id: str
    order_ids: list[str]
    offered: bool = Field(description="True: offered together, not yet answered; False: accepted, not picked up")


class AdditionAnswer(BaseModel):
    rider_id: str
    order_id: str
    adds_to: list[str]
    offer_id: str | None = Field(description="None: planned by the round, not offered yet")
    eta_door_at: str | None


class ShiftEndAnswer(BaseModel):
    rider_id: str
    name: str
    ends_at: str
    in_hand: list[str]


class BoardPlanAnswer(BaseModel):
    planned_at: str
    pressure: float = Field(description="open orders per rider free within 10 minutes (> 1: riders are scarce)")
    held: list[HoldAnswer]
    undeliverable: list[UndeliverableAnswer]
    bundles: list[BundleAnswer]
    additions: list[AdditionAnswer]
    shift_ends: list[ShiftEndAnswer]


def _why_held(h: Hold) -> str:
    if h.reason == "timing":
        return f"the bag is not ready yet: {h.rider_id} sets off at {h.leaves_at:%H:%M} to arrive as it is packed"
    if h.send_now_rider is None:
        return f"held for {h.rider_id}, free at {h.leaves_at:%H:%M}: nobody free now can take it"
    return (
        f"held for {h.rider_id}, free at {h.leaves_at:%H:%M}: waiting costs {h.hold_cost:.0f}, "
        f"sending {h.send_now_rider} now {h.send_now_cost or 0:.0f}"
    )


def board_plan(b: BoardPlan) -> BoardPlanAnswer:
    pressure = b.pressure if math.isfinite(b.pressure) else 999.0
    return BoardPlanAnswer(
        planned_at=b.planned_at.isoformat(),
        pressure=round(pressure, 2),
        held=[
            HoldAnswer(
                order_id=h.order_id,
                reason=h.reason,
                why=_why_held(h),
                rider_id=h.rider_id,
                leaves_at=h.leaves_at.isoformat(),
                eta_door_at=h.eta_door_at.isoformat(),
                hold_cost=round(h.hold_cost, 1),
                send_now_rider=h.send_now_rider,
                send_now_cost=None if h.send_now_cost is None else round(h.send_now_cost, 1),
            )
            for h in b.holds
        ],
        undeliverable=[
            UndeliverableAnswer(order_id=u.order_id, reason=u.reason, best_door_at=_iso(u.best_door_at))
            for u in b.undeliverable
        ],
        bundles=[BundleAnswer(rider_id=x.rider_id, order_ids=list(x.order_ids), offered=x.offered) for x in b.bundles],
        additions=[
            AdditionAnswer(
                rider_id=a.rider_id,
                order_id=a.order_id,
                adds_to=list(a.adds_to),
                offer_id=a.offer_id,
                eta_door_at=_iso(a.eta_door_at),
            )
            for a in b.additions
        ],
        shift_ends=[
            ShiftEndAnswer(rider_id=e.rider_id, name=e.name, ends_at=e.ends_at.isoformat(), in_hand=list(e.in_hand))
            for e in b.shift_ends
        ],
    )
