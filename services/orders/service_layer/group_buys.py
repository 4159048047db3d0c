"""Group buying's use cases: leaders, opening and deciding a deal, joining it, and its cutoff.

Joining is decided here, synchronously, against the remaining cap under the deal's row lock:
inventory already holds the whole cap, so no call crosses services and the deal is never
oversold. A share is paid from the prepaid balance in the same transaction; leaving, a cancel or
a failed cutoff refund it at once. Lock order, everywhere: the deal's row, then balances.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.orders.adapters.group_buys import ANY_SHOP
from services.orders.domain import group_buys as gb
from services.orders.domain import settlement
from services.orders.domain.group_buys import DealItem, DealStatus, GroupBuy, PickupPoint, Share, Window
from services.orders.domain.ledger import BalanceTooSmall
from services.orders.service_layer import residents
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared.attempts import CodeLimits, Lockout, code_guard
from shared.auth import Principal
from shared.deadlines import Deadline
from shared.errors import Conflict, Forbidden, Invalid, NotFound
from shared.events.contracts import (
    BagItem,
    DealBag,
    DealLine,
    DealPickup,
    DealStockRefused,
    DealStockReleased,
    DealStockReserved,
    DealTotal,
    GroupBuyAccepted,
    GroupBuyBagPacked,
    GroupBuyBagsReturned,
    GroupBuyCancelled,
    GroupBuyClosed,
    GroupBuyFailed,
)
from shared.vocabulary import geo
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit

CUTOFF = "group_buy_cutoff"
PICKUP_END = "group_buy_pickup_end"
BAG_CODE = "groupbuy"  # the kind of a bag's collection code, for the guessing limits
SYSTEM = "linli"


@dataclass(frozen=True)
class LeaderGrant:
    shopper: str
    scope: str
    granted_by: str
    granted_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class ItemWanted:
    product_id: str
    group_price_fen: int
    per_person_limit: int
    cap: int


def _scope_of(principal: Principal) -> str:
    if principal.role is Role.ADMIN:
        return ANY_SHOP
    if principal.role is Role.STORE_STAFF and principal.store:
        return principal.store
    raise Forbidden("an admin, or a shop's staff for their shop, grants and revokes the group_leader capability")


async def grant_leader(uow: OrdersUnitOfWork, principal: Principal, shopper: str) -> LeaderGrant:
    row = await uow.group_leaders.grant(shopper, _scope_of(principal), principal.subject, uow.now())
    return LeaderGrant(**row)


async def revoke_leader(uow: OrdersUnitOfWork, principal: Principal, shopper: str) -> LeaderGrant:
    scope = _scope_of(principal)
    row = await uow.group_leaders.revoke(shopper, scope, principal.subject, uow.now())
    if row is None:
        where = "any shop" if scope == ANY_SHOP else scope
        raise NotFound(f"{shopper} holds no group_leader grant for {where} to revoke")
    return LeaderGrant(**row)


async def leader_grants(uow: OrdersUnitOfWork, shopper: str) -> list[LeaderGrant]:
    return [LeaderGrant(**row) for row in await uow.group_leaders.of(shopper)]


# --- opening and deciding a deal -----------------------------------------------------------


@dataclass(frozen=True)
class PickupWanted:
    kind: str  # 'place' or 'locker'
    name: str | None
    point: geo.Point | None
    locker_site_id: str | None
    delivered: bool = False  # a place: dispatch brings the bags there (one trip); else the leader collects


@dataclass(frozen=True)
class DealWanted:
    """A leader's request, before the catalog and the circle have filled in what they know."""

    store_id: str
    title: str
    items: Sequence[ItemWanted]
    minimum_kind: gb.MinimumKind
    minimum: int
    cutoff_at: datetime
    pickup: PickupWanted
    window: Window
    uncollected: gb.Uncollected
    second_window: Window | None
    commission_bp: int
    cash_allowed: bool
    platform_fee_fen: int


