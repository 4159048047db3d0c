"""HTTP routes of group buying: leaders' grants, deals, the shop's decision, shares and the deal's money."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.orders.domain.group_buys import DealStatus, GroupBuy, Share, Window
from services.orders.service_layer import group_buys, group_trips
from services.orders.service_layer.unit_of_work import OrdersUnitOfWork
from shared import requests
from shared.attempts import CODE_RESPONSES, CodeLimits
from shared.auth import CurrentPrincipal, Principal
from shared.errors import Forbidden, Invalid, NotFound
from shared.service import runtime_of
from shared.vocabulary import geo
from shared.vocabulary.roles import Role
from shared.web.qr import SVG, group_buy_payload, secret_svg

router = APIRouter(tags=["group buying"])


def unit_of_work(request: Request, *, readonly: bool = False) -> OrdersUnitOfWork:
    uow = requests.unit_of_work(request, readonly=readonly)
    assert isinstance(uow, OrdersUnitOfWork)
    return uow


# --- requests ------------------------------------------------------------------------------


class Grant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    shopper: str = Field(min_length=1, max_length=100)


class WindowRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: AwareDatetime
    end: AwareDatetime

    def window(self) -> Window:
        return Window(self.start, self.end)


class PickupRequest(BaseModel):
    """A named place with its position in the shop's circle, or a locker site (dispatch's id)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["place", "locker"]
    name: str | None = Field(None, min_length=1, max_length=100)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    locker_site_id: str | None = Field(None, min_length=1, max_length=100)
    delivered: bool = Field(False, description="a place: dispatch brings every bag there in one trip")


class DealItemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    group_price_fen: int = Field(
        ge=0,
        description="per piece (per kg for weighed goods, settled per bag at their weight), at most the shelf price",
    )
    per_person_limit: int = Field(ge=1, le=999)
    cap: int = Field(ge=1, le=100_000, description="the shop's total for the deal, in pieces")


class OpenDeal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    store_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=100)
    items: list[DealItemRequest] = Field(min_length=1, max_length=20)
    minimum_kind: Literal["participants", "pieces"] = "participants"
    minimum: int = Field(ge=1, le=100_000)
    cutoff_at: AwareDatetime = Field(description="with its time zone, e.g. 2026-12-02T20:00:00+08:00")
    pickup: PickupRequest
    window: WindowRequest
    uncollected: Literal["return_refund", "second_window"] = "return_refund"
    second_window: WindowRequest | None = None
    leader_commission_bp: int = Field(0, ge=0, le=10_000, description="basis points of the goods; 0 by default")
    cash_allowed: bool = Field(
        False, description="neighbours may pay in cash at the pickup point, taken by whoever hands out the bag"
    )


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300)


class ShareItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: str = Field(min_length=1, max_length=100)
    quantity: int = Field(ge=1, le=999, description="pieces")


class SetShare(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[ShareItem] = Field(min_length=1, max_length=20)
    on_behalf_of: str | None = Field(None, min_length=1, max_length=100, description="helpers: the resident")
    payment: Literal["balance", "cash_at_pickup"] = Field(
        "balance", description="cash_at_pickup only where the deal allows it: paid when the bag is handed over"
    )


# --- answers -------------------------------------------------------------------------------


class LeaderGrantAnswer(BaseModel):
    shopper: str
    scope: str = Field(description="'*' (an admin's grant: any shop) or the shop's id")
    granted_by: str
    granted_at: datetime
    revoked_by: str | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, g: group_buys.LeaderGrant) -> LeaderGrantAnswer:
        return cls(**vars(g))


class DealItemAnswer(BaseModel):
    line_no: int
    product_id: str
    name_zh: str
    name_en: str
    shelf_price_fen: int
    group_price_fen: int = Field(description="per piece, or per kg for weighed goods")
    unit: str = Field("piece", description="piece, or g: weighed goods, paid at their estimate and settled per bag")
    grams_per_piece: int | None = Field(None, description="weighed goods: the estimate per piece")
    per_person_limit: int
    cap: int
    taken: int
    remaining: int


class PickupAnswer(BaseModel):
    kind: str
    name: str
    lat: float
    lon: float
    locker_site_id: str | None
    delivered: bool = False


