"""Use cases of the service centre's cash desk: top-ups and refunds with a receipt, the day's report, its close.

A top-up or refund is one transaction: the desk is locked (its receipt number and its day),
the resident's balance is locked and checked, one ledger entry moves the balance, and the
receipt points at that entry. The balance and the ledger stay the single truth; the desk adds
what the cashier and the resident need to hold in their hands.

Who: an admin at any desk for anyone; a helper (service-centre staff, in the house's roles) at
a desk only for the residents they help, as POST /balance/top-ups allows. Reports, closes and
the desks themselves are the admin's. Residents never reach the desk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.orders.domain import cash_desk, ledger
from services.orders.domain.cash_desk import DayClose, DayReport, Desk, HandIn, Movement, Receipt
from services.orders.service_layer import residents
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.audit import only, summary
from shared.auth import Principal
from shared.errors import Forbidden, NotFound
from shared.vocabulary.money import format_yuan
from shared.vocabulary.roles import Role


@dataclass(frozen=True)
class Closed:
    """A close as it was made, with the day's report it counted against."""

    close: DayClose
    report: DayReport


def _admin_only(principal: Principal, what: str) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden(f"{what} is an admin's work at the service centre")


def _at_desk(principal: Principal) -> None:
    if principal.role not in (Role.ADMIN, Role.HELPER):
        raise Forbidden("the cash desk is for the service centre's staff: an admin, or a helper for their residents")


def today(uow: OrdersUnitOfWork, timezone: str) -> date:
    """The desk's local date now."""
    return uow.now().astimezone(ZoneInfo(timezone)).date()


async def _desk(uow: OrdersUnitOfWork, desk_id: str, *, for_update: bool = False) -> Desk:
    desk = await uow.cash_desks.get(desk_id, for_update=for_update)
    if desk is None:
        raise NotFound(f"no cash desk {desk_id}; an admin adds it with PUT /desks/{desk_id}")
    return desk


async def put_desk(
    uow: OrdersUnitOfWork, principal: Principal, desk_id: str, name_zh: str, name_en: str, float_fen: int
) -> Desk:
    """Add a desk, or rename it and change its float (from the next open day on)."""
    _admin_only(principal, "setting up a cash desk")
    before = await uow.cash_desks.get(desk_id)
    desk = await uow.cash_desks.put(Desk(desk_id, name_zh, name_en, float_fen, principal.subject, uow.now()))
    wanted = ("name_zh", "name_en", "float_fen")
    await uow.audit.record(
        principal,
        "cash_desk",
        desk_id,
        "changed" if before else "added",
        only(summary(before), *wanted),
        only(summary(desk), *wanted),
    )
    return desk


async def desks(uow: OrdersUnitOfWork, principal: Principal) -> list[Desk]:
    _at_desk(principal)
    return await uow.cash_desks.listed()


async def transact(
    uow: OrdersUnitOfWork,
    principal: Principal,
    desk_id: str,
    movement: Movement,
    *,
    holder: str,
    amount_fen: int,
    note: str | None,
    timezone: str,
) -> Receipt:
    """Cash in (a top-up) or out (a refund) at the desk: the balance moves on the ledger, and a receipt is numbered."""
    _at_desk(principal)
    if principal.role is Role.HELPER and (
        holder == principal.subject or not await residents.may_act_for(uow, principal, holder)
    ):
        raise Forbidden(
            f"a helper uses the desk for residents they help, and {holder} is not one; GET /residents lists yours"
        )
    cash_desk.check_amount(movement, amount_fen)
    desk = await _desk(uow, desk_id, for_update=True)
    now = today(uow, timezone)
    day = cash_desk.business_day(now, await uow.cash_desks.closed_days(desk.id, now))
    balance = await uow.ledger.balance(holder, for_update=True)
    if movement is Movement.REFUND:
        cash_desk.check_refund(holder, balance, amount_fen)
    said = f" ({note})" if note else ""
    if movement is Movement.TOP_UP:
        posting = ledger.Posting(
            ledger.Kind.TOP_UP,
            amount_fen,
            note=f"top-up {format_yuan(amount_fen)} in cash at desk {desk.id}{said}",
            desk=desk.id,
        )
    else:
        posting = ledger.Posting(
            ledger.Kind.REFUND,
            -amount_fen,
            note=f"refund {format_yuan(amount_fen)} in cash at desk {desk.id}{said}",
            desk=desk.id,
        )
    after = await uow.ledger.post(holder, None, [posting], principal.subject, uow.now())
    assert after is not None  # a balance posting always answers the balance
    entry_id = await uow.cash_desks.last_balance_entry(holder)
    unnumbered = Receipt(
        desk.id, 0, movement, holder, amount_fen, after, day, entry_id, note or "", principal.subject, uow.now()
    )
    return await uow.cash_desks.add_receipt(unnumbered)


