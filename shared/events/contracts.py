"""Every event Linli publishes, once, for producers and consumers alike.

Changing a field here changes a contract between services: add optional fields freely, and
bump `schema_version` for anything a reader of the old version could not understand.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import Event, register
from shared.events.topics import CATALOG, CIRCLE, DISPATCH, INVENTORY, ORDERS, Topic
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.opening_hours import Closure, Window
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.units import StockUnit


class _OrderEvent(Event):
    topic: ClassVar[Topic] = ORDERS
    order_id: str
    store_id: str

    def key(self) -> str:
        return self.order_id


class _InventoryEvent(_OrderEvent):
    topic: ClassVar[Topic] = INVENTORY


class SubstitutionMode(StrEnum):
    NONE = "none"  # refund the line if it cannot be picked
    BEST_MATCH = "best_match"  # staff choose a similar product
    PRODUCT = "product"  # this named product, and only it


class SubstitutionPreference(Event):
    mode: SubstitutionMode = SubstitutionMode.NONE
    product_id: str | None = Field(default=None, description="for mode 'product': the substitute the shopper named")


class HandlingFlags(Event):
    """What the shop and the rider must know about this resident."""

    call_before_delivery: bool = False
    pay_on_delivery: bool = False


class DeliveryAddress(Event):
    text: str
    lat: float
    lon: float


class OrderedLine(Event):
    line_no: int = Field(ge=1)
    product_id: str
    location_id: str = Field(description="the shop or stall that fulfils this line")
    quantity: int = Field(ge=1, description="pieces ordered")
    unit: StockUnit
    stock_quantity: int = Field(ge=1, description="stock to reserve, in the product's unit")
    unit_price_fen: int = Field(default=0, ge=0, description="per piece, or per kg for weighed goods, when placed")
    estimated_fen: int = Field(default=0, ge=0, description="the line's price as shown at checkout")
    substitution: SubstitutionPreference = SubstitutionPreference()


class DeliverySlot(Event):
    """A time window the shopper chose for the bag to arrive."""

    start: datetime
    end: datetime


PaymentMethod = Literal["balance", "on_delivery"]


@register
class OrderPlaced(_OrderEvent):
    """A shopper (or a helper for a resident) placed an order; inventory should reserve its stock."""

    placed_by: str
    placed_for: str
    fulfilment_mode: FulfilmentMode
    lines: list[OrderedLine] = Field(min_length=1)
    total_fen: int = Field(ge=0)
    flags: HandlingFlags = HandlingFlags()
    note: str | None = None
    address: DeliveryAddress | None = Field(default=None, description="where to deliver (delivery and locker modes)")
    contact_phone: str | None = None
    delivery_code: str | None = Field(default=None, description="the code the shopper gives the rider at the door")
    locker_site_id: str | None = Field(default=None, description="for fulfilment mode 'locker'")
    slot: DeliverySlot | None = Field(default=None, description="a delivery in a chosen time slot; None: now")
    release_at: datetime | None = Field(
        default=None,
        description="for a slot order: when it enters the shop's queue (slot start minus picking "
        "and travel time); until then its stock is held but nobody is asked to accept",
    )
    delivery_fee_fen: int = Field(default=0, ge=0, description="the shop's delivery fee, charged with the goods")
    platform_fee_fen: int = Field(default=0, ge=0, description="Linli's fee; zero in public-interest deployments")
    payment: PaymentMethod = Field(
        default="balance", description="'balance' (prepaid) or 'on_delivery' (cash at the door)"
    )
    promised_at: datetime | None = Field(
        default=None,
        description="a delivery now: the promise the checkout showed (from the shop's latest PromiseQuoted); "
        "dispatch keeps it, or moves it with a reason (DeliveryPromised.reason). None: no promise was shown",
    )


@register
class OrderConfirmed(_OrderEvent):
    """Every line's stock is reserved; the order now waits for the shop to accept it."""


@register
class OrderRejected(_OrderEvent):
    reason: str
    details: dict[str, object] = Field(default_factory=dict)


