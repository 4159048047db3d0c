"""The shop side against real PostgreSQL: parts, picking, weights, substitutions, packing, handover, returns."""

from __future__ import annotations

from datetime import UTC, datetime, time

import asyncpg
import pytest

from services.inventory.domain.catalog import LocationChanges, ProductChanges
from services.inventory.service_layer import catalog, fulfilment, reservations, stock_keeping
from shared.deadlines import Deadline
from shared.errors import Conflict, Invalid, NotFound
from shared.events.contracts import (
    ApprovalGiven,
    ApprovalKind,
    HandoverTo,
    OrderCancelled,
    ReturnedLine,
    SubstitutionMode,
    SubstitutionPreference,
)
from shared.vocabulary.opening_hours import Window
from shared.vocabulary.order_status import OrderStatus
from tests.fakes import FakeClock
from tests.integration.inventory.support import check_books, events, placed, run, stock, types


async def place(pool: asyncpg.Pool, order_id: str, lines: list, **kw: object) -> None:
    await run(pool, lambda uow: reservations.on_order_placed(uow, placed(order_id, lines, **kw)))


async def packed_payload(pool: asyncpg.Pool, order_id: str) -> dict:
    return next(p for t, p in await events(pool, order_id) if t == "OrderPacked")


async def test_a_market_order_is_split_into_parts_each_accepted_picked_and_packed(inv: asyncpg.Pool) -> None:
    await place(inv, "o1", [("carp", 2), ("bokchoy", 3)])
    reserved = next(p for t, p in await events(inv, "o1") if t == "StockReserved")
    assert sorted(p["location_id"] for p in reserved["parts"]) == ["fish", "veg"]
    keys = {r["key"] for r in await inv.fetch("SELECT key FROM deadlines WHERE kind = 'accept'")}
    assert keys == {"o1:fish", "o1:veg"}

    await run(inv, lambda uow: reservations.accept(uow, "fish", "o1", "li"))
    assert "ShopAccepted" not in await types(inv, "o1")  # the veg stall has not answered
    with pytest.raises(Conflict, match="not accepted yet"):
        await run(inv, lambda uow: fulfilment.pick_line(uow, "fish", "o1", 1, 1200, "li"))
    await run(inv, lambda uow: reservations.accept(uow, "veg", "o1", "wang"))
    assert (await types(inv, "o1"))[-3:] == ["PartAccepted", "PartAccepted", "ShopAccepted"]

    # A stallholder cannot act on the neighbour's line.
    with pytest.raises(NotFound):
        await run(inv, lambda uow: fulfilment.pick_line(uow, "veg", "o1", 1, 1200, "wang"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "fish", "o1", 1, 1250, "li"))  # 4% over
    await run(inv, lambda uow: fulfilment.pick_line(uow, "market", "o1", 2, None, "counter"))
    assert (await types(inv, "o1")).count("PickingStarted") == 1
    assert await stock(inv, "carp") == (6000, 1250)  # the hold follows the actual weight

    await run(inv, lambda uow: fulfilment.pack_part(uow, "fish", "o1", 1, 1300, "li"))
    assert "OrderPacked" not in await types(inv, "o1")
    with pytest.raises(Invalid, match="stall by stall"):
        await run(inv, lambda uow: fulfilment.pack_part(uow, "market", "o1", 1, 900, "counter"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "veg", "o1", 2, 900, "wang"))
    packed = await packed_payload(inv, "o1")
    assert packed["shown_fen"] == 2160 + 900
    assert packed["final_fen"] == 2250 + 900
    assert packed["difference_fen"] == 90
    assert (packed["bags"], packed["weight_g"]) == (3, 2200)
    assert packed["pickup_point"]["location_id"] == "market"
    assert len(packed["handover_code"]) == 6
    assert packed["handover_code"].isdigit()

    with pytest.raises(Invalid, match="wrong handover code"):
        await run(
            inv,
            lambda uow: fulfilment.hand_over(
                uow, "market", "o1", "x" + packed["handover_code"][1:], HandoverTo.SHOPPER, "counter"
            ),
        )
    assert await stock(inv, "carp") == (6000, 1250)
    await run(
        inv,
        lambda uow: fulfilment.hand_over(uow, "market", "o1", packed["handover_code"], HandoverTo.SHOPPER, "counter"),
    )
    assert await stock(inv, "carp") == (4750, 0)
    assert await stock(inv, "bokchoy") == (7, 0)
    assert (await types(inv, "o1"))[-1] == "OrderHandedOver"
    await check_books(inv)


