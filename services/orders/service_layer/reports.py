"""Reports to look at (GET /reports/{name}): an operator sees the whole circle or one shop; a shop's staff
their own shop, market or stall, and not the delivery side they do not see on a single order either.

A report reads only what the orders service already keeps (`adapters/reports.py`) in a read-only unit
of work; the counting is `domain/reports.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.orders.domain import reports as r
from services.orders.service_layer.reading import check_registered
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden
from shared.vocabulary.roles import Role


class ReportName(StrEnum):
    VOLUME = "volume"  # orders per hour and per day, by shop and by fulfilment mode
    ON_TIME = "on-time"  # deliveries against the promise
    TIMINGS = "timings"  # placing to the shop's acceptance, and to the door
    FILL_RATE = "fill-rate"  # lines picked as ordered, substituted, out of stock
    RATINGS = "ratings"
    CARE = "care"  # orders helpers placed for residents; deliveries flagged "call before delivery"
    PRODUCTS = "products"  # the busiest products


# The rider's side (the promise, the door, the rider's stars): operators only, as on a single order.
OPERATORS_ONLY = frozenset({ReportName.ON_TIME})


@dataclass(frozen=True)
class Report:
    name: ReportName
    period: r.Period
    scope: str | None  # one shop, market or stall; None: the whole circle
    body: dict[str, Any]
    table: r.Table

    def as_dict(self) -> dict[str, Any]:
        return {"report": self.name.value, "period": self.period.as_dict(), "store_id": self.scope, **self.body}


async def scope_of(uow: OrdersUnitOfWork, principal: Principal, name: ReportName, store: str | None) -> str | None:
    """Whose orders the asker may count: an admin any shop's or all; store staff their own location's only."""
    if principal.role is Role.ADMIN:
        return store
    if principal.role is not Role.STORE_STAFF or principal.store is None:
        raise Forbidden("reports are for operators (admin) and a shop's own staff")
    if store is not None and store != principal.store:
        raise Forbidden(f"you act for {principal.store}, not {store}: a shop's staff see their own shop's reports")
    if name in OPERATORS_ONLY:
        raise Forbidden(f"the {name.value} report is about riders and promises: it is for operators (admin)")
    await check_registered(uow, principal)
    return principal.store


async def report(
    uow: OrdersUnitOfWork, principal: Principal, name: ReportName, period: r.Period, store: str | None, limit: int = 10
) -> Report:
    scope = await scope_of(uow, principal, name, store)
    operator = principal.role is Role.ADMIN
    start, end = period.bounds()
    result: r.Volume | r.OnTime | r.Timings | r.FillRate | r.Ratings | r.Care | r.Products
    if name is ReportName.VOLUME:
        result = r.volume(period, await uow.reports.orders(start, end, scope))
    elif name is ReportName.ON_TIME:
        result = r.on_time(period, await uow.reports.orders(start, end, scope))
    elif name is ReportName.TIMINGS:
        result = r.timings(await uow.reports.orders(start, end, scope), door=operator)
    elif name is ReportName.FILL_RATE:
        result = r.fill_rate(await uow.reports.lines(start, end, scope))
    elif name is ReportName.RATINGS:
        result = r.ratings(await uow.reports.ratings(start, end, scope), rider=operator)
    elif name is ReportName.CARE:
        result = r.care(period, await uow.reports.orders(start, end, scope))
    else:
        result = r.busiest_products(await uow.reports.lines(start, end, scope), limit)
    return Report(name, period, scope, result.as_dict(), result.table)