@register
class OrderAccepted(_OrderEvent):
    """The shop accepted the order: its reservation holds until handover or release."""


@register
class OrderCancelled(_OrderEvent):
    """The shopper or helper cancelled; whatever the order holds must be released."""

    cancelled_by: str
    previous_status: OrderStatus
    reason: str = Field(default="cancelled", description="'cancelled' by the orderer, or e.g. 'no_rider'")


@register
class OrderRated(_OrderEvent):
    """The orderer rated a finished order: the shop, and the rider who carried it (if one did)."""

    shop_stars: int | None = Field(default=None, ge=1, le=5)
    rider_id: str | None = None
    rider_stars: int | None = Field(default=None, ge=1, le=5)
    comment: str | None = Field(default=None, max_length=500)
    by: str


class ApprovalKind(StrEnum):
    WEIGHT = "weight"  # a weighed line came out heavier than the shop's tolerance
    SUBSTITUTION = "substitution"  # a substitute outside the shopper's preference


@register
class ApprovalGiven(_OrderEvent):
    """The shopper (or their helper) answered a question the shop asked while picking."""

    line_no: int
    kind: ApprovalKind
    accepted: bool
    by: str


@register
class PickupChoiceMade(_OrderEvent):
    """The shopper answered dispatch's offer to collect the order instead of waiting for a rider."""

    accepted: bool
    by: str


class ReservedLine(Event):
    line_no: int
    product_id: str
    location_id: str
    quantity: int = Field(ge=1, description="in the product's unit")


class ShortLine(Event):
    product_id: str
    location_id: str | None = None
    requested: int
    available: int
    unit: StockUnit | None = None


class PartDeadline(Event):
    location_id: str = Field(description="the shop, or one stall of a market, that fulfils part of the order")
    accept_deadline: datetime


@register
class StockReserved(_InventoryEvent):
    """All lines reserved at once; each part lapses at its accept deadline unless its shop or stall accepts."""

    lines: list[ReservedLine]
    accept_deadline: datetime = Field(description="the earliest of the parts' deadlines")
    parts: list[PartDeadline] = Field(default_factory=list)


@register
class StockRejected(_InventoryEvent):
    """Nothing was reserved, because these lines could not be (or the shop was closed: see `note`)."""

    reason: str
    short_lines: list[ShortLine]
    note: str | None = Field(default=None, description="what the shopper is told, e.g. when the shop next opens")


@register
class StockReleased(_InventoryEvent):
    """A reservation was given back to available stock."""

    reason: str


@register
class ShopAccepted(_InventoryEvent):
    """Every part still in the order has been accepted: the order is ACCEPTED."""

    accepted_by: str


@register
class ShopRejected(_InventoryEvent):
    """Nothing of the order remains: the shop said no, or let the accept limit pass (`shop_timeout`)."""

    reason: str
    note: str | None = None


@register
class PartAccepted(_InventoryEvent):
    """One shop or stall took on its part of the order."""

    location_id: str
    accepted_by: str


@register
class PartRejected(_InventoryEvent):
    """One stall refused its part (or let it time out); its lines are refunded and the rest goes on."""

    location_id: str
    reason: str
    note: str | None = None
    line_nos: list[int]
    refund_fen: int = Field(ge=0)


@register
class PickingStarted(_InventoryEvent):
    location_id: str
    by: str


class LineOutcome(StrEnum):
    PICKED = "picked"
    OUT_OF_STOCK = "out_of_stock"
    SUBSTITUTED = "substituted"


@register
class LinePicked(_InventoryEvent):
    """A line is in the bag as ordered, or weighed: `price_fen` is now what it costs."""

    line_no: int
    quantity: int = Field(description="in the product's unit: pieces, or grams actually weighed")
    price_fen: int = Field(ge=0)
    estimated_fen: int = Field(ge=0)
    by: str


@register
class LineOutOfStock(_InventoryEvent):
    """The line could not be picked and has no accepted substitute: it is refunded."""

    line_no: int
    refund_fen: int = Field(ge=0)
    by: str