async def test_a_stall_that_refuses_is_dropped_and_the_rest_goes_on(inv: asyncpg.Pool) -> None:
    await place(inv, "o2", [("carp", 1), ("bokchoy", 2), ("tomato", 1)])
    await run(inv, lambda uow: reservations.accept(uow, "fish", "o2", "li"))
    await run(inv, lambda uow: reservations.reject(uow, "veg", "o2", "wang", "no veg today"))
    kinds = await types(inv, "o2")
    assert kinds[-2:] == ["PartRejected", "ShopAccepted"]
    rejected = next(p for t, p in await events(inv, "o2") if t == "PartRejected")
    assert (rejected["line_nos"], rejected["refund_fen"], rejected["reason"]) == ([2, 3], 750, "shop_rejected")
    assert await stock(inv, "bokchoy") == (10, 0)
    await check_books(inv)


async def test_parts_that_lapse_reject_the_order_when_nothing_remains(inv: asyncpg.Pool) -> None:
    await place(inv, "o3", [("carp", 1), ("bokchoy", 1)])
    await run(inv, lambda uow: reservations.reject(uow, "veg", "o3", "wang", None))
    await run(inv, lambda uow: reservations.on_accept_deadline(uow, Deadline("accept", "o3:fish", datetime.now(UTC))))
    kinds = await types(inv, "o3")
    assert kinds[-2:] == ["StockReleased", "ShopRejected"]
    assert next(p for t, p in await events(inv, "o3") if t == "ShopRejected")["reason"] == "shop_timeout"
    assert await stock(inv, "carp") == (6000, 0)
    # A legacy deadline keyed by the order alone is harmless once nothing waits.
    await run(inv, lambda uow: reservations.on_accept_deadline(uow, Deadline("accept", "o3", datetime.now(UTC))))
    await check_books(inv)


async def test_market_level_accept_takes_every_waiting_part(inv: asyncpg.Pool) -> None:
    await place(inv, "o4", [("carp", 1), ("bokchoy", 1)])
    await run(inv, lambda uow: reservations.accept(uow, "market", "o4", "counter"))
    assert (await types(inv, "o4"))[-1] == "ShopAccepted"
    with pytest.raises(Conflict, match="accepted"):
        await run(inv, lambda uow: reservations.accept(uow, "market", "o4", "counter"))


