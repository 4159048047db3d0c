"""What the counter prints and shows: bag labels, and the handover code as a QR code for the rider."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import labels
from shared.auth import Principal, require
from shared.vocabulary.roles import Role
from shared.web.qr import SVG, CodeKind, payload, svg_answer

router = APIRouter(tags=["fulfilment"])
Staff = Depends(require(Role.STORE_STAFF))


class BagLabelAnswer(BaseModel):
    location_id: str
    name_zh: str
    name_en: str
    bag: int
    bags: int


class LabelsAnswer(BaseModel):
    order_id: str
    store_id: str
    fulfilment_mode: str
    call_before_delivery: bool
    pay_on_delivery: bool
    code_kind: CodeKind
    qr_payload: str | None  # null when staff may not read the code (pickup: the shopper brings it)
    labels: list[BagLabelAnswer]


@router.get(
    "/stores/{location_id}/orders/{order_id}/labels",
    responses={404: {"description": "no such order here"}, 409: {"description": "nothing packed here yet"}},
)
async def bag_labels(location_id: str, order_id: str, request: Request, principal: Principal = Staff) -> LabelsAnswer:
    """One label per packed bag: the order, the shop or stall, bag k of n, the handover code's QR
    where staff may read it, and the handling marks."""
    location = await location_for(request, principal, location_id)
    async with unit_of_work(request, readonly=True) as uow:
        found = await labels.bag_labels(uow, location, order_id)
    order = found.order
    return LabelsAnswer(
        order_id=order.order_id,
        store_id=order.store_id,
        fulfilment_mode=order.fulfilment_mode.value,
        call_before_delivery=bool(order.flags.get("call_before_delivery")),
        pay_on_delivery=bool(order.flags.get("pay_on_delivery")),
        code_kind=CodeKind.PICKUP,
        qr_payload=payload(CodeKind.PICKUP, order.order_id, found.code) if found.code else None,
        labels=[
            BagLabelAnswer(
                location_id=label.part.location_id,
                name_zh=label.place.name_zh if label.place else label.part.location_id,
                name_en=label.place.name_en if label.place else label.part.location_id,
                bag=label.bag,
                bags=label.bags,
            )
            for label in found.labels
        ],
    )


@router.get(
    "/stores/{location_id}/orders/{order_id}/handover-code.svg",
    response_class=Response,
    responses={
        200: {"content": {SVG: {}}, "description": "the QR code of `linli:pickup:<order>:<code>`"},
        404: {"description": "no such order here, or no code the counter may show"},
    },
)
async def handover_qr(location_id: str, order_id: str, request: Request, principal: Principal = Staff) -> Response:
    """The handover code a rider enters, as a QR code, to exactly the staff the queue shows it to."""
    location = await location_for(request, principal, location_id)
    async with unit_of_work(request, readonly=True) as uow:
        code = await labels.handover_code(uow, location, order_id)
    return svg_answer(CodeKind.PICKUP, order_id, code)