class WindowAnswer(BaseModel):
    start: datetime
    end: datetime


class ShareMoneyAnswer(BaseModel):
    payment: str = Field("balance", description="balance, or cash_at_pickup")
    goods_fen: int = Field(description="as packed once the counter packed the bag, else as paid at joining")
    platform_fee_fen: int
    due_fen: int
    paid_fen: int
    refund_fen: int
    extra_charged_fen: int = Field(0, description="a weighed line that came out heavier than its estimate")
    cash_fen: int | None = Field(None, description="cash at pickup: taken when the bag was handed over")
    reconciles: bool


class ShareAnswer(BaseModel):
    holder: str
    joined_by: str
    status: str
    number: int | None
    items: dict[str, int] = Field(description="product id -> pieces")
    money: ShareMoneyAnswer
    bag: str | None = Field(None, description="after the close: 'waiting', 'collected' or 'returned'")
    collected_at: datetime | None = None
    packed_fen: int | None = Field(None, description="what the bag came to as the counter packed it")
    collection_code: str | None = Field(
        None, description="the bag's six-digit code: only in the holder's own share (or their helper's)"
    )
    collection_qr: str | None = Field(None, description="the code as a QR image (SVG), for the holder")


class BagMoneyAnswer(BaseModel):
    number: int | None = Field(description="the bag's number, once the deal closed")
    holder: str
    goods_fen: int
    leader_commission_fen: int
    shop_takings_fen: int


class TotalsAnswer(BaseModel):
    participants: int
    pieces: int
    goods_fen: int
    platform_fee_fen: int
    leader_commission_bp: int
    leader_commission_fen: int
    shop_takings_fen: int
    bags: list[BagMoneyAnswer] = Field(
        default_factory=list, description="the leader, the shop and admins: per bag; the totals are their sums"
    )


class DealAnswer(BaseModel):
    id: str
    store_id: str
    leader: str
    title: str
    status: str
    reason: str | None
    details: dict[str, object]
    items: list[DealItemAnswer]
    minimum_kind: str
    minimum: int
    minimum_met: bool
    cutoff_at: datetime
    seconds_left: int = Field(description="until the cutoff; 0 once passed")
    pickup: PickupAnswer
    window: WindowAnswer
    uncollected: str
    second_window: WindowAnswer | None
    cash_allowed: bool
    platform_fee_fen: int = Field(description="per share")
    totals: TotalsAnswer
    my_share: ShareAnswer | None = None
    shares: list[ShareAnswer] | None = Field(None, description="the leader, the shop and admins only")

    @classmethod
    def of(cls, deal: GroupBuy, now: datetime, *, mine: Share | None = None, all_shares: bool = False) -> DealAnswer:
        totals, taken = deal.totals(), deal.taken()
        return cls(
            id=deal.id,
            store_id=deal.store_id,
            leader=deal.leader,
            title=deal.title,
            status=deal.status.value,
            reason=deal.reason,
            details=deal.details,
            items=[
                DealItemAnswer(
                    line_no=i.line_no,
                    product_id=i.product_id,
                    name_zh=i.name_zh,
                    name_en=i.name_en,
                    shelf_price_fen=i.shelf_price_fen,
                    group_price_fen=i.group_price_fen,
                    unit=i.unit,
                    grams_per_piece=i.grams_per_piece,
                    per_person_limit=i.per_person_limit,
                    cap=i.cap,
                    taken=taken[i.line_no],
                    remaining=i.cap - taken[i.line_no],
                )
                for i in deal.items
            ],
            minimum_kind=deal.minimum_kind,
            minimum=deal.minimum,
            minimum_met=deal.minimum_met(),
            cutoff_at=deal.cutoff_at,
            seconds_left=max(0, int((deal.cutoff_at - now).total_seconds())),
            pickup=PickupAnswer(
                kind=deal.pickup.kind,
                name=deal.pickup.name,
                lat=deal.pickup.point.lat,
                lon=deal.pickup.point.lon,
                locker_site_id=deal.pickup.locker_site_id,
                delivered=deal.pickup.delivered,
            ),
            window=WindowAnswer(start=deal.window.start, end=deal.window.end),
            uncollected=deal.uncollected,
            second_window=WindowAnswer(start=deal.second_window.start, end=deal.second_window.end)
            if deal.second_window
            else None,
            cash_allowed=deal.cash_allowed,
            platform_fee_fen=deal.platform_fee_fen,
            totals=TotalsAnswer(
                participants=totals.participants,
                pieces=sum(totals.pieces.values()),
                goods_fen=totals.goods_fen,
                platform_fee_fen=totals.platform_fee_fen,
                leader_commission_bp=deal.commission_bp,
                leader_commission_fen=totals.leader_commission_fen,
                shop_takings_fen=totals.shop_takings_fen,
                bags=[
                    BagMoneyAnswer(
                        number=b.number,
                        holder=b.holder,
                        goods_fen=b.goods_fen,
                        leader_commission_fen=b.leader_commission_fen,
                        shop_takings_fen=b.shop_takings_fen,
                    )
                    for b in deal.bag_money()
                ]
                if all_shares
                else [],
            ),
            my_share=share_answer(deal, mine, own=True) if mine else None,
            shares=[share_answer(deal, s) for s in deal.shares.values()] if all_shares else None,
        )