async def test_heavy_weight_waits_for_the_shopper_and_each_answer_settles_it(inv: asyncpg.Pool) -> None:
    await place(inv, "w", [("carp", 1), ("crucian", 1), ("bokchoy", 1)])
    await run(inv, lambda uow: reservations.accept(uow, "market", "w", "counter"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "fish", "w", 1, 800, "li"))  # 33% over 600 g
    asked = next(p for t, p in await events(inv, "w") if t == "WeightApprovalRequested")
    assert (asked["estimated_quantity"], asked["actual_quantity"], asked["actual_fen"]) == (600, 800, 1440)
    with pytest.raises(Conflict, match="line 1 waits for the shopper"):
        await run(inv, lambda uow: fulfilment.pack_part(uow, "fish", "w", 1, 1000, "li"))

    # Declined: back to be picked again, the hold back to the estimate.
    answer = ApprovalGiven(
        order_id="w", store_id="market", line_no=1, kind=ApprovalKind.WEIGHT, accepted=False, by="shopper-1"
    )
    await run(inv, lambda uow: fulfilment.on_approval_given(uow, answer))
    assert await stock(inv, "carp") == (6000, 600)
    await run(inv, lambda uow: fulfilment.on_approval_given(uow, answer.model_copy(update={"accepted": True})))
    assert [p["approved"] for t, p in await events(inv, "w") if t == "WeightSettled"] == [False]  # late: ignored

    # Heavy again, then the deadline passes: charged at the estimate, the heavy piece committed.
    await run(inv, lambda uow: fulfilment.pick_line(uow, "fish", "w", 1, 900, "li"))
    await run(inv, lambda uow: fulfilment.on_approval_deadline(uow, Deadline("approval", "w:1", datetime.now(UTC))))
    settled = [p for t, p in await events(inv, "w") if t == "WeightSettled"][-1]
    assert (settled["decided_by"], settled["charged_fen"]) == ("timeout", 1080)

    # Line 2 heavy and accepted by the shopper: charged the actual weight.
    await run(inv, lambda uow: fulfilment.pick_line(uow, "fish", "w", 2, 400, "li"))
    await run(
        inv,
        lambda uow: fulfilment.on_approval_given(
            uow,
            ApprovalGiven(
                order_id="w", store_id="market", line_no=2, kind=ApprovalKind.WEIGHT, accepted=True, by="shopper-1"
            ),
        ),
    )
    assert [p for t, p in await events(inv, "w") if t == "WeightSettled"][-1]["charged_fen"] == 960
    await run(inv, lambda uow: fulfilment.on_approval_deadline(uow, Deadline("approval", "w:2", datetime.now(UTC))))
    assert len([t for t in await types(inv, "w") if t == "WeightSettled"]) == 3  # the deadline was cancelled

    await run(inv, lambda uow: fulfilment.out_of_stock(uow, "veg", "w", 3, "wang"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "fish", "w", 1, 1400, "li"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "veg", "w", 0, 0, "wang"))
    packed = await packed_payload(inv, "w")
    assert packed["final_fen"] == 1080 + 960
    assert [(ln["outcome"], ln["price_fen"]) for ln in packed["lines"]] == [
        ("picked", 1080),
        ("picked", 960),
        ("out_of_stock", 0),
    ]
    history = await inv.fetch("SELECT action FROM line_history WHERE order_id = 'w' ORDER BY id")
    assert [h["action"] for h in history][:3] == ["weighed", "weight settled", "weighed"]
    await check_books(inv)


@pytest.mark.parametrize(
    ("pref", "substitute", "needs"),
    [
        (SubstitutionPreference(mode=SubstitutionMode.BEST_MATCH), "cola", False),
        (SubstitutionPreference(mode=SubstitutionMode.PRODUCT, product_id="cola"), "cola", False),
        (SubstitutionPreference(mode=SubstitutionMode.PRODUCT, product_id="cola"), "water", True),
        (SubstitutionPreference(mode=SubstitutionMode.NONE), "cola", True),
    ],
)
async def test_substitutes_follow_the_shoppers_preference(
    inv: asyncpg.Pool, pref: SubstitutionPreference, substitute: str, needs: bool
) -> None:
    await place(inv, "s", [("juice", 2, pref)])
    await run(inv, lambda uow: reservations.accept(uow, "shop", "s", "keeper"))
    await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "s", 1, substitute, 2, by="keeper"))
    assert await stock(inv, "juice") == (20, 0)
    assert (await stock(inv, substitute))[1] == 2
    proposed = next(p for t, p in await events(inv, "s") if t == "SubstitutionProposed")
    assert proposed["needs_approval"] is needs
    kinds = await types(inv, "s")
    assert ("SubstitutionSettled" in kinds) is not needs
    await check_books(inv)


