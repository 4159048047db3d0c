"""Help, reorder and rating rules without a database: who may act for whom, what a reorder offers."""

from typing import Any

import pytest

from services.orders.domain.basket import CatalogLocation, CatalogProduct, Wanted, price_basket
from services.orders.domain.fulfilment_choice import Fulfilment
from services.orders.domain.helpers import (
    RESIDENT_PREFIX,
    HelpedBy,
    Resident,
    may_act_for,
    merged_flags,
    new_resident_id,
)
from services.orders.domain.lines import SubstitutionChoice, SubstitutionMode
from services.orders.domain.order import Order
from services.orders.domain.rating import RatingInvalid, check_stars, why_not_rateable
from services.orders.entrypoints.answers import ReorderAnswer
from services.orders.service_layer.reorder import Reorder, reorder_body
from shared.errors import Invalid
from shared.events.contracts import HandlingFlags
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.unit.orders.conftest import placed

HELPS_ZHOU = HelpedBy(residents=frozenset({"res-zhou"}), shoppers=frozenset({"dad"}))


@pytest.mark.parametrize(
    ("role", "subject", "holder", "helped", "allowed"),
    [
        (Role.HELPER, "li", "res-zhou", HELPS_ZHOU, True),  # a resident she registered
        (Role.HELPER, "li", "dad", HELPS_ZHOU, True),  # a shopper who named her
        (Role.HELPER, "li", "res-wang", HELPS_ZHOU, False),  # another helper's resident
        (Role.SHOPPER, "dad", "dad", HelpedBy(), True),
        (Role.SHOPPER, "dad", "res-zhou", HELPS_ZHOU, False),  # a shopper never acts for others
        (Role.ADMIN, "desk", "res-zhou", HelpedBy(), True),
        (Role.STORE_STAFF, "fishmonger", "res-zhou", HELPS_ZHOU, False),
    ],
)
def test_who_may_act_for_whom(role: Role, subject: str, holder: str, helped: HelpedBy, allowed: bool) -> None:
    assert may_act_for(role, subject, holder, helped) is allowed


def test_a_residents_call_first_cannot_be_switched_off_by_an_order() -> None:
    flags = merged_flags(
        HandlingFlags(call_before_delivery=False, pay_on_delivery=False),
        HandlingFlags(call_before_delivery=True, pay_on_delivery=False),
    )
    assert flags == HandlingFlags(call_before_delivery=True, pay_on_delivery=False)
    assert merged_flags(HandlingFlags(pay_on_delivery=True), HandlingFlags()) == HandlingFlags(
        call_before_delivery=False, pay_on_delivery=True
    )


def test_resident_ids_are_recognisable_and_distinct() -> None:
    ids = {new_resident_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith(RESIDENT_PREFIX) for i in ids)


def test_a_resident_changes_only_editable_fields() -> None:
    zhou = Resident("res-zhou", "li", "Zhou Ayi")
    zhou.change({"phone": "+86 139 0000 0000", "call_before_delivery": True})
    assert zhou.flags == HandlingFlags(call_before_delivery=True, pay_on_delivery=False)
    with pytest.raises(Invalid, match="helper cannot be changed"):
        zhou.change({"helper": "someone-else"})


# --- reorder -------------------------------------------------------------------------------


def reordered(r: Reorder) -> dict[str, Any]:
    """The reorder as GET /orders/{id}/reorder answers it."""
    return ReorderAnswer.of(r).model_dump(mode="json")


SHOP = CatalogLocation("shop", "shop", None, "小店", "Shop", True)


def product(
    pid: str,
    price: int,
    *,
    active: bool = True,
    store: str = "shop",
    unit: StockUnit = StockUnit.PIECE,
    grams: int | None = None,
) -> CatalogProduct:
    return CatalogProduct(pid, store, store, pid, pid.title(), unit, price, grams, active)


THEN = {
    p.product_id: p
    for p in (
        product("tofu", 300),
        product("milk", 600),
        product("eggs", 1200),
        product("soy", 500),
        product("carp", 1800, unit=StockUnit.GRAM, grams=600),
    )
}