@register
class WeightApprovalRequested(_InventoryEvent):
    """A weighed line came out over the shop's tolerance: the shopper decides, or is charged the estimate."""

    line_no: int
    estimated_quantity: int
    actual_quantity: int
    over_pct: float
    estimated_fen: int
    actual_fen: int
    deadline: datetime


@register
class WeightSettled(_InventoryEvent):
    line_no: int
    approved: bool
    charged_fen: int = Field(ge=0)
    decided_by: str = Field(description="'shopper', or 'timeout' when the estimate was charged")


class SubstituteItem(Event):
    product_id: str
    location_id: str
    name_zh: str
    name_en: str
    unit: StockUnit
    quantity: int = Field(ge=1, description="in the substitute's unit")
    price_fen: int = Field(ge=0)


@register
class SubstitutionProposed(_InventoryEvent):
    """Staff offer a substitute; it is reserved and the original released while it is pending."""

    line_no: int
    substitute: SubstituteItem
    needs_approval: bool
    deadline: datetime | None = None
    by: str


@register
class SubstitutionSettled(_InventoryEvent):
    """Accepted: the substitute is in the bag at `price_fen`. Declined or timed out: the line is refunded."""

    line_no: int
    accepted: bool
    price_fen: int = Field(default=0, ge=0)
    refund_fen: int = Field(default=0, ge=0)
    decided_by: str = Field(description="'rule' (within the preference), 'shopper' or 'timeout'")


class PackedLine(Event):
    line_no: int
    product_id: str
    outcome: LineOutcome
    quantity: int
    price_fen: int = Field(ge=0)


class PickupPoint(Event):
    location_id: str
    name_zh: str
    name_en: str


@register
class PartPacked(_InventoryEvent):
    location_id: str
    bags: int = Field(ge=0)
    weight_g: int = Field(ge=0)
    by: str


@register
class OrderPacked(_InventoryEvent):
    """Every remaining part is packed: the final price, and what the rider or shopper will carry."""

    shown_fen: int = Field(description="the goods' total shown at checkout")
    final_fen: int = Field(description="picked lines at actual weights and accepted substitutes")
    difference_fen: int = Field(description="final minus shown: negative is money back")
    lines: list[PackedLine]
    bags: int = Field(ge=0)
    weight_g: int = Field(ge=0)
    pickup_point: PickupPoint
    flags: HandlingFlags = HandlingFlags()
    handover_code: str = Field(description="shown by the rider or shopper at the counter to take the bag")


class HandoverTo(StrEnum):
    RIDER = "rider"
    SHOPPER = "shopper"


@register
class OrderHandedOver(_InventoryEvent):
    """The bag left the shop with a rider or the shopper; its stock is committed."""

    to: HandoverTo
    by: str
    cash_collected_fen: int | None = Field(
        default=None, ge=0, description="a pay-on-delivery order collected at the counter: the cash the shop took"
    )


class ReturnedLine(Event):
    line_no: int
    restocked: int = Field(ge=0, description="in the product's unit")
    written_off: int = Field(ge=0)
    reason: str = ""


@register
class BagReturned(_InventoryEvent):
    """A bag came back (failed delivery, never collected): each line restocked or written off, all refunded."""

    lines: list[ReturnedLine]
    refund_fen: int = Field(ge=0)
    by: str


@register
class HandoverCodeLockedOut(_InventoryEvent):
    """Too many wrong handover codes at the counter for this order: the counter refuses it until `until`."""

    by: str = Field(description="who entered the wrong codes (the staff member's token)")
    wrong_tries: int = Field(ge=1)
    until: datetime


@register
class LowStock(Event):
    """Available stock fell under the product's threshold."""

    topic: ClassVar[Topic] = INVENTORY
    product_id: str
    location_id: str
    store_id: str
    available: int
    threshold: int

    def key(self) -> str:
        return f"product:{self.product_id}"


class _DispatchEvent(_OrderEvent):
    topic: ClassVar[Topic] = DISPATCH