async def test_a_declined_substitute_is_released_and_the_line_refunded(inv: asyncpg.Pool) -> None:
    await place(inv, "d", [("juice", 1), ("water", 1)])
    await run(inv, lambda uow: reservations.accept(uow, "shop", "d", "keeper"))
    await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "d", 1, "cola", 1, by="keeper"))
    with pytest.raises(Invalid, match="shop or stall that fulfils"):
        await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "d", 2, "bokchoy", 1, by="keeper"))
    with pytest.raises(Invalid, match="unknown product"):
        await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "d", 2, "caviar", 1, by="keeper"))
    await run(
        inv,
        lambda uow: fulfilment.on_approval_given(
            uow,
            ApprovalGiven(
                order_id="d", store_id="shop", line_no=1, kind=ApprovalKind.SUBSTITUTION, accepted=False, by="u"
            ),
        ),
    )
    settled = next(p for t, p in await events(inv, "d") if t == "SubstitutionSettled")
    assert (settled["accepted"], settled["refund_fen"], settled["decided_by"]) == (False, 500, "shopper")
    assert await stock(inv, "cola") == (20, 0)
    await run(inv, lambda uow: fulfilment.pick_line(uow, "shop", "d", 2, None, "keeper"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "shop", "d", 1, 600, "keeper"))
    packed = await packed_payload(inv, "d")
    assert (packed["shown_fen"], packed["final_fen"], packed["difference_fen"]) == (700, 200, -500)
    await check_books(inv)


async def return_bag(pool: asyncpg.Pool, order_id: str, *lines: ReturnedLine) -> None:
    """The shop's keeper takes the bag back with what became of each line."""
    await run(pool, lambda uow: fulfilment.return_bag(uow, "shop", order_id, list(lines), "keeper"))


async def test_returns_restock_and_write_off_and_refund_everything(inv: asyncpg.Pool) -> None:
    await place(inv, "r", [("water", 3), ("juice", 2)], mode="delivery")
    await run(inv, lambda uow: reservations.accept(uow, "shop", "r", "keeper"))
    for n in (1, 2):
        await run(inv, lambda uow, n=n: fulfilment.pick_line(uow, "shop", "r", n, None, "keeper"))
    with pytest.raises(Conflict, match="returned after handover to a rider"):
        await run(inv, lambda uow: fulfilment.return_bag(uow, "shop", "r", [], "keeper"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "shop", "r", 1, 2000, "keeper"))
    code = (await packed_payload(inv, "r"))["handover_code"]
    await run(inv, lambda uow: fulfilment.hand_over(uow, "shop", "r", code, HandoverTo.RIDER, "keeper"))
    assert await stock(inv, "water") == (47, 0)
    with pytest.raises(Invalid, match="must equal"):
        await return_bag(
            inv,
            "r",
            ReturnedLine(line_no=1, restocked=1, written_off=1, reason="x"),
            ReturnedLine(line_no=2, restocked=2, written_off=0),
        )
    with pytest.raises(Invalid, match="missing"):
        await return_bag(inv, "r", ReturnedLine(line_no=1, restocked=3, written_off=0))
    await return_bag(
        inv,
        "r",
        ReturnedLine(line_no=1, restocked=2, written_off=1, reason="bottle cracked"),
        ReturnedLine(line_no=2, restocked=2, written_off=0),
    )
    assert await stock(inv, "water") == (49, 0)
    assert await stock(inv, "juice") == (20, 0)
    returned = next(p for t, p in await events(inv, "r") if t == "BagReturned")
    assert returned["refund_fen"] == 1600
    await check_books(inv)


async def test_an_uncollected_pickup_bag_is_returned_from_its_holds(inv: asyncpg.Pool) -> None:
    await place(inv, "u", [("water", 2)])
    await run(inv, lambda uow: reservations.accept(uow, "shop", "u", "keeper"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "shop", "u", 1, None, "keeper"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "shop", "u", 1, 1100, "keeper"))
    code = (await packed_payload(inv, "u"))["handover_code"]
    with pytest.raises(Invalid, match="pickup"):
        await run(inv, lambda uow: fulfilment.hand_over(uow, "shop", "u", code, HandoverTo.RIDER, "keeper"))
    await return_bag(inv, "u", ReturnedLine(line_no=1, restocked=1, written_off=1, reason="left in the sun"))
    assert await stock(inv, "water") == (49, 0)
    await check_books(inv)