async def _pickup(uow: OrdersUnitOfWork, wanted: PickupWanted) -> PickupPoint:
    if wanted.kind == "locker":
        found = await uow.circle.locker_site(wanted.locker_site_id or "")
        if found is None or not found.active:
            raise Invalid(f"no active locker site {wanted.locker_site_id!r} in the circle; GET /lockers lists them")
        return PickupPoint("locker", wanted.name or found.name, found.point, found.site_id)
    if wanted.point is None or not wanted.name:
        raise Invalid("a pickup place has a name and a position (lat, lon)")
    return PickupPoint("place", wanted.name, wanted.point, delivered=wanted.delivered)


async def _items(uow: OrdersUnitOfWork, store_id: str, items: Sequence[ItemWanted]) -> list[DealItem]:
    products = await uow.catalog.products([i.product_id for i in items])
    deal_items = []
    for n, wanted in enumerate(items, start=1):
        product = products.get(wanted.product_id)
        if product is None or product.store_id != store_id or not product.active:
            raise Invalid(f"{wanted.product_id} is not a product {store_id} sells now")
        deal_items.append(
            DealItem(
                line_no=n,
                product_id=product.product_id,
                location_id=product.location_id,
                name_zh=product.name_zh,
                name_en=product.name_en,
                unit=product.unit.value,
                shelf_price_fen=product.price_fen,
                group_price_fen=wanted.group_price_fen,
                per_person_limit=wanted.per_person_limit,
                cap=wanted.cap,
                grams_per_piece=product.grams_per_piece,
            )
        )
    return deal_items


async def open_deal(uow: OrdersUnitOfWork, principal: Principal, wanted: DealWanted) -> GroupBuy:
    """A leader proposes a deal with one shop or market; it waits for the shop to accept."""
    store_id = wanted.store_id
    if principal.role is not Role.SHOPPER or not await uow.group_leaders.may_lead(principal.subject, store_id):
        raise Forbidden(
            f"you do not have the group_leader capability for {store_id}; an admin, or that shop's staff, grants it"
        )
    shop = await uow.catalog.location(store_id)
    if shop is None or shop.point is None or shop.kind == "stall" or not shop.active:
        raise NotFound(f"no shop or market {store_id!r} in the circle")
    terms = gb.DealTerms(
        title=wanted.title,
        items=await _items(uow, store_id, wanted.items),
        minimum_kind=wanted.minimum_kind,
        minimum=wanted.minimum,
        cutoff_at=wanted.cutoff_at,
        pickup=await _pickup(uow, wanted.pickup),
        window=wanted.window,
        uncollected=wanted.uncollected,
        second_window=wanted.second_window,
        platform_fee_fen=wanted.platform_fee_fen,
        commission_bp=wanted.commission_bp,
        cash_allowed=wanted.cash_allowed,
    )
    deal = GroupBuy.propose(
        id=f"gb-{uuid.uuid4().hex[:16]}",
        store_id=store_id,
        leader=principal.subject,
        terms=terms,
        shop=shop.point,
        now=uow.now(),
    )
    await uow.group_buys.add(deal)
    await uow.schedule(CUTOFF, deal.id, deal.cutoff_at, {"deal_id": deal.id})
    return deal


async def _locked(uow: OrdersUnitOfWork, deal_id: str) -> GroupBuy:
    deal = await uow.group_buys.get(deal_id, for_update=True)
    if deal is None:
        raise NotFound(f"no group buy {deal_id}")
    return deal


def _shop_side(principal: Principal, deal: GroupBuy) -> bool:
    return principal.role is Role.ADMIN or (principal.role is Role.STORE_STAFF and principal.store == deal.store_id)


