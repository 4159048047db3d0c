"""Group buying: a leader's deal with one shop, and the neighbours' shares in it (docs/shopping.md).

A `GroupBuy` moves only along `MOVES`: proposed by a leader, accepted (or declined) by the shop,
open once inventory holds its whole cap, then at the cutoff closed (its minimum met: one
consolidated order) or failed (everyone refunded); the leader or the shop may cancel it before
the cutoff. A `Share` is one person's pieces of the deal, paid at the group price; joining is
decided here against the remaining cap, so a deal is never sold past what inventory holds.
Nothing here reads or writes a database.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal

from services.orders.domain.ledger import Account, Kind, Posting
from shared.errors import Conflict, Invalid, NotFound, WrongCode
from shared.vocabulary import geo
from shared.vocabulary.money import divide_half_up, format_yuan
from shared.vocabulary.units import StockUnit, line_price, stock_quantity


class DealStatus(StrEnum):
    PROPOSED = "proposed"  # the leader opened it; the shop has not answered
    ACCEPTED = "accepted"  # the shop said yes; inventory is holding the caps
    OPEN = "open"  # the caps are held: neighbours join until the cutoff
    CLOSED = "closed"  # the cutoff came with the minimum met: the consolidated order went to the shop
    FAILED = "failed"  # the cutoff came without the minimum (or before it opened): everyone refunded
    DECLINED = "declined"  # the shop said no, or its stock could not cover the caps
    CANCELLED = "cancelled"  # the leader or the shop called it off before the cutoff


D = DealStatus

MOVES: Mapping[DealStatus, frozenset[DealStatus]] = {
    D.PROPOSED: frozenset({D.ACCEPTED, D.DECLINED, D.CANCELLED, D.FAILED}),
    D.ACCEPTED: frozenset({D.OPEN, D.DECLINED, D.CANCELLED, D.FAILED}),
    D.OPEN: frozenset({D.CLOSED, D.FAILED, D.CANCELLED}),
    D.CLOSED: frozenset(),
    D.FAILED: frozenset(),
    D.DECLINED: frozenset(),
    D.CANCELLED: frozenset(),
}
ENDED = frozenset(s for s, targets in MOVES.items() if not targets)


class ShareStatus(StrEnum):
    JOINED = "joined"
    LEFT = "left"  # the neighbour left before the cutoff, refunded at once
    REFUNDED = "refunded"  # the deal was cancelled or failed
    RETURNED = "returned"  # its bag went uncollected to the window's end: back to the shop, refunded


BagState = Literal["waiting", "collected", "returned"]
SharePayment = Literal["balance", "cash_at_pickup"]


def new_code() -> str:
    """A bag's collection code: six digits, like the pickup code."""
    return f"{secrets.randbelow(1_000_000):06d}"


MinimumKind = Literal["participants", "pieces"]
Uncollected = Literal["return_refund", "second_window"]
MAX_COMMISSION_BP = 2_000  # 20 %: more than that is not a neighbour's favour any more


@dataclass(frozen=True)
class DealItem:
    """A product of the deal at its group price, with the per-person limit and the shop's cap, in pieces."""

    line_no: int
    product_id: str
    location_id: str
    name_zh: str
    name_en: str
    unit: str
    shelf_price_fen: int
    group_price_fen: int
    per_person_limit: int
    cap: int
    grams_per_piece: int | None = None  # weighed goods: the estimate per piece; the group price is per kg

    @property
    def weighed(self) -> bool:
        return self.unit == StockUnit.GRAM.value

    def stock_quantity(self, pieces: int) -> int:
        """What `pieces` of this item are in its unit (grams estimated, for weighed goods)."""
        return stock_quantity(StockUnit(self.unit), pieces, self.grams_per_piece) if pieces else 0

    def price_fen(self, pieces: int) -> int:
        """`pieces` at the group price: for weighed goods their estimate, settled per bag once weighed."""
        return line_price(StockUnit(self.unit), self.group_price_fen, self.stock_quantity(pieces)) if pieces else 0