@register
class DeliveryPromised(_DispatchEvent):
    """When the door will ring: the promise the order was placed with, adopted by dispatch; or set or
    moved by dispatch, with `reason` (no promise at checkout, the load rose since the quote, a slot)."""

    promised_at: datetime
    minutes: int = Field(ge=0)
    reason: str | None = Field(default=None, description="why dispatch set or moved it; None: the checkout's")
    previous_promised_at: datetime | None = Field(default=None, description="the promise it replaces, if moved")


@register
class RiderAssigned(_DispatchEvent):
    """A rider accepted the order (or a dispatcher assigned it); when they should reach shop and door."""

    rider_id: str
    rider_name: str
    vehicle: str
    eta_shop_at: datetime
    eta_door_at: datetime
    assigned_by: str = Field(description="'dispatch' for the rounds, or the dispatcher's id")
    override: str | None = Field(
        default=None, description="a dispatcher's override of a rule, and who made it (e.g. a rider off shift)"
    )


@register
class RiderUnassigned(_DispatchEvent):
    """The rider no longer carries the order: declined, timed out, went silent, fell behind, reassigned."""

    rider_id: str
    reason: str


@register
class RiderAtShop(_DispatchEvent):
    rider_id: str


@register
class DeliveryPickedUp(_DispatchEvent):
    """The rider took the bag with the shop's handover code; inventory commits the stock."""

    rider_id: str
    handover_code: str


@register
class RiderAtDoor(_DispatchEvent):
    rider_id: str


@register
class DeliveryCompleted(_DispatchEvent):
    """Delivered, confirmed by the shopper's delivery code; for pay-on-delivery, the cash the rider took."""

    rider_id: str
    cash_collected_fen: int | None = Field(default=None, ge=0)


@register
class DeliveryFailed(_DispatchEvent):
    """Nobody home (after a call and the set wait): the rider brings the bag back to the shop."""

    rider_id: str
    reason: str


@register
class EtaUpdated(_DispatchEvent):
    eta_door_at: datetime
    late_risk: bool = Field(description="the live ETA is past the promise")


@register
class PickupOffered(_DispatchEvent):
    """No rider took the order in time: the shopper may collect it instead, until `answer_by`."""

    reason: str
    answer_by: datetime


@register
class DeliveryAbandoned(_DispatchEvent):
    """No rider, and the shopper did not switch to pickup: orders cancels with `reason`."""

    reason: str


@register
class LockerReserved(_DispatchEvent):
    site_id: str
    compartment_id: str
    size: str


@register
class LockerDeposited(_DispatchEvent):
    """The bag is in the compartment; `code` opens it (shown to the orderer only)."""

    site_id: str
    compartment_id: str
    code: str
    collect_by: datetime


@register
class LockerCollected(_DispatchEvent):
    site_id: str
    compartment_id: str


@register
class LockerExpired(_DispatchEvent):
    """Not collected in time: the bag goes back to the shop."""

    site_id: str
    compartment_id: str


@register
class CodeLockedOut(_DispatchEvent):
    """Too many wrong codes for this order: dispatch refuses that code until `until`."""

    code: str = Field(description="'handover' (the rider's pickup), 'delivery' (at the door) or 'locker'")
    by: str = Field(description="who entered the wrong codes")
    wrong_tries: int = Field(ge=1)
    until: datetime


class _CatalogEvent(Event):
    topic: ClassVar[Topic] = CATALOG


@register
class LocationUpserted(_CatalogEvent):
    """The latest state of a shop, market or stall."""

    location_id: str
    kind: LocationKind
    parent_id: str | None = None
    category: str
    name_zh: str
    name_en: str
    lat: float
    lon: float
    active: bool = True
    windows: list[Window] | None = Field(default=None, description="weekly opening windows; None means always open")
    closures: list[Closure] = Field(default_factory=list)
    paused: bool = False
    delivery_radius_m: int = Field(default=1500, ge=0)
    picking_minutes: int = Field(default=10, ge=0)
    accept_limit_s: int | None = None
    delivery_fee_fen: int = Field(default=0, ge=0, description="what the shop charges to deliver an order")

    def key(self) -> str:
        return f"location:{self.location_id}"