async def accept_deal(uow: OrdersUnitOfWork, principal: Principal, deal_id: str) -> GroupBuy:
    """The shop takes the deal on; inventory then holds its caps and the deal opens once they are held."""
    deal = await _locked(uow, deal_id)
    if not _shop_side(principal, deal):
        raise Forbidden(f"only staff of {deal.store_id} (or an admin) accept its deals")
    if uow.now() >= deal.cutoff_at:
        raise Conflict("the deal's cutoff has passed; it can no longer be accepted")
    deal.accept(principal.subject)
    await uow.group_buys.save(deal, [])
    await uow.publish(
        GroupBuyAccepted(
            deal_id=deal.id,
            store_id=deal.store_id,
            leader=deal.leader,
            accepted_by=principal.subject,
            cutoff_at=deal.cutoff_at,
            lines=[
                DealLine(
                    line_no=i.line_no,
                    product_id=i.product_id,
                    location_id=i.location_id,
                    unit=StockUnit(i.unit),
                    cap=i.cap,
                    stock_quantity=i.stock_quantity(i.cap),
                    group_price_fen=i.group_price_fen,
                )
                for i in deal.items
            ],
        )
    )
    return deal


async def decline_deal(uow: OrdersUnitOfWork, principal: Principal, deal_id: str, reason: str) -> GroupBuy:
    deal = await _locked(uow, deal_id)
    if not _shop_side(principal, deal):
        raise Forbidden(f"only staff of {deal.store_id} (or an admin) decline its deals")
    if deal.status is not DealStatus.PROPOSED:
        raise Conflict(
            f"the deal is {deal.status.value}; only a proposed deal is declined (an accepted one is cancelled)"
        )
    deal.decline(principal.subject, reason)
    await uow.group_buys.save(deal, [])
    await uow.cancel_deadline(CUTOFF, deal.id)
    return deal


async def _refund(uow: OrdersUnitOfWork, deal: GroupBuy, shares: Sequence[Share], by: str) -> None:
    for share in shares:
        postings = gb.settle_share(deal, share)
        await uow.group_buys.post(share.holder, deal.id, postings, by, uow.now())
        share.postings.extend(postings)


async def cancel_deal(uow: OrdersUnitOfWork, principal: Principal, deal_id: str, reason: str) -> GroupBuy:
    """The leader or the shop calls the deal off before its cutoff: every share refunded, the stock released."""
    deal = await _locked(uow, deal_id)
    if principal.subject != deal.leader and not _shop_side(principal, deal):
        raise Forbidden("only the deal's leader, its shop's staff or an admin cancel it")
    told_inventory = deal.status is not DealStatus.PROPOSED
    refunded = deal.cancel(principal.subject, reason, uow.now())
    await _refund(uow, deal, refunded, principal.subject)
    await uow.group_buys.save(deal)
    await uow.cancel_deadline(CUTOFF, deal.id)
    if told_inventory:
        await uow.publish(
            GroupBuyCancelled(deal_id=deal.id, store_id=deal.store_id, cancelled_by=principal.subject, reason=reason)
        )
    return deal


async def on_deal_stock_reserved(uow: OrdersUnitOfWork, event: DealStockReserved) -> None:
    deal = await uow.group_buys.get(event.deal_id, for_update=True)
    if deal is not None and deal.open():
        await uow.group_buys.save(deal, [])


async def on_deal_stock_refused(uow: OrdersUnitOfWork, event: DealStockRefused) -> None:
    deal = await uow.group_buys.get(event.deal_id, for_update=True)
    if deal is None or deal.status is not DealStatus.ACCEPTED:
        return
    short = [s.model_dump(mode="json") for s in event.short_lines]
    deal.decline("inventory", event.reason, {"short_lines": short})
    await uow.group_buys.save(deal, [])
    await uow.cancel_deadline(CUTOFF, deal.id)


async def on_deal_stock_released(uow: OrdersUnitOfWork, event: DealStockReleased) -> None:
    """Noted on the deal: what the shop held for it and no bag took is back on its shelves."""
    deal = await uow.group_buys.get(event.deal_id, for_update=True)
    if deal is not None:
        deal.details = {**deal.details, "stock_released": event.reason}
        await uow.group_buys.save(deal, [])


# --- joining -------------------------------------------------------------------------------


