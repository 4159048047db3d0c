"""Use cases for money: paying when placing, settling when the order's outcome is known, top-ups, views.

`settle` is called by every handler that can change what an order costs (packed, rejected,
cancelled, abandoned, bag returned), in the same transaction as the change, so an order's
money and its state never disagree. It posts only the difference to the order's final price,
so calling it again, or for a fact that changed nothing, posts nothing.

Every posting is booked in the settlement journal in the same transaction (domain/settlement.py),
and an order handed over books its sale: what was held for it goes to its shop and stalls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.orders.domain import ledger, settlement
from services.orders.domain.order import Order
from services.orders.service_layer import residents
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.errors import Forbidden, Invalid
from shared.vocabulary.money import format_yuan
from shared.vocabulary.roles import Role

SYSTEM_ACTOR = "linli"
MAX_TOP_UP_FEN = 1_000_000  # ¥10,000 at once: more is a typo at the cash desk


@dataclass(frozen=True)
class Balance:
    """A holder's balance and their latest entries, newest first."""

    holder: str
    balance_fen: int
    entries: list[ledger.Entry]


@dataclass(frozen=True)
class TopUp:
    holder: str
    balance_fen: int | None
    amount_fen: int
    entries: list[ledger.Entry]


@dataclass(frozen=True)
class OrderLedger:
    """An order's money and every entry it made, oldest first."""

    order_id: str
    money: ledger.Summary
    entries: list[ledger.Entry]


async def settle(uow: OrdersUnitOfWork, order: Order, by: str = SYSTEM_ACTOR) -> None:
    """Bring the order's charge to its final price, if that is known by now."""
    await _post(uow, order, ledger.settle(order.payment, order.postings, order.final_charge_fen), by)


async def settle_many(uow: OrdersUnitOfWork, orders: Sequence[Order], by: str = SYSTEM_ACTOR) -> None:
    """`settle` for a run of orders, their entries written in one statement."""
    batches = []
    for order in orders:
        postings = ledger.settle(order.payment, order.postings, order.final_charge_fen)
        if postings:
            batches.append(ledger.Postings(order.placed_for, order.id, postings, by, uow.now()))
            order.postings.extend(postings)
            uow.journal.add(
                settlement.for_postings(postings, holder=order.placed_for, by=by, at=uow.now(), order=order)
            )
    await uow.ledger.post_many(batches)


async def collect_cash(uow: OrdersUnitOfWork, order: Order, cash_fen: int | None, by: str) -> None:
    """Handed over (at the door, or the counter): record the cash taken for a pay-on-delivery order
    on its ledger, and book the order's sale to its shop (once, however often this is called)."""
    if order.status in ledger.DELIVERED:
        await _post(uow, order, ledger.collect_cash(order.payment, order.postings, cash_fen), by)
        book_sale(uow, order, by)


def book_sale(uow: OrdersUnitOfWork, order: Order, by: str = SYSTEM_ACTOR) -> None:
    """The order reached the resident: its final price moves from held to its shop, stalls and fees."""
    uow.journal.add([settlement.settled(order, by, uow.now())])


async def _post(uow: OrdersUnitOfWork, order: Order, postings: list[ledger.Posting], by: str) -> None:
    if not postings:
        return
    await uow.ledger.post(order.placed_for, order.id, postings, by, uow.now())
    order.postings.extend(postings)
    uow.journal.add(settlement.for_postings(postings, holder=order.placed_for, by=by, at=uow.now(), order=order))


async def _may_see(uow: OrdersUnitOfWork, principal: Principal, holder: str) -> bool:
    if principal.role is Role.ADMIN or holder == principal.subject:
        return principal.role in (Role.ADMIN, Role.SHOPPER, Role.HELPER)
    return principal.role is Role.HELPER and await residents.may_act_for(uow, principal, holder)


async def balance_of(uow: OrdersUnitOfWork, principal: Principal, resident: str | None, limit: int = 100) -> Balance:
    """A shopper's own balance; a helper's for someone they help (`resident`); an admin's for anyone."""
    holder = resident or principal.subject
    if principal.role is Role.HELPER and resident is None:
        raise Forbidden("a helper reads a resident's balance: add ?resident=<their id>")
    if not await _may_see(uow, principal, holder):
        raise Forbidden(f"you may not see the balance of {holder}; a shopper sees their own, a helper those they help")
    return Balance(holder, await uow.ledger.balance(holder), await uow.ledger.entries(holder=holder, limit=limit))


async def top_up(uow: OrdersUnitOfWork, principal: Principal, holder: str, amount_fen: int, note: str | None) -> TopUp:
    """Money in: an admin at the service centre's cash desk, or a helper for someone they help."""
    if principal.role is Role.HELPER:
        if holder == principal.subject or not await residents.may_act_for(uow, principal, holder):
            raise Forbidden(
                f"a helper tops up the balance of a resident they help, and {holder} is not one; "
                "GET /residents lists yours"
            )
    elif principal.role is not Role.ADMIN:
        raise Forbidden("money comes in at the service centre's cash desk (an admin) or through your helper")
    if not 0 < amount_fen <= MAX_TOP_UP_FEN:
        raise Invalid(f"a top-up is between ¥0.01 and {format_yuan(MAX_TOP_UP_FEN)}; got {amount_fen} fen")
    posting = ledger.Posting(ledger.Kind.TOP_UP, amount_fen, note=note or f"top-up {format_yuan(amount_fen)}")
    await uow.ledger.balance(holder, for_update=True)
    balance = await uow.ledger.post(holder, None, [posting], principal.subject, uow.now())
    return TopUp(holder, balance, amount_fen, await uow.ledger.entries(holder=holder, limit=20))


async def order_ledger(uow: OrdersUnitOfWork, order: Order) -> OrderLedger:
    """The order's money and every entry it made (the caller has checked the order is theirs to see)."""
    return OrderLedger(order.id, order.money(), await uow.ledger.entries(order_id=order.id))
