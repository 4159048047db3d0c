"""Use cases for the shop side: inventory's picking facts, and the shopper answering a question.

Each event handler loads the order under a row lock, applies one fact with the domain
(`services.orders.domain.fulfilment`), and saves it: short, so that the rules stay in one
place. Packing and a returned bag settle the order's money in the same transaction. An event
about an order orders never heard of is dropped, as the other handlers do.
"""

from __future__ import annotations

from services.orders.domain import approvals
from services.orders.domain import fulfilment as shop
from services.orders.domain.lines import Substitute
from services.orders.domain.order import Order, Packed
from services.orders.service_layer import payments
from services.orders.service_layer.reading import get_order, orderers_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.events.contracts import (
    ApprovalGiven,
    BagReturned,
    LineOutOfStock,
    LinePicked,
    OrderHandedOver,
    OrderPacked,
    PartAccepted,
    PartPacked,
    PartRejected,
    PickingStarted,
    SubstitutionProposed,
    SubstitutionSettled,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.vocabulary.roles import Role


async def on_part_accepted(uow: OrdersUnitOfWork, e: PartAccepted) -> None:
    await uow.apply(e.order_id, lambda o: shop.part_accepted(o, e.location_id, e.accepted_by, uow.now()))


async def on_part_rejected(uow: OrdersUnitOfWork, e: PartRejected) -> None:
    await uow.apply(
        e.order_id,
        lambda o: shop.part_rejected(o, e.location_id, e.reason, e.note, e.line_nos, e.refund_fen, at=uow.now()),
    )


async def on_picking_started(uow: OrdersUnitOfWork, e: PickingStarted) -> None:
    await uow.apply(e.order_id, lambda o: shop.picking_started(o, e.location_id, e.by, uow.now()))


async def on_line_picked(uow: OrdersUnitOfWork, e: LinePicked) -> None:
    await uow.apply(
        e.order_id,
        lambda o: shop.line_picked(o, e.line_no, e.quantity, e.price_fen, e.estimated_fen, by=e.by, at=uow.now()),
    )


async def on_line_out_of_stock(uow: OrdersUnitOfWork, e: LineOutOfStock) -> None:
    await uow.apply(e.order_id, lambda o: shop.line_out_of_stock(o, e.line_no, e.refund_fen, e.by, uow.now()))


async def on_weight_approval_requested(uow: OrdersUnitOfWork, e: WeightApprovalRequested) -> None:
    await uow.apply(
        e.order_id,
        lambda o: shop.weight_approval_requested(
            o,
            e.line_no,
            estimated_quantity=e.estimated_quantity,
            actual_quantity=e.actual_quantity,
            over_pct=e.over_pct,
            estimated_fen=e.estimated_fen,
            actual_fen=e.actual_fen,
            deadline=e.deadline,
            at=uow.now(),
        ),
    )


async def on_weight_settled(uow: OrdersUnitOfWork, e: WeightSettled) -> None:
    await uow.apply(
        e.order_id, lambda o: shop.weight_settled(o, e.line_no, e.approved, e.charged_fen, e.decided_by, uow.now())
    )


async def on_substitution_proposed(uow: OrdersUnitOfWork, e: SubstitutionProposed) -> None:
    sub = e.substitute
    substitute = Substitute(
        sub.product_id, sub.location_id, sub.name_zh, sub.name_en, sub.unit.value, sub.quantity, sub.price_fen
    )
    await uow.apply(
        e.order_id,
        lambda o: shop.substitution_proposed(
            o, e.line_no, substitute, e.needs_approval, e.deadline, by=e.by, at=uow.now()
        ),
    )


async def on_substitution_settled(uow: OrdersUnitOfWork, e: SubstitutionSettled) -> None:
    await uow.apply(
        e.order_id,
        lambda o: shop.substitution_settled(
            o, e.line_no, e.accepted, e.price_fen, e.refund_fen, decided_by=e.decided_by, at=uow.now()
        ),
    )


async def on_part_packed(uow: OrdersUnitOfWork, e: PartPacked) -> None:
    await uow.apply(e.order_id, lambda o: shop.part_packed(o, e.location_id, e.bags, e.weight_g, e.by, uow.now()))


async def on_order_packed(uow: OrdersUnitOfWork, e: OrderPacked) -> None:
    packed = Packed(
        final_fen=e.final_fen,
        difference_fen=e.difference_fen,
        bags=e.bags,
        weight_g=e.weight_g,
        pickup_point=e.pickup_point.model_dump(mode="json"),
        handover_code=e.handover_code,
    )
    outcomes = [(ln.line_no, ln.outcome, ln.quantity, ln.price_fen) for ln in e.lines]
    order = await uow.apply(e.order_id, lambda o: shop.order_packed(o, packed, e.shown_fen, outcomes, uow.now()))
    if order is not None:
        await payments.settle(uow, order)  # the final price is known: refund the difference (or charge it)


async def on_order_handed_over(uow: OrdersUnitOfWork, e: OrderHandedOver) -> None:
    order = await uow.apply(e.order_id, lambda o: shop.handed_over(o, e.to.value, e.by, uow.now()))
    if order is not None:  # collected at the counter: the cash taken there (if any), and the sale booked
        await payments.collect_cash(uow, order, e.cash_collected_fen, e.by)


async def on_bag_returned(uow: OrdersUnitOfWork, e: BagReturned) -> None:
    lines = [ln.model_dump(mode="json") for ln in e.lines]
    order = await uow.apply(e.order_id, lambda o: shop.bag_returned(o, e.refund_fen, lines, e.by, uow.now()))
    if order is not None:
        await payments.settle(uow, order)  # nothing reached the shopper: everything paid comes back


async def answer_approval(
    uow: OrdersUnitOfWork, principal: Principal, order_id: str, line_no: int, accept: bool
) -> Order:
    """The orderer (or an admin) answers the shop's question; inventory settles it from ApprovalGiven."""
    if principal.role is Role.ADMIN:
        order = await get_order(uow, principal, order_id, for_update=True)
    else:
        order = await orderers_order(
            uow, principal, order_id, "only the shopper who ordered (or their helper) answers the shop's questions"
        )
    answered = approvals.answer(order, line_no, accept, principal.subject, uow.now())
    await uow.orders.save(order)
    await uow.publish(
        ApprovalGiven(
            order_id=order.id,
            store_id=order.store_id,
            line_no=line_no,
            kind=answered.kind,
            accepted=accept,
            by=principal.subject,
        )
    )
    return order
