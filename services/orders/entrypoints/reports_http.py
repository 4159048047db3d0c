"""HTTP routes of the reports: each report as JSON for the console's charts, or as CSV (`?format=csv`)."""

from __future__ import annotations

import csv
import io
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from services.orders.domain.reports import MAX_DAYS, Period, Table, local_date
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer import reports
from services.orders.service_layer.reports import ReportName
from shared.auth import Principal, require
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["reports"])


class PeriodAnswer(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str = Field(alias="from", description="the first local day, YYYY-MM-DD")
    to: str = Field(description="the last local day, included")
    timezone: str


class ReportAnswer(BaseModel):
    """Every report names itself, its period and its shop; its figures follow (docs/operations.md,
    "Reports to look at"): each report has its own, and the CSV export is its table."""

    model_config = ConfigDict(extra="allow")
    report: ReportName
    period: PeriodAnswer
    store_id: str | None = Field(description="the one shop, market or stall counted; null: the whole circle")


LOCATION = Query(
    None,
    min_length=1,
    max_length=100,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
    description="one shop, market or stall (an admin's choice; a shop's staff always see their own)",
)


@router.get(
    "/reports/{name}",
    responses={
        200: {
            "model": ReportAnswer,
            "description": "the report as JSON, or with format=csv as a CSV file (UTF-8 with a byte-order mark)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        403: {"description": "not an admin, nor staff of that shop; or a report about riders asked by a shop"},
        422: {"description": "a bad period (not YYYY-MM-DD, from after to, longer than the limit), or another value"},
    },
)
async def get_report(
    *,
    name: ReportName,
    request: Request,
    principal: Principal = Depends(require(Role.STORE_STAFF)),
    from_: str | None = Query(
        None, alias="from", max_length=10, description="the period's first local day, YYYY-MM-DD (a week ago)"
    ),
    to: str | None = Query(
        None, max_length=10, description=f"its last local day, included (today); {MAX_DAYS} days at most"
    ),
    store: str | None = LOCATION,
    limit: int = Query(10, ge=1, le=100, description="products: how many of the busiest"),
    format: Literal["json", "csv"] = Query("json", description="csv: the report's table as a file"),
) -> Response:
    """A report over the orders placed in a period of the neighbourhood's local days (docs/operations.md)."""
    timezone = runtime_of(request).settings.timezone
    async with unit_of_work(request, readonly=True) as uow:
        period = Period.parse(from_, to, timezone, today=local_date(uow.now(), timezone))
        found = await reports.report(uow, principal, name, period, store, limit)
    if format == "json":
        return JSONResponse(found.as_dict())
    filename = f"linli-{name.value}-{period.start}-{period.end}{f'-{found.scope}' if found.scope else ''}.csv"
    return Response(
        as_csv(found.table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def as_csv(table: Table) -> bytes:
    """UTF-8 with a byte-order mark, so a spreadsheet opens the Chinese names as they are; empty for no value."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
