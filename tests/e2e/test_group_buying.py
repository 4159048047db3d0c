"""Group buying over the real services: a leader's deal accepted by the shop, its cap held by inventory,
neighbours joining, the cutoff sending one consolidated order to the counter; and a deal that misses its
minimum refunding everyone and giving the stock back. The two deals run side by side to share the wait."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import SHOPPER_FLOAT_FEN, System, available, shopper, top_up, wait_available
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

CUTOFF_S = 8  # long enough to join on a busy machine, short enough to wait for


def deal_body(store_id: str, product_id: str, minimum: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "store_id": store_id,
        "title": "Eggs for building 3",
        "items": [{"product_id": product_id, "group_price_fen": 400, "per_person_limit": 3, "cap": 20}],
        "minimum_kind": "pieces",
        "minimum": minimum,
        "cutoff_at": (now + timedelta(seconds=CUTOFF_S)).isoformat(),
        "pickup": {"kind": "place", "name": "Courtyard of building 3", "lat": 32.0410, "lon": 118.7905},
        "window": {
            "start": (now + timedelta(seconds=CUTOFF_S + 1)).isoformat(),
            "end": (now + timedelta(hours=2)).isoformat(),
        },
    }


async def deal_status(client: httpx.AsyncClient, deal_id: str, status: str, within: float = 30.0) -> dict[str, Any]:
    async def reached() -> dict[str, Any] | None:
        deal: dict[str, Any] = (await client.get(f"/group-buys/{deal_id}")).json()
        return deal if deal["status"] == status else None

    found: dict[str, Any] = await eventually(reached, within)
    return found


async def run_deal(system: System, make_shop: Any, *, minimum: int) -> tuple[str, dict[str, Any], str, str]:
    """Open, accept, wait until open; a helper joins for a resident, two neighbours join and one of them leaves;
    returns what the cutoff made."""
    shop = await make_shop({"eggs": 30})
    eggs = shop.products["eggs"]
    leader_id = f"leader-{shop.store_id}"
    async with (
        system.client("orders", Role.STORE_STAFF, "clerk", store=shop.store_id) as staff,
        system.client("orders", Role.SHOPPER, leader_id, balance_fen=0) as leader,
        shopper(system) as wang,
        shopper(system) as li,
        system.client("orders", Role.HELPER, f"helper-{shop.store_id}") as helper,
    ):
        resident = (await helper.post("/residents", json={"name": "陈奶奶"})).json()["resident_id"]
        await top_up(system, resident, 5_000, by=Role.HELPER, by_subject=f"helper-{shop.store_id}")
        assert (await staff.post("/group-leaders", json={"shopper": leader_id})).status_code == 201
        opened = await leader.post("/group-buys", json=deal_body(shop.store_id, eggs, minimum))
        assert opened.status_code == 201, opened.text
        deal_id = opened.json()["id"]
        assert (await staff.post(f"/group-buys/{deal_id}/accept")).status_code == 200
        await deal_status(leader, deal_id, "open", within=CUTOFF_S - 2)  # inventory held the whole cap
        assert (await available(system, shop.store_id))[eggs] == 10
        share = {"items": [{"product_id": eggs, "quantity": 3}]}
        for neighbour in (wang, li):
            joined = await neighbour.put(f"/group-buys/{deal_id}/share", json=share)
            assert joined.status_code == 200, joined.text
        for_her = {"items": [{"product_id": eggs, "quantity": 1}], "on_behalf_of": resident}
        assert (await helper.put(f"/group-buys/{deal_id}/share", json=for_her)).status_code == 200
        assert (await li.delete(f"/group-buys/{deal_id}/share")).status_code == 200
        assert (await wang.get("/balance")).json()["balance_fen"] == SHOPPER_FLOAT_FEN - 1200
        ended = await deal_status(leader, deal_id, "closed" if minimum <= 3 else "failed")
        wang_balance = (await wang.get("/balance")).json()["balance_fen"]
        li_balance = (await li.get("/balance")).json()["balance_fen"]
    assert li_balance == SHOPPER_FLOAT_FEN  # left before the cutoff: refunded at once
    return shop.store_id, ended, eggs, str(wang_balance)


async def test_a_deal_goes_ahead_with_one_consolidated_order_and_one_short_of_its_minimum_refunds_everyone(
    system: System, make_shop: Any
) -> None:
    (store, closed, eggs, wang_paid), (failed_store, failed, failed_eggs, wang_refunded) = await asyncio.gather(
        run_deal(system, make_shop, minimum=3), run_deal(system, make_shop, minimum=5)
    )

    assert closed["totals"]["participants"] == 2
    assert closed["totals"]["goods_fen"] == 1600
    assert all(s["money"]["reconciles"] for s in closed["shares"])
    assert int(wang_paid) == SHOPPER_FLOAT_FEN - 1200
    await wait_available(system, store, {eggs: 26})  # the order keeps the 4 in the bags, the rest is back
    async with system.client("inventory", Role.STORE_STAFF, "clerk", store=store) as counter:

        async def on_the_counter() -> list[dict[str, Any]]:
            queue = (await counter.get(f"/stores/{store}/queue")).json()
            return [p for p in queue if p["order_id"] == closed["id"]]

        [part] = await eventually(on_the_counter)
        assert part["status"] == "accepted"  # the deal's acceptance counts for its order
        numbered = {s["number"]: s["holder"] for s in closed["shares"] if s["number"]}
        bags = (await counter.get(f"/stores/{store}/group-buys/{closed['id']}")).json()
        assert bags["status"] == "ordered"
        assert [(b["number"], b["name"], [i["quantity"] for i in b["items"]]) for b in bags["bags"]] == [
            (1, numbered[1], [3]),  # Wang joined first
            (2, "陈奶奶", [1]),
        ]

    assert failed["reason"] == "minimum_not_met"
    assert all(s["money"]["reconciles"] for s in failed["shares"])
    assert int(wang_refunded) == SHOPPER_FLOAT_FEN
    await wait_available(system, failed_store, {failed_eggs: 30})