@dataclass(frozen=True)
class PickupPoint:
    """Where the bags are handed out: a named place in the circle, or a locker site."""

    kind: Literal["place", "locker"]
    name: str
    point: geo.Point
    locker_site_id: str | None = None
    delivered: bool = False  # a place dispatch brings the bags to in one trip; else the leader collects


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def check_pickup_in_circle(shop: geo.Point, pickup: PickupPoint) -> None:
    minutes = geo.walking_minutes(shop, pickup.point)
    if minutes > geo.CIRCLE_WALK_MINUTES:
        raise Invalid(
            f"the pickup point {pickup.name!r} is a {minutes}-minute walk from the shop; it must be inside "
            f"the shop's {geo.CIRCLE_WALK_MINUTES}-minute circle"
        )


def check_times(
    now: datetime, cutoff_at: datetime, window: Window, uncollected: Uncollected, second: Window | None
) -> None:
    if cutoff_at <= now:
        raise Invalid(f"the cutoff {cutoff_at.isoformat()} has already passed; choose a time ahead")
    if window.end <= cutoff_at:
        raise Invalid(
            f"the pickup window ends at {window.end.isoformat()}, not after the cutoff {cutoff_at.isoformat()}; "
            "neighbours collect after the deal closes"
        )
    if window.start < cutoff_at:
        raise Invalid("the pickup window starts before the cutoff; bags exist only once the deal closes")
    if window.end <= window.start:
        raise Invalid("the pickup window ends before it starts")
    if uncollected == "second_window":
        if second is None:
            raise Invalid("the rule 'second_window' needs the second pickup window")
        if second.start < window.end or second.end <= second.start:
            raise Invalid("the second pickup window starts after the first ends, and ends after it starts")
    elif second is not None:
        raise Invalid("a second pickup window goes with the rule 'second_window' only")


@dataclass(frozen=True)
class DealTerms:
    """What a leader sets when opening a deal, and what neighbours see before joining."""

    title: str
    items: list[DealItem]
    minimum_kind: MinimumKind
    minimum: int
    cutoff_at: datetime
    pickup: PickupPoint
    window: Window
    uncollected: Uncollected
    second_window: Window | None = None
    platform_fee_fen: int = 0
    commission_bp: int = 0
    cash_allowed: bool = False


@dataclass
class Share:
    """One person's part of a deal: their pieces per line, what they paid, and its ledger's entries."""

    deal_id: str
    holder: str  # who it is for: the shopper, or the resident a helper joined for
    joined_by: str
    status: ShareStatus
    pieces: dict[int, int]  # line_no -> pieces
    joined_at: datetime
    updated_at: datetime
    postings: list[Posting] = field(default_factory=list)
    number: int | None = None  # the participant's number, given at the close
    code: str | None = None  # the bag's collection code, given at the close
    collected_at: datetime | None = None
    collected_by: str | None = None
    returned_at: datetime | None = None  # uncollected at the window's end: back to the shop
    payment: SharePayment = "balance"
    packed_fen: int | None = None  # the bag's goods as the counter packed them (GroupBuyBagPacked)
    packed: list[dict[str, object]] = field(default_factory=list)  # its lines as packed
    cash_fen: int | None = None  # cash at pickup: what was taken for the bag
    cash_by: str | None = None  # who took it (the leader, a helper or an admin handing the bag out)
    cash_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is ShareStatus.JOINED

    @property
    def bag_state(self) -> BagState:
        if self.collected_at is not None:
            return "collected"
        return "returned" if self.status is ShareStatus.RETURNED else "waiting"

    @property
    def charged_fen(self) -> int:
        """What the share has taken from the balance so far (paid + extra − refunded); cash never counts."""
        return -sum(p.amount_fen for p in self.postings if p.account is Account.BALANCE)