async def _holder(uow: OrdersUnitOfWork, principal: Principal, on_behalf_of: str | None) -> str:
    if principal.role not in (Role.SHOPPER, Role.HELPER):
        raise Forbidden("shoppers join deals, and helpers for the residents they help")
    if principal.role is Role.HELPER and on_behalf_of is None:
        raise Invalid("a helper joins for a resident: give on_behalf_of (GET /residents lists yours)")
    holder = on_behalf_of or principal.subject
    if not await residents.may_act_for(uow, principal, holder):
        raise Forbidden(f"you may not join for {holder}; a helper joins for the residents they help")
    return holder


async def set_share(
    uow: OrdersUnitOfWork,
    principal: Principal,
    deal_id: str,
    wanted: Sequence[tuple[str, int]],
    on_behalf_of: str | None = None,
    payment: str = "balance",
) -> tuple[GroupBuy, Share]:
    """Join an open deal, or change one's share, paying (or refunded) the difference from the balance at once."""
    holder = await _holder(uow, principal, on_behalf_of)
    deal = await _locked(uow, deal_id)
    if payment not in ("balance", "cash_at_pickup"):
        raise Invalid(f"a share is paid from the balance or in cash at pickup, not {payment!r}")
    share = deal.set_share(
        holder, principal.subject, wanted, uow.now(), "cash_at_pickup" if payment != "balance" else "balance"
    )
    postings = gb.settle_share(deal, share)
    owed = -sum(p.amount_fen for p in postings if p.amount_fen < 0)
    if owed:
        balance = await uow.ledger.balance(holder, for_update=True)
        if owed > balance:
            raise BalanceTooSmall(balance, owed)
    await uow.group_buys.post(holder, deal.id, postings, principal.subject, uow.now())
    share.postings.extend(postings)
    await uow.group_buys.save(deal, [share])
    return deal, share


async def leave(
    uow: OrdersUnitOfWork, principal: Principal, deal_id: str, on_behalf_of: str | None = None
) -> tuple[GroupBuy, Share]:
    """Leave before the cutoff: refunded at once."""
    holder = await _holder(uow, principal, on_behalf_of)
    deal = await _locked(uow, deal_id)
    share = deal.leave(holder, uow.now())
    await _refund(uow, deal, [share], principal.subject)
    await uow.group_buys.save(deal, [share])
    return deal, share


# --- the cutoff ----------------------------------------------------------------------------


async def _name(uow: OrdersUnitOfWork, holder: str) -> str:
    """The name on a bag: the resident's when a helper registered them, else the shopper's id."""
    resident = await uow.residents.get(holder)
    return resident.name if resident is not None else holder


async def _bags(uow: OrdersUnitOfWork, deal: GroupBuy, shares: Sequence[Share] | None = None) -> list[DealBag]:
    items = {i.line_no: i for i in deal.items}
    bags = []
    for share in deal.joined() if shares is None else shares:
        bags.append(
            DealBag(
                number=share.number or 0,
                holder=share.holder,
                name=await _name(uow, share.holder),
                joined_by=share.joined_by,
                items=[
                    BagItem(
                        line_no=ln,
                        product_id=items[ln].product_id,
                        quantity=n,
                        price_fen=items[ln].price_fen(n),
                        unit=StockUnit(items[ln].unit),
                        stock_quantity=items[ln].stock_quantity(n),
                    )
                    for ln, n in sorted(share.pieces.items())
                    if n
                ],
                goods_fen=deal.goods_fen(share.pieces),
            )
        )
    return bags


def _totals(deal: GroupBuy) -> list[DealTotal]:
    """Per product, the sums of the bags (each bag priced on its own, so the order's estimate is theirs to the fen)."""
    taken = deal.taken()
    joined = deal.joined()
    return [
        DealTotal(
            line_no=i.line_no,
            product_id=i.product_id,
            location_id=i.location_id,
            unit=StockUnit(i.unit),
            quantity=taken[i.line_no],
            stock_quantity=sum(i.stock_quantity(s.pieces.get(i.line_no, 0)) for s in joined),
            unit_price_fen=i.group_price_fen,
            estimated_fen=sum(i.price_fen(s.pieces.get(i.line_no, 0)) for s in joined),
        )
        for i in deal.items
        if taken[i.line_no]
    ]


