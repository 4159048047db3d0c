"""Reading an order as the asker may see it: someone else's order is "not found"."""

from __future__ import annotations

from services.orders.domain.order import Order
from services.orders.domain.visibility import Viewer, is_orderer, visibility
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared import staff_registry
from shared.errors import Forbidden, NotFound
from shared.vocabulary.roles import Role


async def get_order(uow: OrdersUnitOfWork, viewer: Viewer, order_id: str, *, for_update: bool = False) -> Order:
    order = await uow.orders.get(order_id, for_update=for_update)
    # Someone else's order is "not found": its existence is not theirs to learn either.
    if order is None or not visibility(order, viewer).order_itself:
        raise NotFound(f"no order {order_id} that you can see")
    await check_registered(uow, viewer)
    return order


async def check_registered(uow: OrdersUnitOfWork, viewer: Viewer) -> None:
    """A store_staff token is let in only if inventory's staff registry (as orders has heard it) admits it."""
    if viewer.role is not Role.STORE_STAFF or viewer.store is None:
        return
    if not staff_registry.admits(await uow.catalog.staff_registered(viewer.store), viewer.subject):
        raise Forbidden(staff_registry.refusal_reason(viewer.subject, viewer.store))


async def orderers_order(uow: OrdersUnitOfWork, viewer: Viewer, order_id: str, refusal: str) -> Order:
    """The order, locked, for a change only its orderer (the shopper, or the helper who ordered) may make."""
    order = await get_order(uow, viewer, order_id, for_update=True)
    if not is_orderer(viewer, order):
        raise Forbidden(refusal)
    return order
