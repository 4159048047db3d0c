"""HTTP routes of settlement: statements, periods, payouts, riders' hand-ins, corrections, the trial balance.

Money moves (payouts, hand-ins, corrections) need an Idempotency-Key, so a retried request never
pays twice. Times are ISO 8601 with an offset; amounts are fen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.orders.adapters.settlement import Period
from services.orders.domain.settlement import JournalEntry
from services.orders.entrypoints.http import unit_of_work
from services.orders.service_layer import settlement
from services.orders.service_layer.settlement import RiderStatement, ShopStatement, Window
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal, require
from shared.requests import changed_once
from shared.vocabulary.roles import Role

router = APIRouter(tags=["settlement"])

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
LocationId = Annotated[str, Path(min_length=1, max_length=100, pattern=ID, description="a shop, market or stall")]
RiderId = Annotated[str, Path(min_length=1, max_length=100, pattern=ID)]
PartyId = RiderId  # a person who holds cash or is owed: a rider, a leader, whoever handed bags out
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]
PeriodQuery = Query(None, ge=1, description="one closed period (GET /settlement/periods); or since/until")
SinceQuery = Query(None, description="from this moment (the open period's start if not given)")
UntilQuery = Query(None, description="up to this moment, excluded (now if not given)")
WINDOW_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such location or period"},
    422: {"description": "a period and since/until together, or since after until"},
}


class ClosePeriod(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ends_at: AwareDatetime | None = Field(None, description="where the open period ends (now if not given)")


class Payout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = Field(ge=1, le=settlement.MAX_MOVE_FEN)
    note: str | None = Field(None, max_length=200, description="e.g. the bank transfer's reference")


class HandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount_fen: int = Field(ge=1, le=settlement.MAX_MOVE_FEN)
    desk: str | None = Field(None, min_length=1, max_length=100, description="the desk it was counted at (else banked)")
    note: str | None = Field(None, max_length=200)


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    location_id: str = Field(min_length=1, max_length=100, pattern=ID, description="the shop, market or stall")
    amount_fen: int = Field(description="positive: the platform owes the shop more; negative: less")
    reason: str = Field(min_length=1, max_length=300)
    order_id: str | None = Field(None, min_length=1, max_length=100, description="the order it corrects, if one")
    corrects_period: int | None = Field(None, ge=1, description="the closed period it corrects, if known")


class PeriodAnswer(BaseModel):
    id: int
    starts_at: datetime
    ends_at: datetime
    closed_at: datetime
    closed_by: str


class PeriodsAnswer(BaseModel):
    periods: list[PeriodAnswer]
    open_since: datetime | None = Field(description="where the open period starts; null: nothing closed yet")


class WindowAnswer(BaseModel):
    since: datetime | None
    until: datetime
    period: PeriodAnswer | None
    closed: bool = Field(description="all of it in closed periods: this statement never changes")


class LineAnswer(BaseModel):
    account: str
    party: str
    amount_fen: int = Field(description="a debit is positive")
    what: str


class EntryAnswer(BaseModel):
    entry_id: str
    event: str
    at: datetime
    store_id: str | None
    order_id: str | None
    rider: str | None
    desk: str | None
    corrects_period: int | None
    note: str
    by: str
    lines: list[LineAnswer]


class StatementLineAnswer(BaseModel):
    line_no: int
    location_id: str
    product_id: str
    name_zh: str
    name_en: str
    unit: str
    quantity: int
    final_quantity: int | None = Field(description="as weighed or counted; the substitute's, if substituted")
    unit_price_fen: int
    estimated_fen: int
    final_fen: int | None
    status: str
    substitute: dict[str, Any] | None


class OrderOnStatementAnswer(BaseModel):
    order_id: str
    status: str
    payment: str
    booked_at: datetime
    lines: list[StatementLineAnswer]
    goods_fen: int
    delivery_fee_fen: int
    platform_fee_fen: int
    cash_taken_fen: int
    refund_fen: int
    returned_fen: int
    owed_fen: int
    late: bool


class DealOnStatementAnswer(BaseModel):
    group_buy_id: str
    bags: int
    goods_fen: int
    commission_fen: int
    cash_taken_fen: int
    owed_fen: int


class MovementAnswer(BaseModel):
    entry_id: str
    event: str
    location_id: str
    amount_fen: int = Field(description="what it adds to what the platform owes the shop")
    note: str
    by: str
    at: datetime
    booked_at: datetime
    order_id: str | None
    corrects_period: int | None
    late: bool


class ShopStatementAnswer(BaseModel):
    location_id: str
    kind: str
    name_zh: str
    name_en: str
    accounts: list[str]
    window: WindowAnswer
    opening_owed_fen: int
    orders: list[OrderOnStatementAnswer]
    group_buys: list[DealOnStatementAnswer]
    payouts: list[MovementAnswer]
    corrections: list[MovementAnswer]
    totals: dict[str, int]
    closing_owed_fen: int = Field(description="positive: the platform owes the shop; negative: the shop owes it")
    platform_owes_shop_fen: int
    shop_owes_platform_fen: int
    conclusion: str


class CashMoveAnswer(BaseModel):
    entry_id: str
    event: str
    amount_fen: int
    order_id: str | None
    desk: str | None
    note: str
    by: str
    at: datetime
    booked_at: datetime
    late: bool


class RiderStatementAnswer(BaseModel):
    rider_id: str
    window: WindowAnswer
    opening_outstanding_fen: int
    collected: list[CashMoveAnswer]
    handed_in: list[CashMoveAnswer]
    collected_fen: int
    handed_in_fen: int
    outstanding_fen: int


class AccountAnswer(BaseModel):
    account: str
    party: str
    balance_fen: int


class TrialBalanceAnswer(BaseModel):
    until: datetime | None
    accounts: list[AccountAnswer]
    total_fen: int = Field(description="always 0: every fen went into one account and out of another")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def period_json(p: Period) -> dict[str, Any]:
    return {
        "id": p.id,
        "starts_at": p.starts_at.isoformat(),
        "ends_at": p.ends_at.isoformat(),
        "closed_at": p.closed_at.isoformat(),
        "closed_by": p.closed_by,
    }


def window_json(w: Window) -> dict[str, Any]:
    return {
        "since": _iso(w.since),
        "until": w.until.isoformat(),
        "period": period_json(w.period) if w.period else None,
        "closed": w.closed,
    }


def entry_json(e: JournalEntry) -> dict[str, Any]:
    return {
        "entry_id": str(e.id),
        "event": str(e.event),
        "at": e.at.isoformat(),
        "store_id": e.store_id,
        "order_id": e.order_id,
        "rider": e.rider,
        "desk": e.desk,
        "corrects_period": e.corrects_period,
        "note": e.note,
        "by": e.by,
        "lines": [
            {"account": ln.book.value, "party": ln.party, "amount_fen": ln.amount_fen, "what": ln.what}
            for ln in e.lines
        ],
    }


def _plain(value: Any) -> Any:
    """Dataclass fields as JSON: datetimes as ISO strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _answer(model: type[BaseModel], data: dict[str, Any], status: int = 200) -> JSONResponse:
    """The answer checked against its documented model, so /docs says exactly what is sent."""
    return JSONResponse(model.model_validate(data).model_dump(mode="json"), status_code=status)


