"""Ordering again: a past order as a checkout body at today's prices, with what changed since.

Products the shop no longer sells, or that the read model shows out of stock, are left out
and named in `changes` (placing them would only be refused); a remembered substitution
wins over the one on the past line, and a named substitute no longer sold falls back to
"none". The body goes to `POST /orders/quote` or `POST /orders` as it is, without `changes`.
"""

from __future__ import annotations

from typing import Any

from services.orders.adapters.following import catalog_availability
from services.orders.domain.basket import CatalogProduct
from services.orders.domain.lines import SubstitutionChoice, SubstitutionMode
from services.orders.domain.order import Order
from services.orders.service_layer import ordering, preferences
from services.orders.service_layer.unit_of_work import UnitOfWork
from shared.auth import Principal
from shared.vocabulary.roles import Role

FULFILMENT_KEEPS = ("mode", "address", "site_id")  # not the slot: its time has passed


def reorder_body(
    order: Order,
    products: dict[str, CatalogProduct],
    availability: dict[str, str],
    memory: dict[str, SubstitutionChoice],
    *,
    on_behalf_of: str | None,
) -> dict[str, Any]:
    """The checkout body and its `changes`, from the past order and today's catalog (pure)."""
    lines: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for ln in order.lines:
        what = {"product_id": ln.product_id, "name_zh": ln.name_zh, "name_en": ln.name_en}
        product = products.get(ln.product_id)
        if product is None or not product.active or product.store_id != order.store_id:
            changes.append({"kind": "gone", **what, "message": f"{ln.name_en} is no longer sold here; it is left out"})
            continue
        if availability.get(ln.product_id) == "out":
            changes.append(
                {
                    "kind": "out_of_stock",
                    **what,
                    "message": f"{ln.name_en} is out of stock at the shop now; it is left out",
                }
            )
            continue
        if product.price_fen != ln.unit_price_fen:
            changes.append(
                {
                    "kind": "price_changed",
                    **what,
                    "was_fen": ln.unit_price_fen,
                    "now_fen": product.price_fen,
                    "unit": product.unit.value,
                    "message": f"{ln.name_en} costs {product.price_fen} fen now (was {ln.unit_price_fen})",
                }
            )
        choice = memory.get(ln.product_id, ln.substitution)
        if choice.mode is SubstitutionMode.PRODUCT:
            substitute = products.get(choice.product_id or "")
            if substitute is None or not substitute.active or substitute.store_id != order.store_id:
                changes.append(
                    {
                        "kind": "substitute_gone",
                        **what,
                        "substitute_product_id": choice.product_id,
                        "message": f"the substitute named for {ln.name_en} is no longer sold; no substitute is set",
                    }
                )
                choice = SubstitutionChoice()
        lines.append({"product_id": ln.product_id, "quantity": ln.quantity, "substitution": choice.as_dict()})
    body: dict[str, Any] = {
        "store_id": order.store_id,
        "lines": lines,
        "fulfilment": {k: v for k, v in order.fulfilment.items() if k in FULFILMENT_KEEPS and v is not None},
        "note": order.note,
        "payment": order.payment,
    }
    if on_behalf_of:
        body["on_behalf_of"] = on_behalf_of
    return {**body, "changes": changes}


async def reorder(uow: UnitOfWork, principal: Principal, order_id: str) -> dict[str, Any]:
    """For the orderer (or their helper, or an admin): the past order ready to place again."""
    order = await ordering.get_order(uow, principal, order_id)
    if principal.role not in (Role.SHOPPER, Role.HELPER, Role.ADMIN):
        raise ordering.Forbidden(f"a {principal.role.value} does not order; only the orderer can order this again")
    named = [ln.substitution.product_id for ln in order.lines if ln.substitution.product_id]
    memory = await preferences.remembered(uow, order.placed_for, [ln.product_id for ln in order.lines])
    named += [c.product_id for c in memory.values() if c.product_id]
    ids = sorted({ln.product_id for ln in order.lines} | set(named))
    products = await uow.catalog.products(ids)
    availability = await catalog_availability(uow.conn, ids)
    acting_for = order.placed_for if principal.role is Role.HELPER and order.placed_for != principal.subject else None
    return reorder_body(order, products, availability, memory, on_behalf_of=acting_for)
