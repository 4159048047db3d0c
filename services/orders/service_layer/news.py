"""News without the app: messages written with the event that caused them, and each person's choices.

A consumer's handler calls `tell` (or `tell_many` for a run) after applying its event, in the
same unit of work: the moment is marked told for the order, and one message per opted-in
recipient goes into the message outbox. If the handler's transaction rolls back, so do they;
if the event comes again, the moment is already told and the message ids already taken.
The sender loop (adapters/messages.py) delivers them; nothing here waits for a gateway.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from services.orders.adapters.messages import Asked, Outgoing
from services.orders.domain import news_templates as templates
from services.orders.domain.delivery import ETA_COUNTS
from services.orders.domain.news import (
    MESSAGE_NAMESPACE,
    Listener,
    Moment,
    NewsPreferences,
    Relation,
    is_late,
    may_choose_for,
    message_id,
    minutes_late,
    recipients,
)
from services.orders.domain.order import Order
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.auth import Principal
from shared.dependencies import Unavailable
from shared.errors import Forbidden
from shared.events.envelope import RawEnvelope
from shared.settings import get_settings
from shared.vocabulary.order_status import OrderStatus

log = logging.getLogger(__name__)


def _event_id(cause: RawEnvelope | None, order: Order, moment: Moment) -> uuid.UUID:
    if cause is not None:
        return cause.event_id
    return uuid.uuid5(MESSAGE_NAMESPACE, f"{order.id}/{moment.value}")  # a moment no event caused (tests)


async def tell(uow: OrdersUnitOfWork, order: Order, moment: Moment) -> int:
    """Write the messages `moment` of `order` makes, once per order; how many were written."""
    return await tell_many(uow, [(uow.cause, order, moment)])


async def tell_many(uow: OrdersUnitOfWork, items: Sequence[tuple[RawEnvelope | None, Order, Moment]]) -> int:
    """Mark each moment told (one statement); write the messages of those someone listens to.

    Writing them runs in a savepoint: if it fails (a bug, a bad row), the event's effects still
    commit, the moment stays told, and the loss is logged; a database that is away fails it all.
    """
    asked = [
        Asked(order.id, moment, _event_id(cause, order, moment), order.placed_for) for cause, order, moment in items
    ]
    heard = await uow.news.tell_once(asked)
    if not heard:
        return 0
    try:
        async with uow.news.savepoint():
            return await uow.news.write(await _compose(uow, asked, items, heard))
    except Unavailable:
        raise
    except Exception:
        log.exception("text messages for orders %s not written; their events apply without them", sorted(heard))
        return 0


async def _compose(
    uow: OrdersUnitOfWork,
    asked: list[Asked],
    items: Sequence[tuple[RawEnvelope | None, Order, Moment]],
    heard: dict[tuple[str, Moment], list[Listener]],
) -> list[Outgoing]:
    messages: list[Outgoing] = []
    for ask, (_, order, moment) in zip(asked, items, strict=True):
        listeners = heard.pop((order.id, moment), None)
        if not listeners:
            continue
        chosen = recipients(listeners, moment, order.contact_phone)
        if not chosen:
            continue
        facts = await _facts(uow, order, moment)
        for r in chosen:
            body = templates.render(moment, r.language, facts[r.language][r.relation], get_settings().timezone)
            messages.append(
                Outgoing(
                    message_id(ask.event_id, r.person, moment),
                    ask.event_id,
                    order.id,
                    r.person,
                    moment,
                    r.phone,
                    r.language,
                    body,
                )
            )
    return messages


async def _facts(uow: OrdersUnitOfWork, order: Order, moment: Moment) -> dict[str, dict[Relation, templates.Facts]]:
    """What the messages of this moment say, per language and per relation (a helper is told whose order)."""
    shop = await uow.catalog.location(order.store_id)
    resident = await uow.residents.get(order.placed_for)
    for_name = resident.name if resident is not None else order.placed_for
    t = order.tracking
    locker_name: str | None = None
    collect_by: Any = None
    if moment is Moment.IN_LOCKER and t.locker:
        site = await uow.circle.locker_site(str(t.locker.get("site_id")))
        locker_name = site.name if site else None
        collect_by = t.locker.get("collect_by")
    late = minutes_late(t.promised_at, t.eta_door_at) if t.promised_at and t.eta_door_at else None
    collect_at = datetime.fromisoformat(collect_by) if isinstance(collect_by, str) else collect_by
    found: dict[str, dict[Relation, templates.Facts]] = {}
    for lang in ("zh", "en"):
        shop_name = (shop.name_zh if lang == "zh" else shop.name_en) if shop else order.store_id
        base = templates.Facts(
            order_id=order.id,
            shop=shop_name,
            eta_door_at=t.eta_door_at,
            minutes_late=late,
            reject_reason=order.reject_reason,
            locker=locker_name,
            collect_by=collect_at,
        )
        found[lang] = {
            Relation.SELF: base,
            Relation.HELPER: templates.Facts(**{**base.__dict__, "for_name": for_name}),
        }
    return found


# The moments each fact may make: a handler applies its event, then the order as it now is says
# whether a moment came (a late or duplicate event leaves the order as it was, and says nothing new).

MomentOf = Callable[[Order], Moment | None]
Handler = Callable[[OrdersUnitOfWork, Any], Awaitable[None]]
BatchHandler = Callable[[OrdersUnitOfWork, Sequence[tuple[RawEnvelope, Any]]], Awaitable[None]]


def confirmed(order: Order) -> Moment | None:
    return Moment.CONFIRMED if order.status is OrderStatus.CONFIRMED else None


def rejected(order: Order) -> Moment | None:
    return Moment.REJECTED if order.status is OrderStatus.REJECTED else None


def _under_way(order: Order) -> bool:
    return order.dispatched and order.status in ETA_COUNTS


def left_shop(order: Order) -> Moment | None:
    return Moment.LEFT_SHOP if _under_way(order) else None


def at_door(order: Order) -> Moment | None:
    return Moment.AT_DOOR if _under_way(order) else None


def in_locker(order: Order) -> Moment | None:
    return Moment.IN_LOCKER if order.status is OrderStatus.IN_LOCKER else None


def late(order: Order) -> Moment | None:
    """Late once per order: the first live ETA past the promise by the setting (the moment is told once)."""
    late_after = timedelta(minutes=get_settings().news_late_after_min)
    if _under_way(order) and is_late(order.tracking.promised_at, order.tracking.eta_door_at, late_after):
        return Moment.LATE
    return None


class _Watched:
    """The unit of work's orders repository, keeping the orders a handler saved (as saved): no read again."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.saved: dict[str, Order] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def save(self, order: Order) -> None:
        await self.inner.save(order)
        self.saved[order.id] = order

    async def save_many(self, orders: list[Order]) -> None:
        await self.inner.save_many(orders)
        self.saved.update((o.id, o) for o in orders)