async def test_closed_or_paused_shops_reject_with_shop_closed(inv: asyncpg.Pool) -> None:
    monday_9 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
    windows = [Window(day=0, opens=time(6), closes=time(8))]
    await run(inv, lambda uow: catalog.update_location(uow, "veg", LocationChanges(windows=windows)))
    await run(inv, lambda uow: reservations.on_order_placed(uow, placed("c1", [("bokchoy", 1)])), FakeClock(monday_9))
    rejected = next(p for t, p in await events(inv, "c1") if t == "StockRejected")
    assert (rejected["reason"], rejected["short_lines"]) == ("shop_closed", [])
    await run(inv, lambda uow: catalog.update_location(uow, "veg", LocationChanges(windows=None, paused=True)))
    await run(inv, lambda uow: reservations.on_order_placed(uow, placed("c2", [("bokchoy", 1)])), FakeClock(monday_9))
    assert next(p for t, p in await events(inv, "c2") if t == "StockRejected")["reason"] == "shop_closed"
    upserted = [p for t, p in await events(inv) if t == "LocationUpserted" and p["location_id"] == "veg"]
    assert upserted[-1]["paused"] is True
    assert upserted[-2]["windows"][0]["opens"] == "06:00:00"
    assert await stock(inv, "bokchoy") == (10, 0)


async def test_cancelling_while_a_substitute_waits_releases_everything(inv: asyncpg.Pool) -> None:
    await place(inv, "x", [("juice", 1)])
    await run(inv, lambda uow: reservations.accept(uow, "shop", "x", "keeper"))
    await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "x", 1, "cola", 1, by="keeper"))
    await run(
        inv,
        lambda uow: reservations.on_order_cancelled(
            uow, OrderCancelled(order_id="x", store_id="shop", cancelled_by="u", previous_status=OrderStatus.ACCEPTED)
        ),
    )
    assert await stock(inv, "cola") == (20, 0)
    assert await inv.fetchval("SELECT count(*) FROM deadlines WHERE kind = 'approval' AND cancelled_at IS NULL") == 0
    await check_books(inv)


async def test_products_are_kept_with_their_history_and_low_stock_fires_once(inv: asyncpg.Pool) -> None:
    await run(
        inv,
        lambda uow: catalog.update_product(
            uow, "tomato", ProductChanges(price_fen=180, low_stock_threshold=8), "staff:wang"
        ),
    )
    await place(inv, "l1", [("tomato", 3)])
    await place(inv, "l2", [("tomato", 1)])
    low = [p for t, p in await events(inv) if t == "LowStock"]
    assert [(p["product_id"], p["available"], p["threshold"]) for p in low] == [("tomato", 7, 8)]
    await run(inv, lambda uow: stock_keeping.restock(uow, "tomato", 10, "morning delivery", "staff:wang"))
    await run(inv, lambda uow: stock_keeping.adjust(uow, "tomato", -12, "squashed", "staff:wang"))
    assert len([t for t, _ in await events(inv) if t == "LowStock"]) == 2  # crossed again after re-arming
    with pytest.raises(Invalid, match="below"):
        await run(inv, lambda uow: stock_keeping.adjust(uow, "tomato", -5, "gone", "staff:wang"))
    from services.inventory.service_layer.queries import product_history

    history = await run(inv, lambda uow: product_history(uow, "tomato"))
    changes = [(h.kind, h.change, h.actor) for h in history]
    assert ("catalog", "updated", "staff:wang") in changes
    assert ("stock", "restocked: morning delivery", "staff:wang") in changes
    assert ("stock", "adjusted: squashed", "staff:wang") in changes
    assert (await inv.fetchval("SELECT price_fen FROM products WHERE id = 'tomato'")) == 180