async def receipt(uow: OrdersUnitOfWork, principal: Principal, desk_id: str, number: int) -> Receipt:
    """A receipt again, to reprint: an admin's any, a helper's the ones they issued."""
    _at_desk(principal)
    found = await uow.cash_desks.receipt(desk_id, number)
    if found is None or (principal.role is Role.HELPER and found.operator != principal.subject):
        raise NotFound(f"no receipt {cash_desk.receipt_code(desk_id, number)} that you may see")
    return found


async def report(
    uow: OrdersUnitOfWork, principal: Principal, desk_id: str, day: date | None, timezone: str
) -> DayReport:
    """Every transaction of the desk's day, its totals and the expected cash; without `day`, the open one."""
    _admin_only(principal, "reading a desk's day")
    desk = await _desk(uow, desk_id)
    return await _report(uow, desk, day, timezone)


async def _report(uow: OrdersUnitOfWork, desk: Desk, day: date | None, timezone: str) -> DayReport:
    if day is None:
        now = today(uow, timezone)
        day = cash_desk.business_day(now, await uow.cash_desks.closed_days(desk.id, now))
    return DayReport(
        desk,
        day,
        await uow.cash_desks.receipts_of_day(desk.id, day),
        await uow.cash_desks.day_close(desk.id, day),
        await _hand_ins_of_day(uow, desk, day, timezone),
    )


async def _hand_ins_of_day(uow: OrdersUnitOfWork, desk: Desk, day: date, timezone: str) -> list[HandIn]:
    """Riders' cash handed in at the desk that counts in `day`: made on that local day, or on an earlier
    one that was already closed then (so back to the last day before `day` that is still open)."""
    closed_at = await uow.cash_desks.close_times(desk.id)
    first = day
    while first - timedelta(days=1) in closed_at:
        first -= timedelta(days=1)
    zone = ZoneInfo(timezone)

    def midnight(d: date) -> datetime:
        return datetime.combine(d, time(), zone)

    found = await uow.cash_desks.hand_ins(desk.id, midnight(first), midnight(day + timedelta(days=1)))
    chosen = [
        replace(h, business_day=cash_desk.hand_in_day(h.at.astimezone(zone).date(), h.at, closed_at)) for h in found
    ]
    return [h for h in chosen if h.business_day == day]


async def close_day(
    uow: OrdersUnitOfWork,
    principal: Principal,
    desk_id: str,
    day: date,
    *,
    counted_fen: int,
    note: str | None,
    timezone: str,
) -> Closed:
    """Close the desk's day with the counted cash; the difference from what was expected is kept."""
    _admin_only(principal, "closing a desk's day")
    desk = await _desk(uow, desk_id, for_update=True)
    day_report = await _report(uow, desk, day, timezone)
    done = cash_desk.close(day_report, counted_fen, today(uow, timezone), principal.subject, uow.now(), note or "")
    await uow.cash_desks.add_close(done)
    return Closed(done, DayReport(desk, day, day_report.receipts, done))
