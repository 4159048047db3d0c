"""Orders' shop-side use cases against real PostgreSQL: a market order from placing to the counter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from services.orders.domain.basket import BasketProblem, Wanted
from services.orders.domain.lines import SubstitutionChoice, SubstitutionMode
from services.orders.service_layer import fulfilment, ordering, payments
from shared.auth import Principal
from shared.errors import Refusal
from shared.events.contracts import (
    HandlingFlags,
    LineOutcome,
    LinePicked,
    LocationUpserted,
    OrderHandedOver,
    OrderPacked,
    PackedLine,
    PartAccepted,
    PartRejected,
    PickingStarted,
    PickupPoint,
    ProductUpserted,
    ShopAccepted,
    StockReserved,
    WeightApprovalRequested,
    WeightSettled,
)
from shared.vocabulary.locations import LocationKind
from shared.vocabulary.opening_hours import Window
from shared.vocabulary.roles import Role
from shared.vocabulary.units import StockUnit
from tests.integration.orders.conftest import GRANDMA, changed_once, handle, place, run, seed, view

ADMIN = Principal("cash-desk", Role.ADMIN)
STAFF = Principal("fishmonger", Role.STORE_STAFF, store="fish")


def location(location_id: str, kind: LocationKind, **extra: Any) -> LocationUpserted:
    return LocationUpserted(
        location_id=location_id,
        kind=kind,
        parent_id="market" if kind is LocationKind.STALL else None,
        category="stall",
        name_zh="摊",
        name_en=location_id.title(),
        lat=32.0,
        lon=118.0,
        **extra,
    )


@pytest.fixture(autouse=True)
async def market(orders_pool: asyncpg.Pool) -> None:
    await seed(
        orders_pool,
        location("market", LocationKind.MARKET),
        location("fish", LocationKind.STALL),
        location("veg", LocationKind.STALL),
        *(
            ProductUpserted(
                product_id=pid,
                location_id=stall,
                store_id="market",
                name_zh=pid,
                name_en=pid.title(),
                category="c",
                unit=unit,
                price_fen=price,
                grams_per_piece=grams,
            )
            for pid, stall, unit, price, grams in (
                ("carp", "fish", StockUnit.GRAM, 1800, 600),
                ("bokchoy", "veg", StockUnit.PIECE, 300, None),
                ("spinach", "veg", StockUnit.PIECE, 400, None),
            )
        ),
    )


async def place_market_order(pool: asyncpg.Pool) -> str:
    await run(pool, payments.top_up, ADMIN, GRANDMA.subject, 10_000, "prepaid at the service centre")
    order = await place(
        pool,
        {"mode": "pickup"},
        store_id="market",
        note="no plastic",
        flags=HandlingFlags(call_before_delivery=True),
        wanted=[Wanted("carp", 2), Wanted("bokchoy", 2, SubstitutionChoice(SubstitutionMode.PRODUCT, "spinach"))],
    )
    return order.id


async def test_order_placed_carries_prices_preferences_flags_and_note(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_market_order(orders_pool)
    placed = await orders_pool.fetchval("SELECT envelope FROM outbox WHERE event_type = 'OrderPlaced'")
    payload = placed["payload"]
    assert payload["flags"] == {"call_before_delivery": True, "pay_on_delivery": False}
    assert payload["note"] == "no plastic"
    carp, bokchoy = payload["lines"]
    assert (carp["unit_price_fen"], carp["estimated_fen"], carp["substitution"]["mode"]) == (1800, 2160, "none")
    assert bokchoy["substitution"] == {"mode": "product", "product_id": "spinach"}
    shown = await view(orders_pool, order_id)
    assert shown["flags"]["call_before_delivery"] is True
    assert shown["lines"][1]["substitution"]["product_id"] == "spinach"


async def test_a_closed_stall_refuses_the_basket_naming_when_it_opens(orders_pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    closed_today = [Window(day=(now.weekday() + 3) % 7, opens=time(6), closes=time(7))]
    await seed(orders_pool, location("fish", LocationKind.STALL, windows=closed_today))
    with pytest.raises(BasketProblem, match=r"stall Fish .* is closed; it next opens"):
        await place_market_order(orders_pool)
    await seed(orders_pool, location("fish", LocationKind.STALL, paused=True))
    with pytest.raises(BasketProblem, match="busy"):
        await place_market_order(orders_pool)
    assert await orders_pool.fetchval("SELECT count(*) FROM orders") == 0


async def test_from_placed_to_collected_with_a_refused_stall_and_a_heavy_fish(orders_pool: asyncpg.Pool) -> None:
    order_id = await place_market_order(orders_pool)
    base = {"order_id": order_id, "store_id": "market"}
    soon = datetime.now(UTC) + timedelta(minutes=3)
    await handle(orders_pool, ordering.on_stock_reserved, StockReserved(**base, lines=[], accept_deadline=soon))
    await handle(
        orders_pool, fulfilment.on_part_accepted, PartAccepted(**base, location_id="fish", accepted_by="fishmonger")
    )
    await handle(
        orders_pool,
        fulfilment.on_part_rejected,
        PartRejected(**base, location_id="veg", reason="shop_rejected", line_nos=[2], refund_fen=600),
    )
    await handle(orders_pool, ordering.on_shop_accepted, ShopAccepted(**base, accepted_by="fishmonger"))
    await handle(orders_pool, fulfilment.on_picking_started, PickingStarted(**base, location_id="fish", by="f"))
    await handle(
        orders_pool,
        fulfilment.on_weight_approval_requested,
        WeightApprovalRequested(
            **base,
            line_no=1,
            estimated_quantity=1200,
            actual_quantity=1450,
            over_pct=20.8,
            estimated_fen=2160,
            actual_fen=2610,
            deadline=soon,
        ),
    )

    shown = await view(orders_pool, order_id)
    assert shown["status"] == "PICKING"
    assert [ln["status"] for ln in shown["lines"]] == ["awaiting_approval", "refunded"]
    [pending] = shown["pending_approvals"]
    assert (pending["line_no"], pending["kind"], pending["numbers"]["actual_g"]) == (1, "weight", 1450)

    async def answer(principal: Principal, accept: bool, key: str | None = None) -> tuple[int, Any]:
        return await changed_once(
            orders_pool, principal, key, f"approval-{accept}", fulfilment.answer_approval, order_id, 1, accept
        )

    with pytest.raises(Refusal) as staff_answer:
        await answer(STAFF, True)
    assert staff_answer.value.status_code == 403
    with pytest.raises(Refusal) as stranger:
        await answer(Principal("neighbour", Role.SHOPPER), True)
    assert stranger.value.status_code == 404
    key = str(uuid.uuid4())
    first = await answer(GRANDMA, True, key)
    assert await answer(GRANDMA, True, key) == first  # a retry gets the first answer, not a 409
    with pytest.raises(Refusal) as twice:
        await answer(GRANDMA, False)
    assert twice.value.status_code == 409
    assert "already answered" in twice.value.message
    given = await orders_pool.fetch("SELECT envelope FROM outbox WHERE event_type = 'ApprovalGiven'")
    assert len(given) == 1

    await handle(
        orders_pool,
        fulfilment.on_weight_settled,
        WeightSettled(**base, line_no=1, approved=True, charged_fen=2610, decided_by="shopper"),
    )
    await handle(
        orders_pool,
        fulfilment.on_line_picked,
        LinePicked(  # a late duplicate after settling is harmless
            **base, line_no=1, quantity=1450, price_fen=2610, estimated_fen=2160, by="f"
        ),
    )
    await handle(
        orders_pool,
        fulfilment.on_order_packed,
        OrderPacked(
            **base,
            shown_fen=2760,
            final_fen=2610,
            difference_fen=-150,
            bags=1,
            weight_g=1450,
            handover_code="204816",
            pickup_point=PickupPoint(location_id="market", name_zh="菜场", name_en="Market"),
            lines=[
                PackedLine(line_no=1, product_id="carp", outcome=LineOutcome.PICKED, quantity=1450, price_fen=2610),
                PackedLine(line_no=2, product_id="bokchoy", outcome=LineOutcome.OUT_OF_STOCK, quantity=0, price_fen=0),
            ],
        ),
    )

    shown = await view(orders_pool, order_id)
    assert shown["status"] == "READY_FOR_PICKUP"
    assert (shown["final_fen"], shown["difference_fen"], shown["refund_fen"]) == (2610, -150, 600)
    assert (shown["bags"], shown["weight_g"], shown["pickup_point"]["name_en"]) == (1, 1450, "Market")
    assert shown["handover_code"] == "204816"
    assert shown["pending_approvals"] == []
    assert [(ln["status"], ln["final_quantity"], ln["final_fen"]) for ln in shown["lines"]] == [
        ("picked", 1450, 2610),
        ("refunded", 0, 0),
    ]
    assert (await view(orders_pool, order_id, STAFF))["handover_code"] is None

    await handle(orders_pool, fulfilment.on_order_handed_over, OrderHandedOver(**base, to="shopper", by="f"))
    shown = await view(orders_pool, order_id)
    assert [e["status"] for e in shown["timeline"] if e["status"]] == [
        "PLACED",
        "CONFIRMED",
        "ACCEPTED",
        "PICKING",
        "PACKED",
        "READY_FOR_PICKUP",
        "COLLECTED",
    ]
    causes = [e["cause"] for e in shown["timeline"]]
    assert any("1450 g instead of about 1200 g" in c for c in causes)
    assert any(c.startswith("veg refused its part") for c in causes)