@dataclass(frozen=True)
class ShareMoney:
    """A share's money as its holder reads it; `reconciles` is the same promise an order's ledger makes:
    from the balance, paid + extra − refunded = due; in cash at pickup, the balance untouched and the cash
    taken = due once the bag is handed over (nothing before)."""

    goods_fen: int
    platform_fee_fen: int
    paid_fen: int
    refund_fen: int
    extra_charged_fen: int = 0
    payment: SharePayment = "balance"
    cash_fen: int | None = None
    handed_over: bool = False

    @property
    def due_fen(self) -> int:
        return self.goods_fen + self.platform_fee_fen

    @property
    def reconciles(self) -> bool:
        if self.payment == "balance":
            return self.paid_fen + self.extra_charged_fen - self.refund_fen == self.due_fen
        if self.paid_fen or self.refund_fen or self.extra_charged_fen:
            return False  # cash at pickup never touches the balance
        return self.cash_fen == self.due_fen if self.handed_over else self.cash_fen is None


@dataclass(frozen=True)
class Totals:
    """The deal's money: goods over every joined share, the leader's commission out of the shop's takings."""

    participants: int
    pieces: dict[int, int]
    goods_fen: int
    platform_fee_fen: int
    leader_commission_fen: int

    @property
    def shop_takings_fen(self) -> int:
        return self.goods_fen - self.leader_commission_fen


@dataclass(frozen=True)
class BagMoney:
    """One bag's part of the deal's money: the deal's goods, commission and takings are the sums of these."""

    number: int | None
    holder: str
    goods_fen: int
    leader_commission_fen: int

    @property
    def shop_takings_fen(self) -> int:
        return self.goods_fen - self.leader_commission_fen