@register
class StaffRegistryChanged(_CatalogEvent):
    """Who may act for a shop, stall or market now: every subject with a live entry on inventory's staff
    registry (none: any store_staff token naming the location is admitted). The latest per location wins."""

    location_id: str
    subjects: list[str] = Field(description="the identity provider's subjects registered here, sorted")

    def key(self) -> str:
        return f"staff:{self.location_id}"


@register
class ProductUpserted(_CatalogEvent):
    """The latest state of a product; prices are fen per piece, or per kg for weighed goods."""

    product_id: str
    location_id: str
    store_id: str
    name_zh: str
    name_en: str
    category: str
    unit: StockUnit
    price_fen: int = Field(ge=0)
    grams_per_piece: int | None = Field(default=None, ge=1)
    active: bool = True

    def key(self) -> str:
        return f"product:{self.product_id}"


class StockLevel(StrEnum):
    IN_STOCK = "in_stock"
    LOW = "low"  # at or under the product's low-stock threshold
    OUT = "out"


@register
class StockLevelChanged(_CatalogEvent):
    """A product's availability crossed a level: what a shopper searching for it needs to know.

    Published only when the level changes (not on every sale), so the compacted topic stays small.
    """

    product_id: str
    location_id: str
    store_id: str
    level: StockLevel
    available: int = Field(ge=0, description="in the product's unit, when the level changed")

    def key(self) -> str:
        return f"stock:{self.product_id}"


class _CircleEvent(Event):
    topic: ClassVar[Topic] = CIRCLE


@register
class LockerSiteUpdated(_CircleEvent):
    """A locker site and how many compartments of each size are free now (dispatch owns the lockers)."""

    site_id: str
    name: str
    lat: float
    lon: float
    active: bool = True
    free: dict[str, int] = Field(default_factory=dict, description="free compartments by size: S, M, L")

    def key(self) -> str:
        return f"locker:{self.site_id}"


class QuotedPickup(Event):
    vehicle: str
    at_shop_minutes: int = Field(ge=0)


@register
class PromiseQuoted(_CircleEvent):
    """What dispatch would promise for a delivery from this shop now, without the last leg to the door.

    Load-aware: `pickups` are, per vehicle, the earliest a rider on shift (now or within 30 minutes)
    reaches the shop after the open orders ahead. Door time = now + `door_minutes` of
    shared/vocabulary/promise.py: the best pickup's max(ready, at shop) + the ride to the door +
    the handovers + `slack_minutes`. An older quote without `pickups`: max(ready_minutes,
    rider_to_shop_minutes) + the e-bike ride + HANDOVER_MINUTES. Re-published when it changes by a
    minute or more, or when riders come or go.
    """

    location_id: str
    ready_minutes: int = Field(ge=0, description="picking plus the shop's current queue")
    rider_to_shop_minutes: int | None = Field(
        default=None, ge=0, description="the earliest rider at the shop after the orders ahead; None: no rider"
    )
    riders_available: int = Field(ge=0, description="riders on shift now or within 30 minutes")
    quoted_at: datetime
    pickups: list[QuotedPickup] = Field(default_factory=list, description="per vehicle, the earliest rider at the shop")
    slack_minutes: int = Field(default=0, ge=0, description="added to every promise from this quote")
    orders_ahead: int = Field(default=0, ge=0, description="open orders without a rider when quoted")

    def key(self) -> str:
        return f"promise:{self.location_id}"


# Group buying (docs/shopping.md "Group buying"): a leader's deal with one shop, keyed by the deal's
# id so every fact of one deal stays in order on its topic.


class _DealEvent(Event):
    topic: ClassVar[Topic] = ORDERS
    deal_id: str
    store_id: str

    def key(self) -> str:
        return self.deal_id


class _DealStockEvent(_DealEvent):
    topic: ClassVar[Topic] = INVENTORY