def _entry(e: JournalEntry) -> dict[str, Any]:
    return EntryAnswer.model_validate(entry_json(e)).model_dump(mode="json")


def shop_statement_json(s: ShopStatement) -> dict[str, Any]:
    return {
        "location_id": s.location.location_id,
        "kind": s.location.kind,
        "name_zh": s.location.name_zh,
        "name_en": s.location.name_en,
        "accounts": s.accounts,
        "window": window_json(s.window),
        "opening_owed_fen": s.opening_owed_fen,
        "orders": [_plain(asdict(o)) for o in s.orders],
        "group_buys": [asdict(d) for d in s.group_buys],
        "payouts": [_plain(asdict(m)) for m in s.payouts],
        "corrections": [_plain(asdict(m)) for m in s.corrections],
        "totals": s.totals,
        "closing_owed_fen": s.closing_owed_fen,
        "platform_owes_shop_fen": max(s.closing_owed_fen, 0),
        "shop_owes_platform_fen": max(-s.closing_owed_fen, 0),
        "conclusion": s.conclusion,
    }


def rider_statement_json(s: RiderStatement) -> dict[str, Any]:
    return {
        "rider_id": s.rider_id,
        "window": window_json(s.window),
        "opening_outstanding_fen": s.opening_outstanding_fen,
        "collected": [_plain(asdict(m)) for m in s.collected],
        "handed_in": [_plain(asdict(m)) for m in s.handed_in],
        "collected_fen": s.collected_fen,
        "handed_in_fen": s.handed_in_fen,
        "outstanding_fen": s.outstanding_fen,
    }