async def on_cutoff(uow: OrdersUnitOfWork, deadline: Deadline) -> None:
    """The cutoff: the minimum met, one consolidated order goes to the shop; otherwise everyone is refunded."""
    deal = await uow.group_buys.get(str(deadline.payload.get("deal_id", deadline.key)), for_update=True)
    if deal is None or deal.ended:
        return
    told_inventory = deal.status is not DealStatus.PROPOSED
    refunded = deal.cut_off()
    await _refund(uow, deal, refunded, SYSTEM)
    await uow.group_buys.save(deal)
    if deal.status is DealStatus.CLOSED:
        assert deal.pickup_ends_at is not None
        await uow.schedule(PICKUP_END, deal.id, deal.pickup_ends_at, {"deal_id": deal.id})
        totals = deal.totals()
        await uow.publish(
            GroupBuyClosed(
                deal_id=deal.id,
                store_id=deal.store_id,
                order_id=deal.id,
                leader=deal.leader,
                totals=_totals(deal),
                bags=await _bags(uow, deal),
                goods_fen=totals.goods_fen,
                leader_commission_fen=totals.leader_commission_fen,
                pickup=DealPickup(
                    kind=deal.pickup.kind,
                    name=deal.pickup.name,
                    lat=deal.pickup.point.lat,
                    lon=deal.pickup.point.lon,
                    locker_site_id=deal.pickup.locker_site_id,
                    window_start=deal.window.start,
                    window_end=deal.window.end,
                    delivered=deal.pickup.delivered,
                ),
            )
        )
    elif told_inventory:
        await uow.publish(GroupBuyFailed(deal_id=deal.id, store_id=deal.store_id, reason=deal.reason or "failed"))


# --- collection ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BagView:
    share: Share
    name: str


def _hands_out(principal: Principal, deal: GroupBuy) -> bool:
    """Who hands bags out at the pickup point: the leader, an admin (helpers, for their residents' bags)."""
    return principal.subject == deal.leader or principal.role is Role.ADMIN


async def bag_name(uow: OrdersUnitOfWork, share: Share) -> str:
    return await _name(uow, share.holder)


async def bags(uow: OrdersUnitOfWork, principal: Principal, deal_id: str) -> tuple[GroupBuy, list[BagView]]:
    """The leader's list: every bag, for whom, and whether it was collected (codes are never in it)."""
    deal = await get_deal(uow, deal_id)
    if not sees_shares(principal, deal):
        raise Forbidden("the deal's leader, its shop's staff and admins see its bags")
    return deal, [BagView(s, await _name(uow, s.holder)) for s in deal.bags()]


async def confirm_arrival(uow: OrdersUnitOfWork, principal: Principal, deal_id: str) -> GroupBuy:
    """The bags are at the pickup point: the leader, an admin, or a helper with a resident's bag in the deal."""
    deal = await _locked(uow, deal_id)
    helper_in_it = principal.role is Role.HELPER and any(s.joined_by == principal.subject for s in deal.bags())
    if not (_hands_out(principal, deal) or helper_in_it):
        raise Forbidden("the deal's leader, a helper with a bag in it, or an admin confirms the bags' arrival")
    deal.confirm_arrival(principal.subject, uow.now())
    await uow.group_buys.save(deal, [])
    return deal


