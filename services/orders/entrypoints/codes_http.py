"""The order's codes as QR images, for the shopper's phone to hold up at a counter, door or locker."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.orders.entrypoints.answers import order_answer
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer.reading import get_order
from shared.auth import CurrentPrincipal
from shared.errors import NotFound
from shared.web.qr import SVG, CodeKind, svg_answer

router = APIRouter(tags=["orders"])


@router.get(
    "/orders/{order_id}/codes/{kind}.svg",
    response_class=Response,
    responses={
        200: {"content": {SVG: {}}, "description": "the QR code of `linli:<kind>:<order>:<code>`"},
        404: {"description": "no such order, or no such code (yet) that you may see"},
    },
)
async def code_qr(order_id: str, kind: CodeKind, request: Request, principal: CurrentPrincipal) -> Response:
    """A code of the order as a QR code (SVG), to whoever the order view shows that code to.

    `pickup` is the handover code, `delivery` the code for the rider at the door, `locker` the
    compartment's code while the bag is inside.
    """
    async with unit_of_work(request, readonly=True) as uow:
        order = await get_order(uow, principal, order_id)
    seen = order_answer(order, principal)
    code = {
        CodeKind.PICKUP: seen.handover_code,
        CodeKind.DELIVERY: seen.delivery_code,
        CodeKind.LOCKER: (seen.locker or {}).get("code"),
    }[kind]
    if not code:
        raise NotFound(f"order {order_id} has no {kind.value} code that you can see")
    return svg_answer(kind, order_id, str(code))