def share_answer(deal: GroupBuy, share: Share, *, own: bool = False) -> ShareAnswer:
    """A share as its holder (`own`: with the bag's collection code) or the leader and the shop read it."""
    money = deal.money_of(share)
    products = {i.line_no: i.product_id for i in deal.items}
    code = share.code if own and share.number is not None and share.bag_state == "waiting" else None
    qr = f"/group-buys/{deal.id}/share/code.svg" + (
        f"?resident={share.holder}" if share.joined_by != share.holder else ""
    )
    return ShareAnswer(
        bag=share.bag_state if share.number is not None else None,
        collected_at=share.collected_at,
        collection_code=code,
        collection_qr=qr if code else None,
        holder=share.holder,
        joined_by=share.joined_by,
        status=share.status.value,
        number=share.number,
        items={products[ln]: n for ln, n in share.pieces.items()} if share.active else {},
        packed_fen=share.packed_fen,
        money=ShareMoneyAnswer(
            payment=money.payment,
            goods_fen=money.goods_fen,
            platform_fee_fen=money.platform_fee_fen,
            due_fen=money.due_fen,
            paid_fen=money.paid_fen,
            refund_fen=money.refund_fen,
            extra_charged_fen=money.extra_charged_fen,
            cash_fen=money.cash_fen,
            reconciles=money.reconciles,
        ),
    )


def _answer(deal: GroupBuy, principal: Principal, now: datetime, mine: Share | None = None) -> DealAnswer:
    return DealAnswer.of(deal, now, mine=mine, all_shares=group_buys.sees_shares(principal, deal))


# --- routes --------------------------------------------------------------------------------


@router.post(
    "/group-leaders",
    status_code=201,
    responses={403: {"description": "only an admin, or a shop's staff for their shop"}},
)
async def grant_leader(body: Grant, request: Request, principal: CurrentPrincipal) -> LeaderGrantAnswer:
    """Let a shopper lead group buys: an admin for any shop, a shop's staff for their shop only."""
    async with unit_of_work(request) as uow:
        answer = LeaderGrantAnswer.of(await group_buys.grant_leader(uow, principal, body.shopper))
        grant = f"{answer.shopper}/{answer.scope}"
        await uow.audit.record(principal, "group_leader", grant, "granted", after=answer.model_dump(mode="json"))
        return answer


@router.delete(
    "/group-leaders/{shopper}",
    responses={403: {"description": "only an admin, or a shop's staff"}, 404: {"description": "no such grant"}},
)
async def revoke_leader(shopper: str, request: Request, principal: CurrentPrincipal) -> LeaderGrantAnswer:
    """Revoke the grant the caller's side gave (an admin's, or this shop's); it stays on record as revoked."""
    async with unit_of_work(request) as uow:
        answer = LeaderGrantAnswer.of(await group_buys.revoke_leader(uow, principal, shopper))
        grant = f"{answer.shopper}/{answer.scope}"
        await uow.audit.record(principal, "group_leader", grant, "revoked", after=answer.model_dump(mode="json"))
        return answer


