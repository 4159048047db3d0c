"""No oversell, whatever interleaves: concurrent orders, restocks, cancellations, substitutions,
weighings, expiries and handovers against real PostgreSQL, then the books must balance."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime

import asyncpg

from services.inventory.domain.stock import Shortage
from services.inventory.service_layer import fulfilment, reservations, stock_keeping
from shared.deadlines import Deadline
from shared.errors import Conflict
from shared.events.contracts import (
    ApprovalGiven,
    ApprovalKind,
    HandoverTo,
    OrderCancelled,
    SubstitutionMode,
    SubstitutionPreference,
)
from shared.vocabulary.order_status import OrderStatus
from tests.integration.inventory.support import PRODUCTS, check_books, placed, run, seed

SHOP = ["water", "juice", "cola"]
MARKET = ["carp", "crucian", "bokchoy", "tomato"]
BEST = SubstitutionPreference(mode=SubstitutionMode.BEST_MATCH)


async def _work_line(pool: asyncpg.Pool, rng: random.Random, store: str, order_id: str, line: asyncpg.Record) -> None:
    """Pick, weigh, substitute or refund one line, and answer any question it raises."""
    loc, line_no = line["location_id"], line["line_no"]
    roll = rng.random()
    try:
        if roll < 0.2:
            await run(pool, lambda uow: fulfilment.out_of_stock(uow, loc, order_id, line_no, "staff"))
            return
        if roll < 0.45:
            others = [p for p, spec in PRODUCTS.items() if spec[0] == loc and p != line["product_id"]]
            sub = rng.choice(others)
            qty = rng.randint(1, 3) * (PRODUCTS[sub][3] or 1)
            await run(pool, lambda uow: fulfilment.substitute(uow, loc, order_id, line_no, sub, qty, by="staff"))
            return
    except Shortage:
        pass  # nothing to substitute with: pick the original instead
    weight = int(line["quantity"] * rng.uniform(0.8, 1.3)) if line["unit"] == "g" else None
    try:
        await run(pool, lambda uow: fulfilment.pick_line(uow, loc, order_id, line_no, weight, "staff"))
    except Shortage:
        await run(pool, lambda uow: fulfilment.out_of_stock(uow, loc, order_id, line_no, "staff"))
        return
    state = await pool.fetchval(
        "SELECT state FROM reservation_lines WHERE order_id = $1 AND line_no = $2", order_id, line_no
    )
    if state == "weight_pending":
        if rng.random() < 0.5:
            await run(
                pool,
                lambda uow: fulfilment.on_approval_given(
                    uow,
                    ApprovalGiven(
                        order_id=order_id,
                        store_id=store,
                        line_no=line_no,
                        kind=ApprovalKind.WEIGHT,
                        accepted=rng.random() < 0.5,
                        by="shopper",
                    ),
                ),
            )
        else:
            await run(
                pool,
                lambda uow: fulfilment.on_approval_deadline(
                    uow, Deadline("approval", f"{order_id}:{line_no}", datetime.now(UTC))
                ),
            )
        state = await pool.fetchval(
            "SELECT state FROM reservation_lines WHERE order_id = $1 AND line_no = $2", order_id, line_no
        )
        if state == "reserved":  # declined: no lighter piece today
            await run(pool, lambda uow: fulfilment.out_of_stock(uow, loc, order_id, line_no, "staff"))


async def _cancel(pool: asyncpg.Pool, order_id: str, store: str, previous: OrderStatus) -> None:
    cancelled = OrderCancelled(order_id=order_id, store_id=store, cancelled_by="u", previous_status=previous)
    await run(pool, lambda uow: reservations.on_order_cancelled(uow, cancelled))


async def _life_of_an_order(pool: asyncpg.Pool, n: int, rng: random.Random) -> str:
    """One order from placement to wherever its dice take it; returns how it ended."""
    order_id = f"o{n}"
    at_market = n % 3 == 0
    names = MARKET if at_market else SHOP
    basket = [(pid, rng.randint(1, 4), BEST) for pid in rng.sample(names, rng.randint(1, 2))]
    await run(pool, lambda uow: reservations.on_order_placed(uow, placed(order_id, basket)))
    await asyncio.sleep(0)
    order = await pool.fetchrow("SELECT store_id FROM reservations WHERE order_id = $1", order_id)
    if order is None:
        return "rejected"
    store = order["store_id"]
    fate = rng.random()
    if fate < 0.15:
        await _cancel(pool, order_id, store, OrderStatus.CONFIRMED)
        return "cancelled"
    if fate < 0.3:
        parts = await pool.fetch("SELECT location_id FROM fulfilment_parts WHERE order_id = $1", order_id)
        for part in parts:
            await run(
                pool,
                lambda uow, loc=part["location_id"]: reservations.on_accept_deadline(
                    uow, Deadline("accept", f"{order_id}:{loc}", datetime.now(UTC))
                ),
            )
        return "expired"
    await run(pool, lambda uow: reservations.accept(uow, store, order_id, "staff"))
    lines = await pool.fetch(
        "SELECT line_no, product_id, location_id, unit, quantity FROM reservation_lines "
        "WHERE order_id = $1 ORDER BY line_no",
        order_id,
    )
    for line in lines:
        await _work_line(pool, rng, store, order_id, line)
    if rng.random() < 0.1:
        await _cancel(pool, order_id, store, OrderStatus.PICKING)
        return "cancelled while picking"
    for loc in {line["location_id"] for line in lines}:
        await run(pool, lambda uow, loc=loc: fulfilment.pack_part(uow, loc, order_id, 1, 100, "staff"))
    code = await pool.fetchval("SELECT handover_code FROM reservations WHERE order_id = $1", order_id)
    if rng.random() < 0.25:
        return "packed"  # still held, waiting at the counter
    await run(pool, lambda uow: fulfilment.hand_over(uow, store, order_id, code, HandoverTo.SHOPPER, "staff"))
    return "handed over"


async def _restocks(pool: asyncpg.Pool, rng: random.Random, restocked: dict[str, int]) -> None:
    for _ in range(25):
        pid = rng.choice(list(PRODUCTS))
        qty = rng.randint(1, 5) * (PRODUCTS[pid][3] or 1)
        await run(pool, lambda uow, pid=pid, qty=qty: stock_keeping.restock(uow, pid, qty, "delivery", "supplier"))
        restocked[pid] += qty
        await asyncio.sleep(0.005)


async def test_interleaved_orders_restocks_cancellations_and_expiries_never_oversell(pool: asyncpg.Pool) -> None:
    await seed(pool)
    initial = {pid: spec[4] for pid, spec in PRODUCTS.items()}
    restocked = dict.fromkeys(PRODUCTS, 0)
    rng = random.Random(20260105)
    seeds = [rng.randrange(1 << 30) for _ in range(80)]

    async def life(n: int) -> str:
        try:
            return await _life_of_an_order(pool, n, random.Random(seeds[n]))
        except Conflict as e:  # e.g. every line refunded by a lapsed part: still a valid end
            return f"refused: {e}"

    outcomes = await asyncio.gather(*(life(n) for n in range(80)), _restocks(pool, random.Random(7), restocked))
    ends = [o for o in outcomes if isinstance(o, str)]
    assert {"handed over", "cancelled", "expired"} <= set(ends), ends

    await check_books(pool)
    # on_hand = initial + restocked - committed, with committed read from what the handed-over bags held.
    committed = dict.fromkeys(PRODUCTS, 0)
    for line in await pool.fetch(
        "SELECT rl.* FROM reservation_lines rl JOIN reservations r USING (order_id) WHERE r.status = 'committed' "
        "AND rl.state IN ('picked', 'substituted')"
    ):
        pid = line["substitute"]["product_id"] if line["state"] == "substituted" else line["product_id"]
        committed[pid] += line["picked_quantity"]
    # reserved = what the live orders' lines still hold.
    live = dict.fromkeys(PRODUCTS, 0)
    for line in await pool.fetch(
        "SELECT rl.* FROM reservation_lines rl JOIN reservations r USING (order_id) "
        "JOIN fulfilment_parts p ON p.order_id = rl.order_id AND p.location_id = rl.location_id "
        "WHERE r.status IN ('held', 'accepted', 'picking', 'packed') AND p.status <> 'rejected'"
    ):
        if line["state"] in ("reserved",):
            live[line["product_id"]] += line["quantity"]
        elif line["state"] in ("picked", "weight_pending"):
            live[line["product_id"]] += line["picked_quantity"] or line["pending_quantity"]
        elif line["state"] in ("substituted", "substitute_pending"):
            live[line["substitute"]["product_id"]] += line["substitute"]["quantity"]
    for pid in PRODUCTS:
        on_hand, reserved = await pool.fetchrow("SELECT on_hand, reserved FROM stock WHERE product_id = $1", pid)
        assert on_hand == initial[pid] + restocked[pid] - committed[pid], pid
        assert reserved == live[pid], (pid, reserved, live[pid])
        assert 0 <= reserved <= on_hand