async def check_out(
    uow: OrdersUnitOfWork,
    principal: Principal,
    deal_id: str,
    number: int,
    code: str,
    limits: CodeLimits,
    *,
    cash_fen: int | None = None,
) -> tuple[GroupBuy, Share]:
    """Hand bag `number` over against its holder's code, under the guessing limits of every code
    (shared/attempts.py): a wrong code counts, the fifth locks that bag's code for a while."""
    deal = await _locked(uow, deal_id)
    share = deal.bag(number)
    helper = principal.role is Role.HELPER and await residents.may_act_for(uow, principal, share.holder)
    if not (_hands_out(principal, deal) or helper):
        raise Forbidden("the deal's leader, a helper of the bag's resident, or an admin hands out its bags")

    async def locked_out(lock: Lockout) -> None:
        locks = dict(deal.details.get("bag_lockouts", {}))  # type: ignore[call-overload]
        locks[str(number)] = lock.until.isoformat()
        deal.details = {**deal.details, "bag_lockouts": locks}
        await uow.group_buys.save(deal, [])

    guard = code_guard(
        uow,
        limits,
        BAG_CODE,
        f"{deal.id}:{number}",
        subject=principal.subject,
        what=f"bag {number} of group buy {deal.id}",
        on_lockout=locked_out,
    )
    deal.check_cash(share, cash_fen)  # a wrong amount is refused before the code is tried
    async with guard:
        deal.check_out(number, code, principal.subject, uow.now(), cash_fen)
    cash = gb.cash_taken(deal, share)
    await uow.group_buys.post(share.holder, deal.id, cash, principal.subject, uow.now())
    share.postings.extend(cash)
    uow.journal.add([settlement.share_settled(deal, share, principal.subject, uow.now())])  # the shop's sale
    await uow.group_buys.save(deal, [share])
    return deal, share


async def on_pickup_end(uow: OrdersUnitOfWork, deadline: Deadline) -> None:
    """The pickup window ended: each uncollected bag follows the deal's rule — back to the shop, its holder
    refunded and inventory told to put the goods back, or (once) a second window with its own deadline."""
    deal = await uow.group_buys.get(str(deadline.payload.get("deal_id", deadline.key)), for_update=True)
    if deal is None:
        return
    returned, second = deal.end_pickup(uow.now())
    if second is not None:
        await uow.group_buys.save(deal, [])
        await uow.schedule(PICKUP_END, deal.id, second.end, {"deal_id": deal.id})
        return
    if not returned:
        return
    await _refund(uow, deal, returned, SYSTEM)
    await uow.group_buys.save(deal, returned)
    await uow.publish(
        GroupBuyBagsReturned(
            deal_id=deal.id, store_id=deal.store_id, order_id=deal.id, bags=await _bags(uow, deal, returned)
        )
    )


async def on_group_buy_bag_packed(uow: OrdersUnitOfWork, event: GroupBuyBagPacked) -> None:
    """The counter packed a bag: its share is due what the bag came to — a line not filled refunded at the price
    paid, a weighed line settled at its weight (refunded, or the extra charged, as an order's weighed line is)."""
    deal = await uow.group_buys.get(event.deal_id, for_update=True)
    if deal is None:
        return
    share = deal.bag_packed(event.number, event.goods_fen, [i.model_dump(mode="json") for i in event.items])
    if share is None or share.holder != event.holder:
        return
    postings = gb.settle_share(deal, share)
    if postings:
        await uow.ledger.balance(share.holder, for_update=True)
        await uow.group_buys.post(share.holder, deal.id, postings, SYSTEM, uow.now())
        share.postings.extend(postings)
    await uow.group_buys.save(deal, [share])


# --- reading -------------------------------------------------------------------------------


async def get_deal(uow: OrdersUnitOfWork, deal_id: str) -> GroupBuy:
    deal = await uow.group_buys.get(deal_id)
    if deal is None:
        raise NotFound(f"no group buy {deal_id}")
    return deal


def sees_shares(principal: Principal, deal: GroupBuy) -> bool:
    """The leader, the shop and admins see every share (who joined, for whom); a neighbour sees their own."""
    return principal.subject == deal.leader or _shop_side(principal, deal)


async def share_of(uow: OrdersUnitOfWork, principal: Principal, deal: GroupBuy, resident: str | None) -> Share | None:
    if principal.role not in (Role.SHOPPER, Role.HELPER) or (principal.role is Role.HELPER and resident is None):
        return None
    holder = await _holder(uow, principal, resident)
    return deal.shares.get(holder)