class DealLine(Event):
    line_no: int = Field(ge=1)
    product_id: str
    location_id: str = Field(description="the shop or stall that fulfils this line")
    unit: StockUnit
    cap: int = Field(ge=1, description="the most pieces the whole deal may take")
    stock_quantity: int = Field(ge=1, description="the cap in the product's unit: what inventory holds for the deal")
    group_price_fen: int = Field(ge=0, description="per piece, at the group price")


@register
class GroupBuyAccepted(_DealEvent):
    """The shop accepted a leader's deal: inventory holds every line's whole cap, or none of it."""

    leader: str
    accepted_by: str
    lines: list[DealLine] = Field(min_length=1)
    cutoff_at: datetime


@register
class GroupBuyCancelled(_DealEvent):
    """The leader or the shop cancelled before the cutoff: every share refunded; inventory releases the stock."""

    cancelled_by: str
    reason: str


@register
class GroupBuyFailed(_DealEvent):
    """The cutoff came and the deal did not go ahead (its minimum not met, or it never opened): all refunded."""

    reason: str = Field(description="'minimum_not_met' or 'not_opened'")


class DealTotal(Event):
    line_no: int = Field(ge=1)
    product_id: str
    location_id: str
    unit: StockUnit
    quantity: int = Field(ge=1, description="pieces, over every bag")
    stock_quantity: int = Field(ge=1, description="in the product's unit: what the consolidated order keeps held")
    unit_price_fen: int = Field(ge=0, description="the group price per piece")
    estimated_fen: int = Field(ge=0)


class BagItem(Event):
    line_no: int = Field(ge=1)
    product_id: str
    quantity: int = Field(ge=1, description="pieces")
    price_fen: int = Field(ge=0, description="the item's price at the group price (the estimate, if weighed)")
    unit: StockUnit = Field(default=StockUnit.PIECE, description="the product's unit: weighed goods are in g")
    stock_quantity: int | None = Field(
        default=None, ge=1, description="the estimate in the product's unit (grams, if weighed); None: = quantity"
    )


class DealBag(Event):
    """One participant's bag, as the counter labels it."""

    number: int = Field(ge=1, description="the participant's number in the deal, in the order they joined")
    holder: str = Field(description="who the bag is for (a shopper, or the resident a helper joined for)")
    name: str = Field(description="the name on the label: the resident's, or the shopper's id")
    joined_by: str
    items: list[BagItem] = Field(min_length=1)
    goods_fen: int = Field(ge=0)


class DealPickup(Event):
    kind: Literal["place", "locker"]
    name: str
    lat: float
    lon: float
    locker_site_id: str | None = None
    window_start: datetime
    window_end: datetime
    delivered: bool = Field(
        default=False, description="a place dispatch brings the bags to (one trip); else the leader collects"
    )


@register
class GroupBuyClosed(_DealEvent):
    """The cutoff came and the minimum was met: ONE consolidated order for the shop, already accepted.

    `order_id` is the consolidated order inventory creates (the deal's id); `totals` are what it keeps
    held (inventory releases the rest of the cap), `bags` the per-participant packing list.
    """

    order_id: str
    leader: str
    totals: list[DealTotal] = Field(min_length=1)
    bags: list[DealBag] = Field(min_length=1)
    goods_fen: int = Field(ge=0)
    leader_commission_fen: int = Field(default=0, ge=0, description="paid out of the shop's takings")
    pickup: DealPickup


@register
class GroupBuyBagsReturned(_DealEvent):
    """At the pickup window's end, these bags were still uncollected and the deal's rule sends them back to
    the shop: each holder refunded in orders; inventory puts the goods back (on hand, or no longer held)."""

    order_id: str = Field(description="the consolidated order the bags were packed in (the deal's id)")
    bags: list[DealBag] = Field(min_length=1)


@register
class DealStockReserved(_DealStockEvent):
    """Every line's cap is held for the deal: it opens to neighbours."""

    lines: list[ReservedLine]


