"""A shop's price list in bulk: the file (CSV or .xlsx) is the request body.

`POST /locations/{id}/price-list/preview` writes nothing and answers each row's change and
every invalid row with its reason; `POST /locations/{id}/price-list` applies the file whole, or
answers 422 listing the invalid rows with nothing written. Admins anywhere; staff of the shop
or stall, and staff of a market for the market's list (its stalls' products).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from services.inventory.adapters.price_list_files import read_table
from services.inventory.domain.price_list import Plan
from services.inventory.entrypoints.access import location_for
from services.inventory.entrypoints.changes import unit_of_work
from services.inventory.service_layer import price_lists
from shared.auth import Principal, require
from shared.errors import Invalid
from shared.vocabulary.roles import Role

router = APIRouter(tags=["price lists"])
Staff = Depends(require(Role.STORE_STAFF))
MAX_BYTES = 5 * 1024 * 1024
FILE_BODY = {
    "requestBody": {
        "required": True,
        "description": "the price list: CSV (UTF-8) or an .xlsx workbook (its first sheet)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}


class RowAnswer(BaseModel):
    line: int = Field(description="the line in the file; the header is line 1")
    product_id: str
    stall: str = Field(description="the shop or stall selling it")
    changes: list[str] = Field(description="new, price, stock, details; empty when the row changes nothing")
    price_fen: int
    price_fen_before: int | None
    counted: int
    on_hand_before: int | None
    reserved: int


class RefusedAnswer(BaseModel):
    line: int
    product_id: str | None
    reason: str


class PriceListAnswer(BaseModel):
    location_id: str
    applied: bool = Field(description="false for a preview")
    rows: list[RowAnswer]
    refused: list[RefusedAnswer] = Field(description="rows that cannot be applied; any one means nothing is written")
    new: int
    changed: int
    unchanged: int


def _answer(plan: Plan, *, applied: bool) -> PriceListAnswer:
    rows = [
        RowAnswer(
            line=p.row.line,
            product_id=p.product.id,
            stall=p.product.location_id,
            changes=[c.value for c in p.changes],
            price_fen=p.product.price_fen,
            price_fen_before=p.before.product.price_fen if p.before else None,
            counted=p.row.counted,
            on_hand_before=p.before.on_hand if p.before else None,
            reserved=p.before.reserved if p.before else 0,
        )
        for p in plan.planned
    ]
    new = sum(1 for p in plan.planned if p.before is None)
    unchanged = sum(1 for p in plan.planned if p.unchanged)
    return PriceListAnswer(
        location_id=plan.location_id,
        applied=applied,
        rows=rows,
        refused=[RefusedAnswer(line=r.line, product_id=r.product_id, reason=r.reason) for r in plan.refused],
        new=new,
        changed=len(plan.planned) - new - unchanged,
        unchanged=unchanged,
    )


async def _table(request: Request) -> list[list[str]]:
    content = await request.body()
    if len(content) > MAX_BYTES:
        raise Invalid(f"a price list file is at most {MAX_BYTES // (1024 * 1024)} MB")
    return read_table(content)


@router.post("/locations/{location_id}/price-list/preview", openapi_extra=FILE_BODY)
async def preview_price_list(location_id: str, request: Request, principal: Principal = Staff) -> PriceListAnswer:
    """Each row's change (new, price, stock, details, or none) and every invalid row with why; writes nothing."""
    await location_for(request, principal, location_id)
    table = await _table(request)
    async with unit_of_work(request, readonly=True) as uow:
        plan = await price_lists.preview(uow, location_id, table)
    return _answer(plan, applied=False)


@router.post("/locations/{location_id}/price-list", openapi_extra=FILE_BODY)
async def apply_price_list(location_id: str, request: Request, principal: Principal = Staff) -> PriceListAnswer:
    """Apply the list in one transaction; any invalid row refuses it all (422, each row's reason).
    The same file applied again changes nothing (and goes on the record of changes only when it changed something)."""
    await location_for(request, principal, location_id)
    table = await _table(request)
    async with unit_of_work(request) as uow:
        plan = await price_lists.apply(uow, location_id, table, principal.key)
        answer = _answer(plan, applied=True)
        if answer.new or answer.changed:  # the same file again changes nothing, so records nothing
            await uow.audit.record(principal, "price_list", location_id, "applied", after=_record(answer))
    return answer


def _record(answer: PriceListAnswer) -> dict[str, object]:
    """What a price list changed, row by row (only the rows that changed something)."""
    changed = [
        {"product_id": r.product_id, "changes": r.changes, "price_fen": r.price_fen, "counted": r.counted}
        | ({"price_fen_before": r.price_fen_before} if r.price_fen_before is not None else {})
        for r in answer.rows
        if r.changes
    ]
    return {"new": answer.new, "changed": answer.changed, "unchanged": answer.unchanged, "rows": changed[:500]}
