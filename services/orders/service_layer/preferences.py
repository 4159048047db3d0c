"""Remembered substitution choices: a person says once what the shop may do if fish runs out.

Kept per (person ordered for, product), so a helper ordering for two residents keeps each
one's wishes apart, and a line that omits its choice gets the one given last time. Placing
stores the choices a request gives with the order (domain/placing.py's Placement).
"""

from __future__ import annotations

from services.orders.domain.lines import SubstitutionChoice
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork


async def remembered(uow: OrdersUnitOfWork, placed_for: str, product_ids: list[str]) -> dict[str, SubstitutionChoice]:
    """The last choice given for each of these products; products never chosen for are absent."""
    if not product_ids:
        return {}
    return await uow.substitutions.recall(placed_for, sorted(set(product_ids)))