@router.get("/group-leaders/{shopper}")
async def leader_grants(shopper: str, request: Request, principal: CurrentPrincipal) -> list[LeaderGrantAnswer]:
    """A shopper's grants, current and revoked (the shopper themself, staff and admins)."""
    if principal.subject != shopper and principal.role not in (Role.ADMIN, Role.STORE_STAFF):
        raise Forbidden("a shopper sees their own grants; staff and admins see anyone's")
    async with unit_of_work(request, readonly=True) as uow:
        return [LeaderGrantAnswer.of(g) for g in await group_buys.leader_grants(uow, shopper)]


@router.post(
    "/group-buys",
    status_code=201,
    responses={
        403: {"description": "not a group leader for this shop"},
        422: {"description": "a rule of the deal refused it (times, pickup point, prices, limits)"},
    },
)
async def open_deal(body: OpenDeal, request: Request, principal: CurrentPrincipal) -> DealAnswer:
    """A leader proposes a deal with one shop or market; it opens to neighbours once the shop accepts and
    inventory holds the whole cap."""
    settings = runtime_of(request).settings
    p = body.pickup
    wanted = group_buys.DealWanted(
        store_id=body.store_id,
        title=body.title,
        items=[group_buys.ItemWanted(**i.model_dump()) for i in body.items],
        minimum_kind=body.minimum_kind,
        minimum=body.minimum,
        cutoff_at=body.cutoff_at,
        pickup=group_buys.PickupWanted(
            p.kind,
            p.name,
            geo.Point(p.lat, p.lon) if p.lat is not None and p.lon is not None else None,
            p.locker_site_id,
            p.delivered,
        ),
        window=body.window.window(),
        uncollected=body.uncollected,
        second_window=body.second_window.window() if body.second_window else None,
        commission_bp=body.leader_commission_bp,
        cash_allowed=body.cash_allowed,
        platform_fee_fen=settings.platform_fee_fen,
    )
    async with unit_of_work(request) as uow:
        deal = await group_buys.open_deal(uow, principal, wanted)
        return _answer(deal, principal, uow.now())


@router.get("/group-buys")
async def list_deals(
    request: Request,
    principal: CurrentPrincipal,
    store_id: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    status: Annotated[list[str] | None, Query()] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
) -> list[DealAnswer]:
    """Deals in the circle, soonest cutoff first: open ones by default (`?status=` for others); with `lat` and
    `lon`, those whose pickup point is within a 15-minute walk of there."""
    known = {s.value: s for s in DealStatus}
    unknown = [s for s in status or [] if s not in known]
    if unknown:
        raise Invalid(f"unknown status {unknown[0]!r}; one of {', '.join(known)}")
    wanted = [known[s] for s in status or ["open"]]
    async with unit_of_work(request, readonly=True) as uow:
        deals = await uow.group_buys.listed(store_id, wanted)
        if lat is not None and lon is not None:
            here = geo.Point(lat, lon)
            deals = [d for d in deals if geo.walking_minutes(here, d.pickup.point) <= geo.CIRCLE_WALK_MINUTES]
        return [_answer(d, principal, uow.now()) for d in deals]


