"""Inventory reacting to dispatch, against real PostgreSQL: the rider's pickup commits the stock (a wrong
code is dead-lettered), and a no-rider cancel after picking started gives every hold back."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from services.inventory.service_layer import fulfilment, queries, reservations
from shared.errors import Invalid
from shared.events.contracts import (
    DeliveryPickedUp,
    HandoverTo,
    OrderCancelled,
    PickupChoiceMade,
    ReturnedLine,
    SubstitutionMode,
    SubstitutionPreference,
)
from shared.events.envelope import envelope
from shared.events.topics import DISPATCH
from shared.inbox import PermanentError
from shared.service import Runtime
from shared.vocabulary.order_status import OrderStatus
from tests.fakes import to_json
from tests.integration.inventory.support import check_books, events, placed, run, stock, types, unit_of_work
from tests.runtime import consumer_for


async def packed_delivery(pool: asyncpg.Pool, order_id: str, lines: list[Any]) -> str:
    await run(pool, lambda uow: reservations.on_order_placed(uow, placed(order_id, lines, mode="delivery")))
    await run(pool, lambda uow: reservations.accept(uow, "shop", order_id, "keeper"))
    for n in range(1, len(lines) + 1):
        await run(pool, lambda uow, n=n: fulfilment.pick_line(uow, "shop", order_id, n, None, "keeper"))
    await run(pool, lambda uow: fulfilment.pack_part(uow, "shop", order_id, 1, 1500, "keeper"))
    return str(next(p for t, p in await events(pool, order_id) if t == "OrderPacked")["handover_code"])


def picked_up(order_id: str, code: str) -> DeliveryPickedUp:
    return DeliveryPickedUp(order_id=order_id, store_id="shop", rider_id="rider-7", handover_code=code)


def no_rider(order_id: str, previous: OrderStatus) -> OrderCancelled:
    return OrderCancelled(
        order_id=order_id, store_id="shop", cancelled_by="linli", previous_status=previous, reason="no_rider"
    )


async def test_the_riders_pickup_commits_the_stock_once(inv: asyncpg.Pool) -> None:
    code = await packed_delivery(inv, "r1", [("water", 3), ("juice", 1)])
    wrong = "1" + code[1:] if code[0] != "1" else "2" + code[1:]
    with pytest.raises(PermanentError, match="wrong handover code"):
        await run(inv, lambda uow: fulfilment.on_delivery_picked_up(uow, picked_up("r1", wrong)))
    assert await stock(inv, "water") == (50, 3)
    await run(inv, lambda uow: fulfilment.on_delivery_picked_up(uow, picked_up("r1", code)))
    assert await stock(inv, "water") == (47, 0)
    assert await stock(inv, "juice") == (19, 0)
    handed = [p for t, p in await events(inv, "r1") if t == "OrderHandedOver"]
    assert [(h["to"], h["by"]) for h in handed] == [("rider", "rider-7")]
    # The counter had entered the code too, or dispatch said it twice: nothing more happens.
    await run(inv, lambda uow: fulfilment.on_delivery_picked_up(uow, picked_up("r1", code)))
    assert (await types(inv, "r1")).count("OrderHandedOver") == 1
    assert await stock(inv, "water") == (47, 0)
    # The bag can come back as after any handover to a rider.
    await run(
        inv,
        lambda uow: fulfilment.return_bag(
            uow,
            "shop",
            "r1",
            [ReturnedLine(line_no=1, restocked=3, written_off=0), ReturnedLine(line_no=2, restocked=1, written_off=0)],
            "keeper",
        ),
    )
    assert await stock(inv, "water") == (50, 0)
    await check_books(inv)


async def test_a_counter_handover_first_makes_the_riders_pickup_a_no_op(inv: asyncpg.Pool) -> None:
    code = await packed_delivery(inv, "r2", [("water", 2)])
    await run(inv, lambda uow: fulfilment.hand_over(uow, "shop", "r2", code, HandoverTo.RIDER, "keeper"))
    await run(inv, lambda uow: fulfilment.on_delivery_picked_up(uow, picked_up("r2", code)))
    assert (await types(inv, "r2")).count("OrderHandedOver") == 1
    assert await stock(inv, "water") == (48, 0)


async def test_the_consumer_dead_letters_a_wrong_code_and_applies_the_right_one(
    inv: asyncpg.Pool, runtime: Runtime
) -> None:
    code = await packed_delivery(inv, "r3", [("water", 2)])
    consumer = consumer_for(runtime, DISPATCH)
    letters = runtime.dead_letters
    wrong = to_json(envelope(picked_up("r3", "x" + code[1:])))
    assert await consumer.handle(wrong, b"r3", {}) == "dead-lettered"
    [error] = letters.sent  # type: ignore[attr-defined]
    assert error.startswith("refused: rider rider-7 picked up order r3 with a wrong")
    right = to_json(envelope(picked_up("r3", code)))
    assert await consumer.handle(right, b"r3", {}) == "applied"
    assert await consumer.handle(right, b"r3", {}) == "duplicate"
    assert await stock(inv, "water") == (48, 0)


async def test_no_rider_while_picking_releases_picked_substituted_and_pending_lines(inv: asyncpg.Pool) -> None:
    best = SubstitutionPreference(mode=SubstitutionMode.BEST_MATCH)
    await run(
        inv,
        lambda uow: reservations.on_order_placed(
            uow, placed("n1", [("water", 3), ("juice", 1, best), ("cola", 2)], mode="delivery")
        ),
    )
    await run(inv, lambda uow: reservations.accept(uow, "shop", "n1", "keeper"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "shop", "n1", 1, None, "keeper"))
    await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "n1", 2, "cola", 1, by="keeper"))
    await run(inv, lambda uow: fulfilment.substitute(uow, "shop", "n1", 3, "juice", 2, by="keeper"))
    lines = {
        r["line_no"]: r["state"]
        for r in await inv.fetch("SELECT line_no, state FROM reservation_lines WHERE order_id = 'n1'")
    }
    assert lines == {1: "picked", 2: "substituted", 3: "substitute_pending"}
    assert await stock(inv, "cola") == (20, 1)
    assert await stock(inv, "juice") == (20, 2)

    await run(inv, lambda uow: reservations.on_order_cancelled(uow, no_rider("n1", OrderStatus.PICKING)))
    for product, on_hand in (("water", 50), ("juice", 20), ("cola", 20)):
        assert await stock(inv, product) == (on_hand, 0), product
    assert await inv.fetchval("SELECT count(*) FROM holds WHERE order_id = 'n1'") == 0
    assert await inv.fetchval("SELECT count(*) FROM deadlines WHERE kind = 'approval' AND cancelled_at IS NULL") == 0
    released = next(p for t, p in await events(inv, "n1") if t == "StockReleased")
    assert released["reason"] == "no_rider"
    assert await inv.fetchval("SELECT status FROM reservations WHERE order_id = 'n1'") == "released"
    await check_books(inv)


async def test_no_rider_when_packed_releases_the_bag_and_refuses_a_later_pickup(inv: asyncpg.Pool) -> None:
    code = await packed_delivery(inv, "n2", [("water", 2), ("juice", 3)])
    cancelled = no_rider("n2", OrderStatus.PACKED)
    await run(inv, lambda uow: reservations.on_order_cancelled(uow, cancelled))
    await run(inv, lambda uow: reservations.on_order_cancelled(uow, cancelled))  # a second time changes nothing
    assert await stock(inv, "water") == (50, 0)
    assert await stock(inv, "juice") == (20, 0)
    assert (await types(inv, "n2")).count("StockReleased") == 1
    parts = {r["status"] for r in await inv.fetch("SELECT status FROM fulfilment_parts WHERE order_id = 'n2'")}
    assert parts == {"released"}
    with pytest.raises(PermanentError, match="released; only a packed order can be handed over"):
        await run(inv, lambda uow: fulfilment.on_delivery_picked_up(uow, picked_up("n2", code)))
    queue = await inv.fetch(
        "SELECT order_id FROM fulfilment_parts p JOIN reservations r USING (order_id) "
        "WHERE r.status NOT IN ('released', 'committed', 'returned') AND order_id = 'n2'"
    )
    assert queue == []
    await check_books(inv)


async def test_an_accepted_pickup_offer_lets_the_shop_return_an_uncollected_bag(inv: asyncpg.Pool) -> None:
    code = await packed_delivery(inv, "p1", [("water", 2)])
    await run(
        inv,
        lambda uow: fulfilment.on_pickup_choice_made(
            uow, PickupChoiceMade(order_id="p1", store_id="shop", accepted=True, by="grandma")
        ),
    )
    assert await inv.fetchval("SELECT fulfilment_mode FROM reservations WHERE order_id = 'p1'") == "pickup"
    with pytest.raises(PermanentError, match="for pickup"):
        await run(inv, lambda uow: fulfilment.on_delivery_picked_up(uow, picked_up("p1", code)))
    await run(
        inv,
        lambda uow: fulfilment.return_bag(
            uow, "shop", "p1", [ReturnedLine(line_no=1, restocked=2, written_off=0)], "keeper"
        ),
    )
    assert await stock(inv, "water") == (50, 0)
    await check_books(inv)


async def test_the_counter_sees_the_code_to_tell_a_rider_but_never_a_pickup_shoppers(inv: asyncpg.Pool) -> None:
    """A rider proves they took the bag with the code the counter tells them; a shopper proves
    who they are with the code only they hold, so staff must never be able to read it."""
    await packed_delivery(inv, "d1", [("water", 1)])
    await run(inv, lambda uow: reservations.on_order_placed(uow, placed("p1", [("water", 1)])))
    await run(inv, lambda uow: reservations.accept(uow, "shop", "p1", "keeper"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "shop", "p1", 1, None, "keeper"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "shop", "p1", 1, 500, "keeper"))
    async with unit_of_work(inv) as uow:
        queue = {q.part.order_id: q.order for q in await queries.queue(uow, await uow.locations.get("shop"))}
    assert queue["d1"].code_for_staff()
    assert len(queue["d1"].code_for_staff() or "") == 6
    assert queue["p1"].code_for_staff() is None


async def test_a_cash_order_collected_at_the_counter_needs_the_cash_taken(inv: asyncpg.Pool) -> None:
    """No rider came and the shopper collects a pay-on-delivery order: the counter takes the money."""
    event = placed("r9", [("water", 2)], mode="delivery").model_copy(update={"payment": "on_delivery"})
    await run(inv, lambda uow: reservations.on_order_placed(uow, event))
    await run(inv, lambda uow: reservations.accept(uow, "shop", "r9", "keeper"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "shop", "r9", 1, None, "keeper"))
    await run(inv, lambda uow: fulfilment.pack_part(uow, "shop", "r9", 1, 1500, "keeper"))
    code = str(next(p for t, p in await events(inv, "r9") if t == "OrderPacked")["handover_code"])
    with pytest.raises(Invalid, match="paid in cash when it is collected"):
        await run(inv, lambda uow: fulfilment.hand_over(uow, "shop", "r9", code, HandoverTo.SHOPPER, "keeper"))
    assert await stock(inv, "water") == (50, 2), "nothing left the shop"
    await run(
        inv,
        lambda uow: fulfilment.hand_over(uow, "shop", "r9", code, HandoverTo.SHOPPER, "keeper", cash_collected_fen=600),
    )
    handed = [p for t, p in await events(inv, "r9") if t == "OrderHandedOver"]
    assert [(h["to"], h["cash_collected_fen"]) for h in handed] == [("shopper", 600)]