async def _moved_once(
    request: Request,
    principal: Principal,
    idempotency_key: str | None,
    body: BaseModel,
    move: Callable[[OrdersUnitOfWork], Awaitable[JournalEntry]],
) -> JSONResponse:
    """A money move (payout, hand-in, correction) made once per Idempotency-Key, answered with its entry."""

    async def moved(uow: OrdersUnitOfWork) -> dict[str, Any]:
        return _entry(await move(uow))

    return await changed_once(
        request, principal, idempotency_key, body.model_dump(mode="json"), moved, status=201, key_required=True
    )


@router.get(
    "/settlement/periods", response_model=PeriodsAnswer, responses={403: {"description": "not an admin nor shop staff"}}
)
async def list_periods(request: Request, principal: Principal = Depends(require(Role.STORE_STAFF))) -> JSONResponse:
    """The closed periods, oldest first, and where the open period starts (null: nothing closed yet)."""
    async with unit_of_work(request, readonly=True) as uow:
        found, open_since = await settlement.periods(uow, principal)
    return _answer(PeriodsAnswer, {"periods": [period_json(p) for p in found], "open_since": _iso(open_since)})


@router.post(
    "/settlement/periods",
    status_code=201,
    response_model=PeriodAnswer,
    responses={
        403: {"description": "not an admin"},
        409: {"description": "that period is already closed, or the moment falls inside a closed one"},
        422: {"description": "ends_at in the future"},
    },
)
async def close_period(
    body: ClosePeriod, request: Request, principal: Principal = Depends(require(Role.ADMIN))
) -> JSONResponse:
    """Close the open period at ends_at (now if not given): its statements never change after."""
    async with unit_of_work(request) as uow:
        closed = await settlement.close_period(uow, principal, body.ends_at)
    return _answer(PeriodAnswer, period_json(closed), 201)


@router.get(
    "/settlement/shops/{location_id}/statement",
    response_model=ShopStatementAnswer,
    responses={403: {"description": "not an admin, nor staff of this shop (or its market)"}, **WINDOW_ERRORS},
)
async def shop_statement(
    location_id: LocationId,
    request: Request,
    principal: Principal = Depends(require(Role.STORE_STAFF)),
    period: int | None = PeriodQuery,
    since: AwareDatetime | None = SinceQuery,
    until: AwareDatetime | None = UntilQuery,
) -> JSONResponse:
    """A shop's, market's (with its stalls) or stall's statement for a period, ending with who owes whom."""
    async with unit_of_work(request, readonly=True) as uow:
        win = await settlement.window(uow, period_id=period, since=since, until=until)
        found = await settlement.shop_statement(uow, principal, location_id, win)
    return _answer(ShopStatementAnswer, shop_statement_json(found))


@router.get(
    "/settlement/riders/{rider_id}/statement",
    response_model=RiderStatementAnswer,
    responses={403: {"description": "not an admin, nor this rider"}, **WINDOW_ERRORS},
)
async def rider_statement(
    rider_id: RiderId,
    request: Request,
    principal: Principal = Depends(require(Role.RIDER)),
    period: int | None = PeriodQuery,
    since: AwareDatetime | None = SinceQuery,
    until: AwareDatetime | None = UntilQuery,
) -> JSONResponse:
    """A rider's cash: collected at doors, handed in, outstanding."""
    async with unit_of_work(request, readonly=True) as uow:
        win = await settlement.window(uow, period_id=period, since=since, until=until)
        found = await settlement.rider_statement(uow, principal, rider_id, win)
    return _answer(RiderStatementAnswer, rider_statement_json(found))