def past_order() -> Order:
    wanted = [
        Wanted("tofu", 2, SubstitutionChoice(SubstitutionMode.PRODUCT, "soy")),
        Wanted("milk", 1),
        Wanted("eggs", 1),
        Wanted("carp", 1),
    ]
    lines = price_basket(SHOP, "shop", wanted, THEN)
    order = placed(
        store_id="shop",
        placed_by="li",
        placed_for="res-zhou",
        fulfilment=Fulfilment.from_dict(
            {
                "mode": "delivery",
                "address": {"text": "3-2-401", "lat": 32.0, "lon": 118.0},
                "slot": {"start": "2026-11-22T09:00:00+08:00", "end": "2026-11-22T09:30:00+08:00"},
            }
        ),
        lines=lines,
        note="knock loudly",
    )
    order.status = OrderStatus.DELIVERED
    return order


def test_reorder_offers_todays_prices_and_says_what_changed() -> None:
    today = {
        **THEN,
        "milk": product("milk", 650),
        "eggs": product("eggs", 1200, active=False),
        "soy": product("soy", 500, active=False),
    }
    body = reordered(reorder_body(past_order(), today, {"carp": "out"}, {}, on_behalf_of="res-zhou"))
    assert body["store_id"] == "shop"
    assert body["on_behalf_of"] == "res-zhou"
    assert body["note"] == "knock loudly"
    assert body["fulfilment"] == {"mode": "delivery", "address": {"text": "3-2-401", "lat": 32.0, "lon": 118.0}}
    assert [(ln["product_id"], ln["quantity"]) for ln in body["lines"]] == [("tofu", 2), ("milk", 1)]
    # the named substitute is no longer sold, so no substitute is set rather than a refused basket
    assert body["lines"][0]["substitution"] == {"mode": "none", "product_id": None}
    kinds = {(c["kind"], c["product_id"]) for c in body["changes"]}
    assert kinds == {("price_changed", "milk"), ("gone", "eggs"), ("out_of_stock", "carp"), ("substitute_gone", "tofu")}
    milk = next(c for c in body["changes"] if c["kind"] == "price_changed")
    assert (milk["was_fen"], milk["now_fen"]) == (600, 650)


def test_reorder_uses_the_remembered_substitution_over_the_past_lines() -> None:
    memory = {"milk": SubstitutionChoice(SubstitutionMode.BEST_MATCH)}
    body = reordered(reorder_body(past_order(), THEN, {}, memory, on_behalf_of=None))
    subs = {ln["product_id"]: ln["substitution"] for ln in body["lines"]}
    assert subs["milk"] == {"mode": "best_match", "product_id": None}
    assert subs["tofu"] == {"mode": "product", "product_id": "soy"}
    assert body["changes"] == []
    assert "on_behalf_of" not in body


# --- rating --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (OrderStatus.DELIVERED, None),
        (OrderStatus.COLLECTED, None),
        (OrderStatus.OUT_FOR_DELIVERY, "once it is delivered or collected"),
        (OrderStatus.IN_LOCKER, "once you have taken it out"),
        (OrderStatus.READY_FOR_PICKUP, "once you have collected it"),
        (OrderStatus.CANCELLED, "only an order that was handed over"),
    ],
)
def test_an_order_is_rated_once_handed_over(status: OrderStatus, says: str | None) -> None:
    order = past_order()
    order.status = status
    why = why_not_rateable(order)
    assert (why is None) if says is None else (why is not None and says in why)


def test_rider_stars_only_when_a_rider_carried_it() -> None:
    order = past_order()
    with pytest.raises(RatingInvalid, match="no rider carried"):
        check_stars(order, 5, 4)
    with pytest.raises(RatingInvalid, match="give shop_stars"):
        check_stars(order, None, None)
    order.tracking.rider = {"rider_id": "rider-1"}
    check_stars(order, 5, 4)