def allocate(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights`, to the fen, summing to `total` exactly (largest remainder)."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda k: (-(total * weights[k] % whole), k))
    for k in order[: total - sum(shares)]:
        shares[k] += 1
    return shares


@dataclass
class GroupBuy:
    id: str
    store_id: str
    leader: str
    title: str
    status: DealStatus
    items: list[DealItem]
    minimum_kind: MinimumKind
    minimum: int
    cutoff_at: datetime
    pickup: PickupPoint
    window: Window
    uncollected: Uncollected
    second_window: Window | None
    created_at: datetime
    platform_fee_fen: int = 0  # per share, from the settings when opened
    commission_bp: int = 0  # the leader's commission, in basis points of the goods
    cash_allowed: bool = False
    reason: str | None = None  # why it was declined, cancelled or failed
    details: dict[str, object] = field(default_factory=dict)
    decided_by: str | None = None
    shares: dict[str, Share] = field(default_factory=dict)
    arrived_at: datetime | None = None  # the bags are at the pickup point (confirmed by the leader, ...)
    arrived_by: str | None = None
    pickup_ends_at: datetime | None = None  # the current window's end, from the close
    second_window_used: bool = False
    version: int = 0

    @classmethod
    def propose(
        cls, *, id: str, store_id: str, leader: str, terms: DealTerms, shop: geo.Point, now: datetime
    ) -> GroupBuy:
        """A leader's deal as proposed to the shop, every rule checked; nothing is stored when one refuses."""
        items, minimum, minimum_kind = terms.items, terms.minimum, terms.minimum_kind
        if not items:
            raise Invalid("a deal has at least one product")
        if len({i.product_id for i in items}) != len(items):
            raise Invalid("each product appears once in a deal")
        for item in items:
            if item.weighed and not (item.grams_per_piece or 0) > 0:
                raise Invalid(f"{item.name_en} is sold by weight but has no estimated weight per piece to price it")
            if not 1 <= item.per_person_limit <= item.cap:
                raise Invalid(
                    f"{item.name_en}: the per-person limit ({item.per_person_limit}) is between 1 and the cap "
                    f"({item.cap})"
                )
            if item.group_price_fen > item.shelf_price_fen:
                raise Invalid(
                    f"{item.name_en}: the group price {format_yuan(item.group_price_fen)} is above the shelf "
                    f"price {format_yuan(item.shelf_price_fen)}"
                )
        if minimum < 1:
            raise Invalid("the minimum is at least 1")
        if minimum_kind == "pieces" and minimum > sum(i.cap for i in items):
            raise Invalid(f"a minimum of {minimum} pieces can never be met under caps of {sum(i.cap for i in items)}")
        if not 0 <= terms.commission_bp <= MAX_COMMISSION_BP:
            raise Invalid(f"the leader's commission is between 0 and {MAX_COMMISSION_BP / 100:g} %")
        check_times(now, terms.cutoff_at, terms.window, terms.uncollected, terms.second_window)
        check_pickup_in_circle(shop, terms.pickup)
        return cls(
            id=id,
            store_id=store_id,
            leader=leader,
            title=terms.title,
            status=D.PROPOSED,
            items=list(items),
            minimum_kind=minimum_kind,
            minimum=minimum,
            cutoff_at=terms.cutoff_at,
            pickup=terms.pickup,
            window=terms.window,
            uncollected=terms.uncollected,
            second_window=terms.second_window,
            created_at=now,
            platform_fee_fen=terms.platform_fee_fen,
            commission_bp=terms.commission_bp,
            cash_allowed=terms.cash_allowed,
        )

    # --- the deal's life -------------------------------------------------------------------

    def move(self, target: DealStatus) -> None:
        if target not in MOVES[self.status]:
            raise Conflict(f"the deal is {self.status.value} and cannot become {target.value}")
        self.status = target

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    def accept(self, by: str) -> None:
        if self.status is not D.PROPOSED:
            raise Conflict(f"the deal is {self.status.value}; only a proposed deal is accepted")
        self.move(D.ACCEPTED)
        self.decided_by = by

    def decline(self, by: str, reason: str, details: Mapping[str, object] | None = None) -> None:
        self.move(D.DECLINED)
        self.decided_by, self.reason, self.details = by, reason, dict(details or {})

    def open(self) -> bool:
        """The caps are held; False when the deal moved on meanwhile (cancelled, past its cutoff)."""
        if self.status is not D.ACCEPTED:
            return False
        self.move(D.OPEN)
        return True

    def cancel(self, by: str, reason: str, now: datetime) -> list[Share]:
        """Called off before the cutoff; returns the shares to refund."""
        if now >= self.cutoff_at:
            raise Conflict("the cutoff has passed; a deal is cancelled only before its cutoff")
        self.move(D.CANCELLED)
        self.decided_by, self.reason = by, reason
        return self._refund_all()

    def minimum_met(self) -> bool:
        totals = self.totals()
        reached = totals.participants if self.minimum_kind == "participants" else sum(totals.pieces.values())
        return reached >= self.minimum

    def cut_off(self, codes: Callable[[], str] = new_code) -> list[Share]:
        """The cutoff: closed when open and the minimum met (numbers given in joining order, each bag its
        collection code, the pickup window's end the deadline), else failed; returns the shares to refund
        (none when it closed)."""
        if self.status is D.OPEN and self.minimum_met():
            self.move(D.CLOSED)
            for n, share in enumerate(self.joined(), start=1):
                share.number, share.code = n, codes()
            self.pickup_ends_at = self.window.end
            return []
        self.reason = "minimum_not_met" if self.status is D.OPEN else "not_opened"
        self.move(D.FAILED)
        return self._refund_all()

    def _refund_all(self) -> list[Share]:
        refunded = self.joined()
        for share in refunded:
            share.status = ShareStatus.REFUNDED
        return refunded

    # --- joining ---------------------------------------------------------------------------

    def joined(self) -> list[Share]:
        return sorted((s for s in self.shares.values() if s.active), key=lambda s: (s.joined_at, s.holder))

    def taken(self, *, besides: str | None = None) -> dict[int, int]:
        """Pieces per line over every joined share (but `besides`'s)."""
        taken = {i.line_no: 0 for i in self.items}
        for share in self.joined():
            if share.holder != besides:
                for line_no, n in share.pieces.items():
                    taken[line_no] += n
        return taken

    def remaining(self) -> dict[int, int]:
        taken = self.taken()
        return {i.line_no: i.cap - taken[i.line_no] for i in self.items}

    def item(self, product_id: str) -> DealItem:
        for item in self.items:
            if item.product_id == product_id:
                return item
        raise Invalid(f"{product_id} is not in this deal; it offers {', '.join(i.product_id for i in self.items)}")

    def goods_fen(self, pieces: Mapping[int, int]) -> int:
        """The goods of `pieces` at the group price, as paid at joining (weighed goods at their estimate)."""
        items = {i.line_no: i for i in self.items}
        return sum(items[ln].price_fen(n) for ln, n in pieces.items())

    def due_fen(self, pieces: Mapping[int, int]) -> int:
        return self.goods_fen(pieces) + (self.platform_fee_fen if any(pieces.values()) else 0)

    def require_open(self, now: datetime) -> None:
        if now >= self.cutoff_at:
            raise Conflict(f"the deal closed to joining at its cutoff, {self.cutoff_at.isoformat()}")
        if self.status is not D.OPEN:
            waiting = " (it is not open to neighbours yet)" if self.status in (D.PROPOSED, D.ACCEPTED) else ""
            raise Conflict(f"the deal is {self.status.value}{waiting}; only an open deal can be joined or changed")

    def wanted(self, wanted: Iterable[tuple[str, int]]) -> dict[int, int]:
        pieces: dict[int, int] = {}
        for product_id, quantity in wanted:
            item = self.item(product_id)
            if quantity < 1:
                raise Invalid(f"{item.name_en}: at least one piece")
            pieces[item.line_no] = pieces.get(item.line_no, 0) + quantity
        if not pieces:
            raise Invalid("a share has at least one product; to leave, leave the deal")
        return pieces

    def set_share(
        self,
        holder: str,
        by: str,
        wanted: Iterable[tuple[str, int]],
        now: datetime,
        payment: SharePayment = "balance",
    ) -> Share:
        """Join, or change a share: within each product's per-person limit and what the cap has left."""
        self.require_open(now)
        if payment == "cash_at_pickup" and not self.cash_allowed:
            raise Invalid("this deal is paid from the prepaid balance; its leader did not allow cash at pickup")
        current = self.shares.get(holder)
        if current is not None and current.active and current.payment != payment:
            raise Conflict(
                f"this share is paid {current.payment.replace('_', ' ')}; to pay another way, leave and join again"
            )
        pieces = self.wanted(wanted)
        taken = self.taken(besides=holder)
        for item in self.items:
            n = pieces.get(item.line_no, 0)
            if n > item.per_person_limit:
                raise Conflict(f"{item.name_en}: at most {item.per_person_limit} per person in this deal; asked {n}")
            left = item.cap - taken[item.line_no]
            if n > left:
                raise Conflict(
                    f"{item.name_en}: only {max(left, 0)} left of the deal's {item.cap}; asked {n}", remaining=left
                )
        share = self.shares.get(holder)
        if share is None:
            share = Share(self.id, holder, by, ShareStatus.JOINED, pieces, now, now, payment=payment)
            self.shares[holder] = share
        elif not share.active:  # back after leaving: a new place in the queue, the same ledger
            share.payment = payment
            share.status, share.joined_by, share.pieces, share.joined_at, share.updated_at = (
                ShareStatus.JOINED,
                by,
                pieces,
                now,
                now,
            )
        else:
            share.pieces, share.updated_at = pieces, now
        return share

    def leave(self, holder: str, now: datetime) -> Share:
        self.require_open(now)
        share = self.shares.get(holder)
        if share is None or not share.active:
            raise Conflict(f"{holder} has no share in this deal to leave")
        share.status, share.updated_at = ShareStatus.LEFT, now
        return share

    # --- collection ------------------------------------------------------------------------

    def bags(self) -> list[Share]:
        """Every bag of the closed deal, by number: waiting, collected or returned."""
        return sorted((s for s in self.shares.values() if s.number is not None), key=lambda s: s.number or 0)

    def bag(self, number: int) -> Share:
        for share in self.bags():
            if share.number == number:
                return share
        raise NotFound(
            f"the deal has no bag {number}" + (f"; its bags are 1 to {len(self.bags())}" if self.bags() else "")
        )

    def confirm_arrival(self, by: str, now: datetime) -> None:
        if self.status is not D.CLOSED:
            raise Conflict(f"the deal is {self.status.value}; bags arrive only for a closed deal")
        if self.arrived_at is not None:
            raise Conflict(f"the bags' arrival was confirmed at {self.arrived_at.isoformat()} by {self.arrived_by}")
        self.arrived_at, self.arrived_by = now, by

    def check_out(self, number: int, code: str, by: str, now: datetime, cash_fen: int | None = None) -> Share:
        """Hand bag `number` over against its collection code: once, after arrival, before it went back. A bag
        paid in cash at pickup is handed over only against its due, in cash, recorded with who took it."""
        share = self.bag(number)
        self.check_cash(share, cash_fen)
        if share.code is None or not secrets.compare_digest(code, share.code):
            raise WrongCode(f"that is not bag {number}'s collection code")
        if share.collected_at is not None:
            raise Conflict(
                f"bag {number} was collected at {share.collected_at.isoformat()}; a code is used once",
                collected_at=share.collected_at.isoformat(),
            )
        if share.status is ShareStatus.RETURNED:
            raise Conflict(
                f"bag {number} went back to the shop at {(share.returned_at or now).isoformat()}, uncollected; "
                "it was refunded"
            )
        if self.arrived_at is None:
            raise Conflict("the bags have not arrived at the pickup point yet: confirm their arrival first")
        share.collected_at, share.collected_by, share.updated_at = now, by, now
        if share.payment == "cash_at_pickup":
            share.cash_fen, share.cash_by, share.cash_at = cash_fen, by, now
        return share

    def check_cash(self, share: Share, cash_fen: int | None) -> None:
        due = self.share_due_fen(share)
        if share.payment != "cash_at_pickup":
            if cash_fen is not None:
                raise Invalid(f"bag {share.number} was paid from the balance; take no cash for it")
            return
        if cash_fen is None:
            raise Invalid(f"bag {share.number} is paid in cash at pickup: take {format_yuan(due)} and send cash_fen")
        if cash_fen != due:
            raise Invalid(
                f"bag {share.number} comes to {format_yuan(due)} in cash; {format_yuan(cash_fen)} was entered"
            )

    def bag_packed(self, number: int, goods_fen: int, items: list[dict[str, object]]) -> Share | None:
        """The counter packed bag `number`: its share is due what the bag came to. None: known already, or the
        share is no longer in the deal (nothing to settle)."""
        if self.status is not D.CLOSED:
            return None
        share = self.bag(number)
        if share.packed_fen is not None or not share.active:
            return None
        share.packed_fen, share.packed = goods_fen, items
        return share

    def end_pickup(self, now: datetime) -> tuple[list[Share], Window | None]:
        """The pickup window ended: the uncollected bags follow the deal's rule. Returns the bags that went
        back to the shop (refund them), or the second window that began (once), for the next deadline."""
        if self.status is not D.CLOSED:
            return [], None
        waiting = [s for s in self.bags() if s.bag_state == "waiting"]
        if not waiting:
            return [], None
        if self.uncollected == "second_window" and self.second_window and not self.second_window_used:
            self.second_window_used = True
            self.pickup_ends_at = self.second_window.end
            return [], self.second_window
        for share in waiting:
            share.status, share.returned_at, share.updated_at = ShareStatus.RETURNED, now, now
        return waiting, None

    # --- money -----------------------------------------------------------------------------

    def share_goods_fen(self, share: Share) -> int:
        """The share's goods: as packed once the counter packed its bag, else as paid at joining."""
        if not share.active:
            return 0
        return share.packed_fen if share.packed_fen is not None else self.goods_fen(share.pieces)

    def share_due_fen(self, share: Share) -> int:
        if not share.active:
            return 0
        return self.share_goods_fen(share) + (self.platform_fee_fen if any(share.pieces.values()) else 0)

    def money_of(self, share: Share) -> ShareMoney:
        goods = self.share_goods_fen(share)
        return ShareMoney(
            goods_fen=goods,
            platform_fee_fen=self.share_due_fen(share) - goods,
            paid_fen=-sum(p.amount_fen for p in share.postings if p.kind is Kind.PAID),
            refund_fen=sum(p.amount_fen for p in share.postings if p.kind is Kind.REFUND),
            extra_charged_fen=-sum(p.amount_fen for p in share.postings if p.kind is Kind.EXTRA_CHARGE),
            payment=share.payment,
            cash_fen=sum(p.amount_fen for p in share.postings if p.kind is Kind.CASH_COLLECTED) or share.cash_fen,
            handed_over=share.collected_at is not None,
        )

    def bag_money(self) -> list[BagMoney]:
        """Each joined share's (bag's) goods and its part of the leader's commission, by number: the deal's
        commission (rate × goods, halves up) allocated to the fen, so the bags sum to the deal exactly."""
        joined = sorted(self.joined(), key=lambda s: (s.number or 0, s.joined_at, s.holder))
        goods = [self.share_goods_fen(s) for s in joined]
        commission = divide_half_up(sum(goods) * self.commission_bp, 10_000)
        return [
            BagMoney(s.number, s.holder, g, c)
            for s, g, c in zip(joined, goods, allocate(commission, goods), strict=True)
        ]

    def totals(self) -> Totals:
        joined = self.joined()
        bags = self.bag_money()
        goods = sum(b.goods_fen for b in bags)
        return Totals(
            participants=len(joined),
            pieces=self.taken(),
            goods_fen=goods,
            platform_fee_fen=sum(self.share_due_fen(s) for s in joined) - goods,
            leader_commission_fen=sum(b.leader_commission_fen for b in bags),
        )


def settle_share(deal: GroupBuy, share: Share) -> list[Posting]:
    """The posting that brings the share's charge to what it is due now (joined, changed, left, refunded, its
    bag packed); a share paid in cash at pickup never touches the balance."""
    if share.payment == "cash_at_pickup":
        return []
    difference = share.charged_fen - deal.share_due_fen(share)
    if difference > 0:
        return [Posting(Kind.REFUND, difference, note=f"{format_yuan(difference)} back from group buy {deal.title}")]
    if difference < 0 and share.packed_fen is not None:
        return [
            Posting(
                Kind.EXTRA_CHARGE,
                difference,
                note=f"{format_yuan(-difference)} more: bag {share.number} of group buy {deal.title} weighed heavier",
            )
        ]
    if difference < 0:
        return [Posting(Kind.PAID, difference, note=f"paid {format_yuan(-difference)} for group buy {deal.title}")]
    return []


def cash_taken(deal: GroupBuy, share: Share) -> list[Posting]:
    """Cash at pickup: what the hander took for the bag, once, on the deal's ledger (never the balance)."""
    if share.payment != "cash_at_pickup" or share.cash_fen is None:
        return []
    if any(p.kind is Kind.CASH_COLLECTED for p in share.postings):
        return []
    return [
        Posting(
            Kind.CASH_COLLECTED,
            share.cash_fen,
            Account.CASH,
            note=f"{format_yuan(share.cash_fen)} in cash for bag {share.number} of group buy {deal.title}, "
            f"taken by {share.cash_by}",
        )
    ]