@router.get("/group-buys/{deal_id}", responses={404: {"description": "no such deal"}})
async def get_deal(
    deal_id: str,
    request: Request,
    principal: CurrentPrincipal,
    resident: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> DealAnswer:
    """The deal with how many joined, what is left, the countdown, and the caller's share (helpers: `?resident=`)."""
    async with unit_of_work(request, readonly=True) as uow:
        deal = await group_buys.get_deal(uow, deal_id)
        mine = await group_buys.share_of(uow, principal, deal, resident)
        return _answer(deal, principal, uow.now(), mine)


@router.post("/group-buys/{deal_id}/accept", responses={403: {"description": "not this shop's staff"}})
async def accept(deal_id: str, request: Request, principal: CurrentPrincipal) -> DealAnswer:
    """The shop takes the deal on: inventory holds its caps, and it opens once they are held."""
    async with unit_of_work(request) as uow:
        return _answer(await group_buys.accept_deal(uow, principal, deal_id), principal, uow.now())


@router.post("/group-buys/{deal_id}/decline", responses={403: {"description": "not this shop's staff"}})
async def decline(deal_id: str, body: Reason, request: Request, principal: CurrentPrincipal) -> DealAnswer:
    async with unit_of_work(request) as uow:
        return _answer(await group_buys.decline_deal(uow, principal, deal_id, body.reason), principal, uow.now())


@router.post(
    "/group-buys/{deal_id}/cancel",
    responses={403: {"description": "not the leader, the shop or an admin"}, 409: {"description": "past cutoff"}},
)
async def cancel(deal_id: str, body: Reason, request: Request, principal: CurrentPrincipal) -> DealAnswer:
    """Call the deal off before its cutoff: every share refunded at once, the stock released."""
    async with unit_of_work(request) as uow:
        return _answer(await group_buys.cancel_deal(uow, principal, deal_id, body.reason), principal, uow.now())


@router.put(
    "/group-buys/{deal_id}/share",
    responses={
        402: {"description": "the balance is too small"},
        409: {"description": "past the cutoff, over the per-person limit or the cap, or not open"},
    },
)
async def set_share(deal_id: str, body: SetShare, request: Request, principal: CurrentPrincipal) -> DealAnswer:
    """Join an open deal, or change one's share: paid (or refunded) the difference from the balance at once."""
    async with unit_of_work(request) as uow:
        deal, share = await group_buys.set_share(
            uow,
            principal,
            deal_id,
            [(i.product_id, i.quantity) for i in body.items],
            body.on_behalf_of,
            body.payment,
        )
        return _answer(deal, principal, uow.now(), share)


@router.delete("/group-buys/{deal_id}/share", responses={409: {"description": "no share, or past the cutoff"}})
async def leave(
    deal_id: str,
    request: Request,
    principal: CurrentPrincipal,
    resident: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> DealAnswer:
    """Leave the deal before its cutoff, refunded at once (helpers: `?resident=`)."""
    async with unit_of_work(request) as uow:
        deal, share = await group_buys.leave(uow, principal, deal_id, resident)
        return _answer(deal, principal, uow.now(), share)


# --- collection ----------------------------------------------------------------------------


class BagAnswer(BaseModel):
    number: int
    holder: str
    name: str = Field(description="the name on the label: the resident's when a helper joined for them")
    joined_by: str
    items: dict[str, int] = Field(description="product id -> pieces")
    goods_fen: int = Field(description="as packed once the counter packed the bag, else as paid")
    packed: bool = Field(False, description="the counter packed it")
    packed_items: list[dict[str, object]] = Field(
        default_factory=list,
        description="as packed: per line the outcome (picked, out_of_stock), pieces, quantity in the product's unit "
        "(grams if weighed), estimated_fen (paid) and price_fen (what it came to)",
    )
    payment: str = Field("balance", description="balance, or cash_at_pickup: take due_fen in cash at hand-over")
    due_fen: int = Field(0, description="what the bag costs its holder (goods + platform fee)")
    cash_fen: int | None = None
    cash_by: str | None = Field(None, description="who took the cash")
    state: str = Field(description="'waiting', 'collected' or 'returned' (uncollected, back to the shop, refunded)")
    collected_at: datetime | None
    collected_by: str | None
    returned_at: datetime | None


class BagsAnswer(BaseModel):
    deal_id: str
    status: str
    arrived_at: datetime | None
    arrived_by: str | None
    pickup_ends_at: datetime | None = Field(description="the end of the current pickup window")
    uncollected: str = Field(description="the deal's rule for bags uncollected at the window's end")
    second_window_used: bool
    collected: int
    bags: list[BagAnswer]


class CollectRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=20, description="the six digits the neighbour shows")
    cash_fen: int | None = Field(
        None, ge=0, description="a bag paid in cash at pickup: the cash taken, exactly its due_fen"
    )


def bag_answer(deal: GroupBuy, share: Share, name: str) -> BagAnswer:
    products = {i.line_no: i.product_id for i in deal.items}
    return BagAnswer(
        number=share.number or 0,
        holder=share.holder,
        name=name,
        joined_by=share.joined_by,
        items={products[ln]: n for ln, n in sorted(share.pieces.items()) if n},
        goods_fen=deal.share_goods_fen(share) if share.active else deal.goods_fen(share.pieces),
        packed=share.packed_fen is not None,
        packed_items=share.packed,
        payment=share.payment,
        due_fen=deal.share_due_fen(share),
        cash_fen=share.cash_fen,
        cash_by=share.cash_by,
        state=share.bag_state,
        collected_at=share.collected_at,
        collected_by=share.collected_by,
        returned_at=share.returned_at,
    )


def bags_answer(deal: GroupBuy, views: list[group_buys.BagView]) -> BagsAnswer:
    return BagsAnswer(
        deal_id=deal.id,
        status=deal.status.value,
        arrived_at=deal.arrived_at,
        arrived_by=deal.arrived_by,
        pickup_ends_at=deal.pickup_ends_at,
        uncollected=deal.uncollected,
        second_window_used=deal.second_window_used,
        collected=sum(1 for v in views if v.share.bag_state == "collected"),
        bags=[bag_answer(deal, v.share, v.name) for v in views],
    )


@router.get("/group-buys/{deal_id}/bags", responses={403: {"description": "not the leader, the shop or an admin"}})
async def list_bags(deal_id: str, request: Request, principal: CurrentPrincipal) -> BagsAnswer:
    """The leader's page: every bag of the closed deal, for whom, and whether it was collected (never a code)."""
    async with unit_of_work(request, readonly=True) as uow:
        deal, views = await group_buys.bags(uow, principal, deal_id)
        return bags_answer(deal, views)


@router.post(
    "/group-buys/{deal_id}/arrival",
    responses={
        403: {"description": "not the leader, a helper in the deal or an admin"},
        409: {"description": "not closed, or confirmed before"},
    },
)
async def confirm_arrival(deal_id: str, request: Request, principal: CurrentPrincipal) -> BagsAnswer:
    """The bags are at the pickup point: from now they are handed out against their codes."""
    async with unit_of_work(request) as uow:
        deal = await group_trips.confirm_arrival(uow, principal, deal_id)
        _, views = (
            await group_buys.bags(uow, principal, deal_id) if group_buys.sees_shares(principal, deal) else (deal, [])
        )
        return bags_answer(deal, views)


@router.post(
    "/group-buys/{deal_id}/bags/{number}/collect",
    responses={
        **CODE_RESPONSES,
        403: {"description": "not the leader, a helper of the bag's resident, or an admin"},
        404: {"description": "no such bag"},
        409: {"description": "collected before (says when), returned to the shop, or not arrived yet"},
    },
)
async def collect(
    deal_id: str, number: int, body: CollectRequest, request: Request, principal: CurrentPrincipal
) -> BagAnswer:
    """Check bag `number` out with its holder's code (typed, or scanned from their QR)."""
    limits = CodeLimits.from_settings(runtime_of(request).settings)
    async with unit_of_work(request) as uow:
        deal, share = await group_buys.check_out(
            uow, principal, deal_id, number, body.code.strip(), limits, cash_fen=body.cash_fen
        )
        return bag_answer(deal, share, await group_buys.bag_name(uow, share))


@router.get(
    "/group-buys/{deal_id}/share/code.svg",
    response_class=Response,
    responses={
        200: {"content": {SVG: {}}, "description": "the QR code of `linli:groupbuy:<deal>:<bag>:<code>`"},
        404: {"description": "no bag waiting with a code that you may see"},
    },
)
async def code_qr(
    deal_id: str,
    request: Request,
    principal: CurrentPrincipal,
    resident: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
) -> Response:
    """The caller's bag code as a QR code (helpers: `?resident=`), for the leader to scan at the pickup point."""
    async with unit_of_work(request, readonly=True) as uow:
        deal = await group_buys.get_deal(uow, deal_id)
        mine = await group_buys.share_of(uow, principal, deal, resident)
    if mine is None or mine.number is None or mine.code is None or mine.bag_state != "waiting":
        raise NotFound(f"you have no bag waiting in group buy {deal_id}")
    return secret_svg(group_buy_payload(deal.id, mine.number, mine.code), title="group buy collection code")
