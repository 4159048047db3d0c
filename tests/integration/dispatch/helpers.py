"""Plain helpers for the dispatch integration tests: the shop and the door, the events that drive
dispatch, a deadline as the scheduler hands it over, and use cases' results as their JSON answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.dispatch.entrypoints import answers
from services.dispatch.service_layer import assigning, riders
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.deadlines import Deadline
from shared.events.contracts import (
    DeliveryAddress,
    HandlingFlags,
    OrderAccepted,
    OrderedLine,
    OrderPacked,
    OrderPlaced,
    PickupPoint,
)
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.units import StockUnit

SHOP = (32.0440, 118.7900)
DOOR = (32.0470, 118.7950)


def due(kind: str, order_id: str) -> Deadline:
    """A deadline of that kind for the order, as the scheduler passes it to its handler."""
    return Deadline(kind, order_id, datetime(2026, 1, 1, tzinfo=UTC))


async def offers_json(uow: DispatchUnitOfWork, rider_id: str) -> list[dict[str, Any]]:
    """GET /riders/me/offers, as the rider app reads it."""
    return [answers.offer_for_rider(o).model_dump(mode="json") for o in await assigning.offers_for(uow, rider_id)]


async def me_json(uow: DispatchUnitOfWork, rider_id: str) -> dict[str, Any]:
    """GET /riders/me, as the rider app reads it."""
    return answers.rider_page(await riders.me(uow, rider_id)).model_dump(mode="json")


async def roster_json(uow: DispatchUnitOfWork) -> list[dict[str, Any]]:
    """GET /riders, as the board reads it."""
    return [answers.roster_entry(e).model_dump(mode="json") for e in await riders.roster(uow)]


def rider_view(d: Any) -> dict[str, Any]:
    """A step's answer (the delivery as its rider sees it)."""
    return answers.delivery_for_rider(d).model_dump(mode="json")


def placed(
    order_id: str,
    *,
    mode: FulfilmentMode = FulfilmentMode.DELIVERY,
    pay_on_delivery: bool = False,
    site: str | None = None,
    by: str = "shopper-1",
) -> OrderPlaced:
    line = OrderedLine(
        line_no=1,
        product_id="water",
        location_id="shop",
        quantity=1,
        unit=StockUnit.PIECE,
        stock_quantity=1,
        unit_price_fen=200,
        estimated_fen=200,
    )
    return OrderPlaced(
        order_id=order_id,
        store_id="shop",
        placed_by=by,
        placed_for=by,
        fulfilment_mode=mode,
        lines=[line],
        total_fen=200,
        flags=HandlingFlags(pay_on_delivery=pay_on_delivery),
        address=DeliveryAddress(text="3-201 Lane 5", lat=DOOR[0], lon=DOOR[1]),
        contact_phone="13800000000",
        delivery_code="123456",
        locker_site_id=site,
        note="ring twice",
    )


def accepted(order_id: str) -> OrderAccepted:
    return OrderAccepted(order_id=order_id, store_id="shop")


def packed(order_id: str, code: str = "4321", bags: int = 1, weight_g: int = 900) -> OrderPacked:
    return OrderPacked(
        order_id=order_id,
        store_id="shop",
        shown_fen=200,
        final_fen=200,
        difference_fen=0,
        lines=[],
        bags=bags,
        weight_g=weight_g,
        pickup_point=PickupPoint(location_id="shop", name_zh="店", name_en="Shop"),
        handover_code=code,
    )
