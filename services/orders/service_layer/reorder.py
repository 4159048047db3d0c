"""Ordering again: a past order as a checkout body at today's prices, with what changed since.

Products the shop no longer sells, or that the read model shows out of stock, are left out
and named in `changes` (placing them would only be refused); a remembered substitution
wins over the one on the past line, and a named substitute no longer sold falls back to
"none". The body goes to `POST /orders/quote` or `POST /orders` as it is, without `changes`.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.orders.domain.basket import CatalogProduct
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.ledger import Payment
from services.orders.domain.lines import OrderLine, SubstitutionChoice, SubstitutionMode
from services.orders.domain.order import Order
from services.orders.service_layer import preferences
from services.orders.service_layer.reading import get_order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden
from shared.vocabulary.roles import Role


@dataclass(frozen=True)
class ReorderLine:
    product_id: str
    quantity: int
    substitution: SubstitutionChoice


@dataclass(frozen=True)
class Change:
    """What differs from the past order, in words (`message`) and in figures for the kind."""

    kind: str  # gone, out_of_stock, price_changed, substitute_gone
    product_id: str
    name_zh: str
    name_en: str
    message: str
    was_fen: int | None = None  # price_changed: the price then and now, per its unit
    now_fen: int | None = None
    unit: str | None = None
    substitute_product_id: str | None = None  # substitute_gone: the one no longer sold


@dataclass(frozen=True)
class Reorder:
    store_id: str
    lines: list[ReorderLine]
    fulfilment: Fulfilment  # the mode, the door and the site: a slot's time has passed
    note: str | None
    payment: Payment
    on_behalf_of: str | None
    changes: list[Change]


def _change(
    line: OrderLine,
    kind: str,
    message: str,
    *,
    was_fen: int | None = None,
    now_fen: int | None = None,
    unit: str | None = None,
    substitute_product_id: str | None = None,
) -> Change:
    return Change(
        kind, line.product_id, line.name_zh, line.name_en, message, was_fen, now_fen, unit, substitute_product_id
    )


def reorder_body(
    order: Order,
    products: dict[str, CatalogProduct],
    availability: dict[str, str],
    memory: dict[str, SubstitutionChoice],
    *,
    on_behalf_of: str | None,
) -> Reorder:
    """The checkout body and its `changes`, from the past order and today's catalog (pure)."""
    lines: list[ReorderLine] = []
    changes: list[Change] = []
    for ln in order.lines:
        product = products.get(ln.product_id)
        if product is None or not product.active or product.store_id != order.store_id:
            changes.append(_change(ln, "gone", f"{ln.name_en} is no longer sold here; it is left out"))
            continue
        if availability.get(ln.product_id) == "out":
            changes.append(_change(ln, "out_of_stock", f"{ln.name_en} is out of stock at the shop now; it is left out"))
            continue
        if product.price_fen != ln.unit_price_fen:
            changes.append(
                _change(
                    ln,
                    "price_changed",
                    f"{ln.name_en} costs {product.price_fen} fen now (was {ln.unit_price_fen})",
                    was_fen=ln.unit_price_fen,
                    now_fen=product.price_fen,
                    unit=product.unit.value,
                )
            )
        choice = memory.get(ln.product_id, ln.substitution)
        if choice.mode is SubstitutionMode.PRODUCT:
            substitute = products.get(choice.product_id or "")
            if substitute is None or not substitute.active or substitute.store_id != order.store_id:
                changes.append(
                    _change(
                        ln,
                        "substitute_gone",
                        f"the substitute named for {ln.name_en} is no longer sold; no substitute is set",
                        substitute_product_id=choice.product_id,
                    )
                )
                choice = SubstitutionChoice()
        lines.append(ReorderLine(ln.product_id, ln.quantity, choice))
    return Reorder(
        store_id=order.store_id,
        lines=lines,
        fulfilment=order.fulfilment.kept_for_reorder(),
        note=order.note,
        payment=order.payment,
        on_behalf_of=on_behalf_of or None,
        changes=changes,
    )


async def reorder(uow: OrdersUnitOfWork, principal: Principal, order_id: str) -> Reorder:
    """For the orderer (or their helper, or an admin): the past order ready to place again."""
    order = await get_order(uow, principal, order_id)
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise Forbidden(f"a {principal.role.value} does not order; only the orderer can order this again")
    named = [ln.substitution.product_id for ln in order.lines if ln.substitution.product_id]
    memory = await preferences.remembered(uow, order.placed_for, [ln.product_id for ln in order.lines])
    named += [c.product_id for c in memory.values() if c.product_id]
    ids = sorted({ln.product_id for ln in order.lines} | set(named))
    products = await uow.catalog.products(ids)
    availability = await uow.catalog.availability(ids)
    acting_for = order.placed_for if principal.role is Role.HELPER and order.placed_for != principal.subject else None
    return reorder_body(order, products, availability, memory, on_behalf_of=acting_for)
