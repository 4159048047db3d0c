"""What inventory's routes answer, as pydantic models (so /docs shows each schema), and how the
service layer's results are shaped into them.

The field names, values and nulls are the ones the counter console (web/counter.js) and the
end-to-end tests read: change one here and they break. Times are ISO 8601 strings as the
routes always sent them (`datetime.isoformat()`, "+00:00").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.inventory.domain.catalog import Location, Stocked
from services.inventory.domain.fulfilment import PartStatus
from services.inventory.domain.picking import LineState
from services.inventory.domain.reservation import Reservation, ReservationStatus
from services.inventory.domain.stock import StockLevel
from services.inventory.service_layer import fulfilment
from services.inventory.service_layer.queries import HistoryEntry, LineToPick, PickList, QueuedPart
from shared.events.contracts import HandoverTo
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.locations import LocationKind


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


class Ok(BaseModel):
    ok: bool = True


# Stores, locations and products


class HoursAnswer(BaseModel):
    windows: list[dict[str, Any]] | None
    closures: list[dict[str, Any]]
    paused: bool
    open_now: bool
    why_closed: str | None
    next_opening: str | None


class StallAnswer(HoursAnswer):
    id: str
    category: str
    name_zh: str
    name_en: str
    active: bool


class StoreAnswer(HoursAnswer):
    """A shop or a market; a market lists its stalls (a shop has no `stalls` key at all)."""

    id: str
    kind: str
    category: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    active: bool
    delivery_radius_m: int
    picking_minutes: int
    accept_limit_s: int | None
    delivery_fee_fen: int
    stalls: list[StallAnswer] | None = None


def _windows(location: Location) -> list[dict[str, Any]] | None:
    return [w.model_dump(mode="json") for w in location.windows] if location.windows else None


def _closures(location: Location) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in location.closures]


def _hours(location: Location, timezone: str, at: datetime) -> dict[str, Any]:
    hours = location.hours(timezone)
    return {
        "windows": _windows(location),
        "closures": _closures(location),
        "paused": location.paused,
        "open_now": hours.taking_orders(at),
        "why_closed": hours.why_not(at),
        "next_opening": _iso(hours.next_opening(at)),
    }


def stall_answer(stall: Location, timezone: str, at: datetime) -> StallAnswer:
    return StallAnswer(
        id=stall.id,
        category=stall.category,
        name_zh=stall.name_zh,
        name_en=stall.name_en,
        active=stall.active,
        **_hours(stall, timezone, at),
    )


def store_answer(store: Location, stalls: list[Location], timezone: str, at: datetime) -> StoreAnswer:
    """A shop, or a market with its stalls."""
    answer = StoreAnswer(
        id=store.id,
        kind=store.kind.value,
        category=store.category,
        name_zh=store.name_zh,
        name_en=store.name_en,
        lat=store.lat,
        lon=store.lon,
        active=store.active,
        delivery_radius_m=store.delivery_radius_m,
        picking_minutes=store.picking_minutes,
        accept_limit_s=store.accept_limit_s,
        delivery_fee_fen=store.delivery_fee_fen,
        **_hours(store, timezone, at),
    )
    if store.kind is LocationKind.MARKET:
        answer.stalls = [stall_answer(s, timezone, at) for s in stalls]
    return answer


class ProductListing(BaseModel):
    """A product as shoppers browse it."""

    id: str
    name_zh: str
    name_en: str
    category: str
    unit: str
    price: int
    grams_per_piece: int | None
    available: int
    location_id: str
    active: bool


def product_listing(stocked: Stocked) -> ProductListing:
    p = stocked.product
    return ProductListing(
        id=p.id,
        name_zh=p.name_zh,
        name_en=p.name_en,
        category=p.category,
        unit=p.unit.value,
        price=p.price_fen,
        grams_per_piece=p.grams_per_piece,
        available=stocked.available,
        location_id=p.location_id,
        active=p.active,
    )


class LocationAnswer(BaseModel):
    id: str
    kind: str
    parent_id: str | None
    category: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    active: bool
    accept_limit_s: int | None
    windows: list[dict[str, Any]] | None
    closures: list[dict[str, Any]]
    paused: bool
    delivery_radius_m: int
    picking_minutes: int
    weight_tolerance_pct: float | None
    delivery_fee_fen: int


def location_answer(location: Location) -> LocationAnswer:
    return LocationAnswer(
        id=location.id,
        kind=location.kind.value,
        parent_id=location.parent_id,
        category=location.category,
        name_zh=location.name_zh,
        name_en=location.name_en,
        lat=location.lat,
        lon=location.lon,
        active=location.active,
        accept_limit_s=location.accept_limit_s,
        windows=_windows(location),
        closures=_closures(location),
        paused=location.paused,
        delivery_radius_m=location.delivery_radius_m,
        picking_minutes=location.picking_minutes,
        weight_tolerance_pct=location.weight_tolerance_pct,
        delivery_fee_fen=location.delivery_fee_fen,
    )


class _ProductBasics(BaseModel):
    """What every answer about a product (with its stock) starts with."""

    id: str
    location_id: str
    name_zh: str
    name_en: str
    category: str
    unit: str
    price_fen: int
    grams_per_piece: int | None


class StockRow(_ProductBasics):
    barcode: str | None
    active: bool
    low_stock_threshold: int | None
    on_hand: int
    reserved: int
    available: int


def _product_fields(stocked: Stocked) -> dict[str, Any]:
    """A product with its stock, field by field, as its answers name them."""
    p = stocked.product
    return {
        "id": p.id,
        "location_id": p.location_id,
        "store_id": p.store_id,
        "name_zh": p.name_zh,
        "name_en": p.name_en,
        "category": p.category,
        "unit": p.unit.value,
        "price_fen": p.price_fen,
        "grams_per_piece": p.grams_per_piece,
        "active": p.active,
        "barcode": p.barcode,
        "low_stock_threshold": p.low_stock_threshold,
        "on_hand": stocked.on_hand,
        "reserved": stocked.reserved,
        "available": stocked.available,
    }


def stock_row(stocked: Stocked) -> StockRow:
    return StockRow.model_validate(_product_fields(stocked))


class ProductAnswer(_ProductBasics):
    active: bool
    barcode: str | None
    low_stock_threshold: int | None
    store_id: str
    on_hand: int | None
    reserved: int | None
    available: int | None


def product_answer(stocked: Stocked) -> ProductAnswer:
    return ProductAnswer.model_validate(_product_fields(stocked))


class LevelAnswer(BaseModel):
    on_hand: int
    reserved: int
    available: int


def level_answer(level: StockLevel) -> LevelAnswer:
    return LevelAnswer(on_hand=level.on_hand, reserved=level.reserved, available=level.available)


class HistoryAnswer(BaseModel):
    at: str
    actor: str
    kind: str
    change: str
    details: dict[str, Any]


def history_answer(entry: HistoryEntry) -> HistoryAnswer:
    return HistoryAnswer(
        at=entry.at.isoformat(), actor=entry.actor, kind=entry.kind, change=entry.change, details=dict(entry.details)
    )


# The queue and pick lists


class SlotAnswer(BaseModel):
    start: str
    end: str


def _slot(order: Reservation) -> SlotAnswer | None:
    if order.slot_start is None or order.slot_end is None:
        return None
    return SlotAnswer(start=order.slot_start.isoformat(), end=order.slot_end.isoformat())


class LineAnswer(BaseModel):
    line_no: int
    product_id: str
    location_id: str
    name_zh: str | None
    name_en: str | None
    category: str | None
    barcode: str | None
    pieces: int
    quantity: int
    unit: str
    estimated_fen: int
    substitution: dict[str, Any]
    state: LineState
    picked_quantity: int | None
    pending_quantity: int | None
    charged_fen: int | None
    substitute: dict[str, Any] | None


def line_answer(item: LineToPick) -> LineAnswer:
    ln, product = item.line, item.product
    return LineAnswer(
        line_no=ln.line_no,
        product_id=ln.product_id,
        location_id=ln.location_id,
        name_zh=product.name_zh if product else None,
        name_en=product.name_en if product else None,
        category=product.category if product else None,
        barcode=product.barcode if product else None,
        pieces=ln.ordered_pieces,
        quantity=ln.quantity,
        unit=ln.unit.value,
        estimated_fen=ln.estimated_fen,
        substitution=ln.substitution,
        state=ln.state,
        picked_quantity=ln.picked_quantity,
        pending_quantity=ln.pending_quantity,
        charged_fen=ln.charged_fen,
        substitute=ln.substitute,
    )


class PartAnswer(BaseModel):
    order_id: str
    store_id: str
    location_id: str
    status: PartStatus
    order_status: ReservationStatus
    fulfilment_mode: FulfilmentMode
    flags: dict[str, Any]
    note: str | None
    slot: SlotAnswer | None
    release_at: str | None
    handover_code: str | None  # only where staff may read it (Reservation.code_for_staff)
    accept_deadline: str
    lines: list[LineAnswer]


class QueuedPartAnswer(PartAnswer):
    seconds_left: int | None


class ScheduledPartAnswer(PartAnswer):
    seconds_to_release: int


def _part_fields(q: QueuedPart) -> dict[str, Any]:
    return {
        "order_id": q.part.order_id,
        "store_id": q.order.store_id,
        "location_id": q.part.location_id,
        "status": q.part.status,
        "order_status": q.order.status,
        "fulfilment_mode": q.order.fulfilment_mode,
        "flags": q.order.flags,
        "note": q.order.note,
        "slot": _slot(q.order),
        "release_at": _iso(q.order.release_at),
        "handover_code": q.order.code_for_staff(),
        "accept_deadline": q.part.accept_deadline.isoformat(),
        "lines": [line_answer(ln) for ln in q.lines],
    }


def queued_answer(q: QueuedPart) -> QueuedPartAnswer:
    return QueuedPartAnswer(**_part_fields(q), seconds_left=q.seconds_left)


def scheduled_answer(q: QueuedPart) -> ScheduledPartAnswer:
    return ScheduledPartAnswer(**_part_fields(q), seconds_to_release=q.seconds_to_release or 0)


class CategoryAnswer(BaseModel):
    category: str
    lines: list[LineAnswer]


class StallLinesAnswer(BaseModel):
    location_id: str
    categories: list[CategoryAnswer]


class LineHistoryAnswer(BaseModel):
    line_no: int
    actor: str
    at: str
    action: str
    details: dict[str, Any]


class PickListAnswer(BaseModel):
    order_id: str
    store_id: str
    status: ReservationStatus
    fulfilment_mode: FulfilmentMode
    flags: dict[str, Any]
    note: str | None
    slot: SlotAnswer | None
    release_at: str | None
    stalls: list[StallLinesAnswer]
    history: list[LineHistoryAnswer]


def pick_list_answer(pick: PickList) -> PickListAnswer:
    order = pick.order
    return PickListAnswer(
        order_id=order.order_id,
        store_id=order.store_id,
        status=order.status,
        fulfilment_mode=order.fulfilment_mode,
        flags=order.flags,
        note=order.note,
        slot=_slot(order),
        release_at=_iso(order.release_at),
        stalls=[
            StallLinesAnswer(
                location_id=loc,
                categories=[
                    CategoryAnswer(category=cat, lines=[line_answer(ln) for ln in lines])
                    for cat, lines in sorted(cats.items())
                ],
            )
            for loc, cats in sorted(pick.stalls.items())
        ],
        history=[LineHistoryAnswer(**{**h, "at": h["at"].isoformat()}) for h in pick.history],
    )


class LiveQueueAnswer(BaseModel):
    """One `queue` event of GET /stores/{id}/live."""

    location_id: str
    queue: list[QueuedPartAnswer]
    scheduled: list[ScheduledPartAnswer]


# Fulfilment actions


class StartedAnswer(BaseModel):
    order_id: str
    picking: list[str]


class PickedAnswer(BaseModel):
    line_no: int
    state: LineState
    quantity: int
    price_fen: int


class WeightPendingAnswer(BaseModel):
    line_no: int
    state: LineState
    over_pct: float
    price_fen: int
    approval_deadline: str


def picked_answer(result: fulfilment.Picked | fulfilment.WeightPending) -> PickedAnswer | WeightPendingAnswer:
    if isinstance(result, fulfilment.WeightPending):
        return WeightPendingAnswer(
            line_no=result.line_no,
            state=LineState.WEIGHT_PENDING,
            over_pct=result.over_pct,
            price_fen=result.price_fen,
            approval_deadline=result.approval_deadline.isoformat(),
        )
    return PickedAnswer(
        line_no=result.line_no, state=LineState.PICKED, quantity=result.quantity, price_fen=result.price_fen
    )


class OutOfStockAnswer(BaseModel):
    line_no: int
    state: LineState
    refund_fen: int


class SubstituteAnswer(BaseModel):
    line_no: int
    state: LineState
    needs_approval: bool
    price_fen: int


class PartPackedAnswer(BaseModel):
    order_id: str
    part: str
    packed: bool
    order_packed: bool


class OrderPackedAnswer(PartPackedAnswer):
    final_fen: int
    shown_fen: int
    difference_fen: int


def packed_answer(result: fulfilment.PackedPart) -> PartPackedAnswer | OrderPackedAnswer:
    if result.order is None:
        return PartPackedAnswer(order_id=result.order_id, part=result.part, packed=True, order_packed=False)
    return OrderPackedAnswer(
        order_id=result.order_id,
        part=result.part,
        packed=True,
        order_packed=True,
        final_fen=result.order.final_fen,
        shown_fen=result.order.shown_fen,
        difference_fen=result.order.difference_fen,
    )


class HandedOverAnswer(BaseModel):
    order_id: str
    handed_over_to: HandoverTo


class ReturnedAnswer(BaseModel):
    order_id: str
    refund_fen: int
