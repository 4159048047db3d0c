"""HTTP routes of the service centre's cash desk: desks, top-ups and refunds with receipts, the day's report and close.

The desk page of the operator console (web/admin/desk.html) is their one caller in the
browser. Money-moving routes take an Idempotency-Key, so a cashier's double click or a retry
on a bad connection prints one receipt and moves the balance once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.orders.domain.cash_desk import MAX_AMOUNT_FEN, DayClose, DayReport, Desk, HandIn, Movement, Receipt
from services.orders.service_layer import cash_desk
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared import requests
from shared.auth import Principal, require
from shared.requests import changed_once
from shared.service import runtime_of
from shared.vocabulary.roles import Role

router = APIRouter(tags=["cash desk"])

DeskId = Annotated[
    str, Path(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="e.g. 'centre-1'")
]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
Staff = Annotated[Principal, Depends(require(Role.HELPER))]  # and admin; never a resident


def unit_of_work(request: Request, *, readonly: bool = False) -> OrdersUnitOfWork:
    uow = requests.unit_of_work(request, readonly=readonly)
    assert isinstance(uow, OrdersUnitOfWork)
    return uow


def timezone(request: Request) -> str:
    return runtime_of(request).settings.timezone


# --- requests ------------------------------------------------------------------------------


class PutDesk(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=100)
    float_fen: int = Field(0, ge=0, le=MAX_AMOUNT_FEN, description="the change the drawer starts each day with")


class Cash(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resident: str = Field(min_length=1, max_length=100, description="a shopper's subject or a resident's id")
    amount_fen: int = Field(ge=1, le=MAX_AMOUNT_FEN)
    note: str | None = Field(None, max_length=200)


class CloseDay(BaseModel):
    model_config = ConfigDict(extra="forbid")
    counted_fen: int = Field(ge=0, le=100 * MAX_AMOUNT_FEN, description="the cash counted in the drawer")
    note: str | None = Field(None, max_length=300)


# --- answers -------------------------------------------------------------------------------


class DeskAnswer(BaseModel):
    id: str
    name_zh: str
    name_en: str
    float_fen: int
    updated_by: str
    updated_at: datetime

    @classmethod
    def of(cls, d: Desk) -> DeskAnswer:
        return cls(**vars(d))


class ReceiptAnswer(BaseModel):
    code: str = Field(description="desk and number, as printed")
    desk_id: str
    number: int
    movement: str = Field(description="top_up (cash in) or refund (cash out)")
    resident: str
    amount_fen: int
    cash_fen: int = Field(description="the drawer's movement: + in, − out")
    balance_after_fen: int
    business_day: date
    entry_id: int = Field(description="the ledger entry that moved the balance")
    note: str
    operator: str
    at: datetime

    @classmethod
    def of(cls, r: Receipt) -> ReceiptAnswer:
        return cls(
            code=r.code,
            desk_id=r.desk_id,
            number=r.number,
            movement=r.movement.value,
            resident=r.holder,
            amount_fen=r.amount_fen,
            cash_fen=r.cash_fen,
            balance_after_fen=r.balance_after_fen,
            business_day=r.business_day,
            entry_id=r.entry_id,
            note=r.note,
            operator=r.operator,
            at=r.at,
        )


class DayCloseAnswer(BaseModel):
    business_day: date
    float_fen: int
    in_fen: int
    out_fen: int
    transactions: int
    expected_fen: int
    counted_fen: int
    difference_fen: int = Field(description="counted − expected: + over, − short")
    note: str
    closed_by: str
    closed_at: datetime

    @classmethod
    def of(cls, c: DayClose) -> DayCloseAnswer:
        return cls(
            business_day=c.business_day,
            float_fen=c.float_fen,
            in_fen=c.in_fen,
            out_fen=c.out_fen,
            transactions=c.transactions,
            expected_fen=c.expected_fen,
            counted_fen=c.counted_fen,
            difference_fen=c.difference_fen,
            note=c.note,
            closed_by=c.closed_by,
            closed_at=c.closed_at,
        )


class HandInAnswer(BaseModel):
    entry_id: str = Field(description="the settlement journal entry (POST /settlement/riders/{rider}/hand-ins)")
    rider: str
    amount_fen: int
    note: str
    operator: str
    at: datetime

    @classmethod
    def of(cls, h: HandIn) -> HandInAnswer:
        return cls(
            entry_id=h.entry_id, rider=h.rider, amount_fen=h.amount_fen, note=h.note, operator=h.operator, at=h.at
        )


class DayReportAnswer(BaseModel):
    desk: DeskAnswer
    business_day: date
    receipts: list[ReceiptAnswer]
    hand_ins: list[HandInAnswer] = Field(description="riders' cash from doors handed in at this desk")
    float_fen: int
    top_up_fen: int
    hand_in_fen: int
    in_fen: int = Field(description="top-ups + riders' hand-ins")
    out_fen: int
    expected_fen: int = Field(description="float + in − out: what the drawer should hold")
    closed: DayCloseAnswer | None

    @classmethod
    def of(cls, r: DayReport) -> DayReportAnswer:
        return cls(
            desk=DeskAnswer.of(r.desk),
            business_day=r.business_day,
            receipts=[ReceiptAnswer.of(x) for x in r.receipts],
            hand_ins=[HandInAnswer.of(h) for h in r.hand_ins],
            float_fen=r.float_fen,
            top_up_fen=r.top_up_fen,
            hand_in_fen=r.hand_in_fen,
            in_fen=r.in_fen,
            out_fen=r.out_fen,
            expected_fen=r.expected_fen,
            closed=DayCloseAnswer.of(r.closed) if r.closed else None,
        )


# --- routes --------------------------------------------------------------------------------


@router.get("/desks", responses={403: {"description": "not service-centre staff"}})
async def list_desks(request: Request, principal: Staff) -> list[DeskAnswer]:
    """The service centre's cash desks."""
    async with unit_of_work(request, readonly=True) as uow:
        return [DeskAnswer.of(d) for d in await cash_desk.desks(uow, principal)]