@register
class DealStockRefused(_DealStockEvent):
    """Nothing was held: these lines' caps exceed what is available (named per line)."""

    reason: str
    short_lines: list[ShortLine]


@register
class DealStockReleased(_DealStockEvent):
    """What the deal held and no bag took went back to available stock (cancelled, failed, or after the cutoff)."""

    reason: str
    released: list[ReservedLine] = Field(default_factory=list, description="per line, the quantity given back")


# The trip that brings a closed deal's bags to its pickup point (docs/shopping.md "Group buying").


class _TripEvent(_DealEvent):
    topic: ClassVar[Topic] = DISPATCH


class TripCompartment(Event):
    number: int = Field(ge=1, description="the bag's number in the deal")
    compartment_id: str
    size: str


@register
class GroupBuyTripPlanned(_TripEvent):
    """Dispatch plans ONE delivery (`order_id` = the deal's id) carrying every bag to the pickup point,
    sized by its bags and weight against the vehicles; for a locker site, one compartment booked per bag.
    Published at the close (sized by the bag count) and again once packed (by bags and weight)."""

    kind: Literal["delivery", "locker"]
    bags: int = Field(ge=1)
    weight_g: int | None = Field(default=None, ge=0, description="None until the counter packed the bags")
    vehicle: str = Field(description="the smallest vehicle that carries the whole trip")
    compartments: list[TripCompartment] = Field(default_factory=list, description="a locker site: one per bag")


@register
class GroupBuyTripRefused(_TripEvent):
    """No one trip can bring the bags (no vehicle carries them all, or the locker site has too few free
    compartments): a trip is never split, so the leader collects at the counter with the deal's code."""

    reason: str
    bags: int = Field(ge=1)
    weight_g: int | None = None


class DepositedBag(Event):
    number: int = Field(ge=1)
    compartment_id: str
    code: str = Field(description="opens the bag's compartment: shown to its holder only")
    collect_by: datetime


@register
class GroupBuyTripAtPickup(_TripEvent):
    """The rider is at the pickup point with every bag (a locker site: each bag in its compartment); the
    leader (a helper, an admin) then confirms their arrival."""

    rider_id: str
    kind: Literal["delivery", "locker"]
    site_id: str | None = None
    deposited: list[DepositedBag] = Field(default_factory=list)


@register
class GroupBuyLockerOpened(_TripEvent):
    """A neighbour (or their helper) opened their bag's compartment with its code: the bag is collected."""

    number: int = Field(ge=1)
    opened_by: str
    compartment_id: str


@register
class GroupBuyArrived(_DealEvent):
    """The leader (a helper with a bag in it, or an admin) confirmed the bags are at the pickup point: the
    trip that brought them is complete."""

    confirmed_by: str


# Packing a closed deal's consolidated order at the counter, one labelled bag per participant.


class PackedBagItem(Event):
    line_no: int = Field(ge=1)
    product_id: str = Field(description="the product in the bag for this line")
    outcome: LineOutcome
    pieces: int = Field(ge=1, description="as the participant joined for")
    quantity: int = Field(ge=0, description="in the bag, in the product's unit (grams if weighed); 0: not filled")
    estimated_fen: int = Field(ge=0, description="what the participant paid for it at the group price")
    price_fen: int = Field(ge=0, description="what it comes to: the actual weight's price, 0 when not filled")


@register
class GroupBuyBagPacked(_DealStockEvent):
    """The counter packed one participant's bag of the consolidated order: each line as it came out (filled,
    weighed, or not filled: refunded at the price paid). Orders settles the share's ledger to `goods_fen`."""

    order_id: str = Field(description="the consolidated order (the deal's id)")
    number: int = Field(ge=1, description="the participant's number in the deal, on the label")
    holder: str
    items: list[PackedBagItem] = Field(min_length=1)
    estimated_fen: int = Field(ge=0, description="the bag's goods as paid at joining")
    goods_fen: int = Field(ge=0, description="the bag's goods as packed: the share is settled to this")
    weight_g: int = Field(ge=0)
    by: str