async def _saved_by(uow: OrdersUnitOfWork, apply: Callable[[], Awaitable[None]]) -> dict[str, Order]:
    """Run `apply` with the repository watched; every change to an order is saved, so this is every order changed."""
    inner = uow.orders
    watched = _Watched(inner)
    uow.orders = watched  # type: ignore[assignment]
    try:
        await apply()
    finally:
        uow.orders = inner
    return watched.saved


def telling(handler: Handler, moment_of: MomentOf) -> Handler:
    """The handler, then the messages its event made, in its unit of work."""

    @functools.wraps(handler)
    async def handle(uow: OrdersUnitOfWork, event: Any) -> None:
        saved = await _saved_by(uow, lambda: handler(uow, event))
        order = saved.get(event.order_id)
        moment = moment_of(order) if order is not None else None
        if order is not None and moment is not None:
            await tell(uow, order, moment)

    return handle


def telling_many(handler: BatchHandler, moment_of: MomentOf) -> BatchHandler:
    """A batch handler, then the messages of its run: the orders it saved, told in one statement."""

    @functools.wraps(handler)
    async def handle(uow: OrdersUnitOfWork, items: Sequence[tuple[RawEnvelope, Any]]) -> None:
        saved = await _saved_by(uow, lambda: handler(uow, items))
        told: list[tuple[RawEnvelope | None, Order, Moment]] = []
        for env, event in items:
            order = saved.get(event.order_id)
            moment = moment_of(order) if order is not None else None
            if order is not None and moment is not None:
                told.append((env, order, moment))
        if told:
            await tell_many(uow, told)

    return handle


# Choosing


async def _may_choose(uow: OrdersUnitOfWork, principal: Principal, person: str) -> None:
    helps = False
    if principal.subject != person:
        helped = await uow.residents.helped_by(principal.subject, person)
        helps = person in helped.residents
    if not may_choose_for(principal.role, principal.subject, person, helps):
        raise Forbidden("only the person themselves, or the helper who registered a resident, chooses their messages")


async def preferences(uow: OrdersUnitOfWork, principal: Principal, person: str) -> NewsPreferences:
    await _may_choose(uow, principal, person)
    return await uow.news.preferences(person)


async def choose(uow: OrdersUnitOfWork, principal: Principal, person: str, changes: dict[str, Any]) -> NewsPreferences:
    """Change what `person` hears by text: only what `changes` names (choices, language, phone)."""
    await _may_choose(uow, principal, person)
    current = await uow.news.preferences(person)
    kwargs: dict[str, Any] = {k: changes[k] for k in ("choices", "language") if k in changes}
    if "phone" in changes:
        kwargs["phone"] = changes["phone"]
    updated = current.changed(**kwargs)
    await uow.news.save_preferences(updated, principal.subject)
    return updated