@router.put("/desks/{desk_id}", responses={403: {"description": "only an admin sets up desks"}})
async def put_desk(desk_id: DeskId, body: PutDesk, request: Request, principal: Staff) -> DeskAnswer:
    """Add a cash desk, or change its names and its daily float."""
    async with unit_of_work(request) as uow:
        desk = await cash_desk.put_desk(uow, principal, desk_id, body.name_zh, body.name_en, body.float_fen)
    return DeskAnswer.of(desk)


async def _move_cash(
    request: Request, principal: Principal, desk_id: str, movement: Movement, body: Cash, key: str | None
) -> JSONResponse:
    tz = timezone(request)

    async def move(uow: OrdersUnitOfWork) -> dict[str, object]:
        done = await cash_desk.transact(
            uow,
            principal,
            desk_id,
            movement,
            holder=body.resident,
            amount_fen=body.amount_fen,
            note=body.note,
            timezone=tz,
        )
        return ReceiptAnswer.of(done).model_dump(mode="json")

    fingerprint = body.model_dump(mode="json")
    return await changed_once(request, principal, key, fingerprint, move, status=201, key_required=True)


@router.post(
    "/desks/{desk_id}/top-ups",
    status_code=201,
    response_model=ReceiptAnswer,
    responses={
        403: {"description": "a resident, or a helper for someone they do not help"},
        404: {"description": "no such desk"},
        409: {"description": "Idempotency-Key reused"},
    },
)
async def top_up(
    desk_id: DeskId, body: Cash, request: Request, principal: Staff, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Cash in: the resident's balance goes up (a top_up ledger entry) and a numbered receipt is answered."""
    return await _move_cash(request, principal, desk_id, Movement.TOP_UP, body, idempotency_key)


@router.post(
    "/desks/{desk_id}/refunds",
    status_code=201,
    response_model=ReceiptAnswer,
    responses={
        403: {"description": "a resident, or a helper for someone they do not help"},
        404: {"description": "no such desk"},
        409: {"description": "more than the balance holds (the answer says the balance), or Idempotency-Key reused"},
    },
)
async def refund(
    desk_id: DeskId, body: Cash, request: Request, principal: Staff, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    """Cash out: the balance goes down (a negative refund ledger entry), never below zero; a receipt is answered."""
    return await _move_cash(request, principal, desk_id, Movement.REFUND, body, idempotency_key)


@router.get("/desks/{desk_id}/receipts/{number}", responses={404: {"description": "no such receipt you may see"}})
async def get_receipt(
    desk_id: DeskId, number: Annotated[int, Path(ge=1)], request: Request, principal: Staff
) -> ReceiptAnswer:
    """A receipt again, to reprint it."""
    async with unit_of_work(request, readonly=True) as uow:
        return ReceiptAnswer.of(await cash_desk.receipt(uow, principal, desk_id, number))


@router.get("/desks/{desk_id}/day", responses={403: {"description": "only an admin"}, 404: {}})
async def open_day(desk_id: DeskId, request: Request, principal: Staff) -> DayReportAnswer:
    """The desk's open day: where a transaction made now goes (today, or the next day once today is closed)."""
    async with unit_of_work(request, readonly=True) as uow:
        return DayReportAnswer.of(await cash_desk.report(uow, principal, desk_id, None, timezone(request)))


@router.get("/desks/{desk_id}/days/{day}", responses={403: {"description": "only an admin"}, 404: {}})
async def day_report(desk_id: DeskId, day: date, request: Request, principal: Staff) -> DayReportAnswer:
    """A desk's day: every transaction, cash in and out, the expected cash, and its close if closed."""
    async with unit_of_work(request, readonly=True) as uow:
        return DayReportAnswer.of(await cash_desk.report(uow, principal, desk_id, day, timezone(request)))


@router.post(
    "/desks/{desk_id}/days/{day}/close",
    status_code=201,
    response_model=DayReportAnswer,
    responses={
        403: {"description": "only an admin"},
        409: {"description": "the day is already closed (the reason says when, by whom, with what count)"},
        422: {"description": "the day has not begun"},
    },
)
async def close_day(
    desk_id: DeskId,
    day: date,
    body: CloseDay,
    request: Request,
    principal: Staff,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Close the desk's day with the cash counted; the difference from the expected cash is kept.

    A closed day takes no more transactions: later ones go to the next day.
    """
    tz = timezone(request)

    async def close(uow: OrdersUnitOfWork) -> dict[str, object]:
        closed = await cash_desk.close_day(
            uow, principal, desk_id, day, counted_fen=body.counted_fen, note=body.note, timezone=tz
        )
        return DayReportAnswer.of(closed.report).model_dump(mode="json")

    return await changed_once(request, principal, idempotency_key, body.model_dump(mode="json"), close, status=201)