@router.get("/settlement/accounts", response_model=TrialBalanceAnswer, responses={403: {"description": "not an admin"}})
async def trial_balance(
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    until: AwareDatetime | None = Query(None, description="as booked before this moment (now if not given)"),
) -> JSONResponse:
    """Every account's balance (a debit positive): the chart of accounts as it stands; the total is always 0."""
    async with unit_of_work(request, readonly=True) as uow:
        found = await settlement.trial_balance(uow, principal, until)
    return _answer(
        TrialBalanceAnswer,
        {
            "until": _iso(found.until),
            "accounts": [{"account": b.value, "party": p, "balance_fen": fen} for b, p, fen in found.accounts],
            "total_fen": found.total_fen,
        },
    )


@router.post(
    "/settlement/shops/{location_id}/payouts",
    status_code=201,
    response_model=EntryAnswer,
    responses={
        403: {"description": "not an admin"},
        404: {"description": "no such location"},
        409: {"description": "more than the platform owes that account, or the Idempotency-Key reused"},
    },
)
async def pay_shop(
    location_id: LocationId,
    body: Payout,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The platform pays a shop or stall from the bank (an Idempotency-Key is required)."""
    return await _moved_once(
        request,
        principal,
        idempotency_key,
        body,
        lambda uow: settlement.pay_shop(uow, principal, location_id, body.amount_fen, body.note),
    )


@router.post(
    "/settlement/riders/{rider_id}/hand-ins",
    status_code=201,
    response_model=EntryAnswer,
    responses={
        403: {"description": "not an admin"},
        409: {"description": "more than the rider holds, or the Idempotency-Key reused"},
    },
)
async def hand_in(
    rider_id: RiderId,
    body: HandIn,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A rider hands in cash taken at doors, at a desk or banked (an Idempotency-Key is required)."""
    return await _moved_once(
        request,
        principal,
        idempotency_key,
        body,
        lambda uow: settlement.hand_in(uow, principal, rider_id, body.amount_fen, body.desk, body.note),
    )


@router.post(
    "/settlement/pickup-cash/{holder}/hand-ins",
    status_code=201,
    response_model=EntryAnswer,
    responses={
        403: {"description": "not an admin"},
        404: {"description": "no such desk"},
        409: {"description": "more than they hold, or the Idempotency-Key reused"},
    },
)
async def hand_in_pickup_cash(
    holder: PartyId,
    body: HandIn,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Whoever handed group-buy bags out hands in the cash taken for them (an Idempotency-Key is required)."""
    return await _moved_once(
        request,
        principal,
        idempotency_key,
        body,
        lambda uow: settlement.hand_in_pickup_cash(uow, principal, holder, body.amount_fen, body.desk, body.note),
    )


@router.post(
    "/settlement/leaders/{leader}/payouts",
    status_code=201,
    response_model=EntryAnswer,
    responses={
        403: {"description": "not an admin"},
        409: {"description": "more than the leader is owed, or the Idempotency-Key reused"},
    },
)
async def pay_leader(
    leader: PartyId,
    body: Payout,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The platform pays a group-buy leader's commission (an Idempotency-Key is required)."""
    return await _moved_once(
        request,
        principal,
        idempotency_key,
        body,
        lambda uow: settlement.pay_leader(uow, principal, leader, body.amount_fen, body.note),
    )


@router.post(
    "/settlement/corrections",
    status_code=201,
    response_model=EntryAnswer,
    responses={
        403: {"description": "not an admin"},
        404: {"description": "no such location, order of it, or period"},
        409: {"description": "the Idempotency-Key reused"},
        422: {"description": "a zero or too large amount, or no reason"},
    },
)
async def correct(
    body: Correction,
    request: Request,
    principal: Principal = Depends(require(Role.ADMIN)),
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Correct what a shop is owed; booked into the open period, marked late when it corrects a closed one."""
    return await _moved_once(
        request,
        principal,
        idempotency_key,
        body,
        lambda uow: settlement.correct(
            uow, principal, body.location_id, body.amount_fen, body.reason, body.order_id, body.corrects_period
        ),
    )
