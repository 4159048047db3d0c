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
from tests.e2e.conftest import SHOPPER_FLOAT_FEN, System, available, online, shopper, top_up, wait_available
from tests.e2e.test_delivery import told_by_the_counter
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


WHOLE_CUTOFF_S = 10  # the whole deal: opening, four joins and a leave on a busy machine
WINDOW_S = 30  # the pickup window after the cutoff: packing, the trip and two collections fit in it


async def test_a_whole_deal_one_trip_brings_three_bags_two_are_collected_and_one_goes_back_refunded(
    system: System, make_shop: Any, dispatcher: httpx.AsyncClient, riders: list[Any]
) -> None:
    """The issue's whole deal: a leader opens it and the shop accepts; a helper joins for a resident and two
    shoppers join, one of whom leaves (the leader joins too); the cutoff closes it; the counter packs three
    bags, the resident's carp weighed over its estimate; one rider brings them to the pickup point; two bags
    are collected, the third is not and goes back refunded; every share's ledger reconciles."""
    carp_spec = {"unit": "g", "grams_per_piece": 600, "price_fen": 2400, "on_hand": 5000}
    shop = await make_shop({"eggs": 30}, products={"carp": carp_spec})
    eggs, carp = shop.products["eggs"], shop.products["carp"]
    rider = await online(system, dispatcher, riders, 32.0412, 118.7903)
    leader_id, helper_id = f"leader-{shop.store_id}", f"helper-{shop.store_id}"
    async with (
        system.client("orders", Role.STORE_STAFF, "clerk", store=shop.store_id) as staff,
        system.client("orders", Role.SHOPPER, leader_id, balance_fen=5_000) as leader,
        shopper(system) as wang,
        shopper(system) as li,
        system.client("orders", Role.HELPER, helper_id) as helper,
        system.client("orders", Role.SHOPPER, f"stranger-{shop.store_id}") as stranger,
        system.client("inventory", Role.STORE_STAFF, "counter", store=shop.store_id) as counter,
    ):
        # 1. The leader opens it; the shop accepts and inventory holds the caps.
        resident = (await helper.post("/residents", json={"name": "陈奶奶"})).json()["resident_id"]
        await top_up(system, resident, 5_000, by=Role.HELPER, by_subject=helper_id)
        assert (await staff.post("/group-leaders", json={"shopper": leader_id})).status_code == 201
        cutoff = datetime.now(UTC) + timedelta(seconds=WHOLE_CUTOFF_S)
        body = {
            **deal_body(shop.store_id, eggs, 2),
            "title": "Carp and eggs for building 3",
            "items": [
                {"product_id": carp, "group_price_fen": 2000, "per_person_limit": 2, "cap": 3},  # per kg
                {"product_id": eggs, "group_price_fen": 400, "per_person_limit": 3, "cap": 20},
            ],
            "minimum_kind": "participants",
            "cutoff_at": cutoff.isoformat(),
            "pickup": {
                "kind": "place",
                "name": "Courtyard of building 3",
                "lat": 32.0410,
                "lon": 118.7905,
                "delivered": True,
            },
            "window": {"start": cutoff.isoformat(), "end": (cutoff + timedelta(seconds=WINDOW_S)).isoformat()},
        }
        opened = await leader.post("/group-buys", json=body)
        assert opened.status_code == 201, opened.text
        deal_id = opened.json()["id"]
        assert opened.json()["pickup"]["delivered"] is True
        assert (await staff.post(f"/group-buys/{deal_id}/accept")).status_code == 200
        await deal_status(leader, deal_id, "open", within=WHOLE_CUTOFF_S - 4)
        # 2-3. A helper joins for the resident, two shoppers join, one leaves; the leader joins as a neighbour.
        joins = [
            (helper, {"items": [{"product_id": carp, "quantity": 1}, {"product_id": eggs, "quantity": 1}],
                      "on_behalf_of": resident}),
            (wang, {"items": [{"product_id": eggs, "quantity": 3}]}),
            (li, {"items": [{"product_id": eggs, "quantity": 2}]}),
            (leader, {"items": [{"product_id": eggs, "quantity": 2}]}),
        ]  # fmt: skip
        for client, share in joins:
            joined = await client.put(f"/group-buys/{deal_id}/share", json=share)
            assert joined.status_code == 200, joined.text
        assert (await li.delete(f"/group-buys/{deal_id}/share")).status_code == 200
        # 4. The cutoff closes it: bags 1 (the resident), 2 (Wang), 3 (the leader), in joining order.
        closed = await deal_status(leader, deal_id, "closed")
        assert {s["number"]: s["holder"] for s in closed["shares"] if s["number"]} == {
            1: resident,
            2: wang.subject,
            3: leader_id,
        }

        async def trip(status: str) -> dict[str, Any] | None:
            found = (await leader.get(f"/group-buys/{deal_id}/trip")).json()
            return found if found["status"] == status else None

        planned = await eventually(lambda: trip("planned"))
        assert (planned["kind"], planned["bags"], planned["vehicle"]) == ("delivery", 3, "foot")
        # 5. The counter packs three bags; the resident's carp weighs 650 g against its 600 g estimate.
        bags = [
            (1, [{"line_no": 1, "filled": "filled", "weight_g": 650}, {"line_no": 2, "filled": "filled"}]),
            (2, [{"line_no": 2, "filled": "filled"}]),
            (3, [{"line_no": 2, "filled": "filled"}]),
        ]

        async def pack(number: int, lines: list[dict[str, Any]]) -> dict[str, Any] | None:
            r = await counter.post(
                f"/stores/{shop.store_id}/group-buys/{deal_id}/bags/{number}/packed", json={"lines": lines}
            )
            return r.json() if r.status_code == 200 else None  # 404/409 until inventory has the packing list

        packed = [await eventually(lambda n=n, ln=ln: pack(n, ln)) for n, ln in bags]
        assert (packed[0]["goods_fen"], packed[0]["refund_fen"]) == (1700, -100)  # ¥13.00 of carp, not ¥12.00
        assert packed[-1]["bags_left"] == 0
        # 6. One rider brings every bag; arrival is refused while they are on the way, and to a stranger.
        opened_trip = await eventually(lambda: trip("open"))
        assert opened_trip["weight_g"] is not None
        offer = await rider.offer_for(deal_id)
        assert (await rider.client.post(f"/offers/{offer['id']}/accept")).status_code == 200
        early = await leader.post(f"/group-buys/{deal_id}/arrival")
        assert early.status_code == 409, early.text
        assert "still on their way" in early.json()["detail"]
        await rider.step(deal_id, "at-shop")
        await rider.step(deal_id, "picked-up", {"code": await told_by_the_counter(system, shop.store_id, deal_id)})
        await rider.step(deal_id, "at-door")
        handed = await rider.client.post(f"/deliveries/{deal_id}/delivered", json={"code": "000000"})
        assert handed.status_code == 409  # the leader's confirmation completes the trip, not the rider
        await eventually(lambda: trip("at_pickup"))
        assert (await stranger.post(f"/group-buys/{deal_id}/arrival")).status_code == 403
        assert (await leader.post(f"/group-buys/{deal_id}/arrival")).status_code == 200
        # 7. Two bags collected (a code works once); Wang's is not, and goes back at the window's end.
        code_1 = (await helper.get(f"/group-buys/{deal_id}?resident={resident}")).json()["my_share"]["collection_code"]
        code_3 = (await leader.get(f"/group-buys/{deal_id}")).json()["my_share"]["collection_code"]
        assert (await leader.post(f"/group-buys/{deal_id}/bags/1/collect", json={"code": code_1})).status_code == 200
        assert (await leader.post(f"/group-buys/{deal_id}/bags/3/collect", json={"code": code_3})).status_code == 200
        twice = await leader.post(f"/group-buys/{deal_id}/bags/3/collect", json={"code": code_3})
        assert twice.status_code == 409
        assert "a code is used once" in twice.json()["detail"]

        async def returned() -> dict[str, Any] | None:
            found = (await leader.get(f"/group-buys/{deal_id}/bags")).json()
            return found if found["bags"][1]["state"] == "returned" else None

        after = await eventually(returned, within=WINDOW_S + 15)
        assert [b["state"] for b in after["bags"]] == ["collected", "returned", "collected"]
        assert after["arrived_by"] == leader_id
        # 8. Every ledger reconciles: the resident paid the heavier carp, Wang and Li have all their money back.
        final = (await leader.get(f"/group-buys/{deal_id}")).json()
        assert all(s["money"]["reconciles"] for s in final["shares"]), final["shares"]
        money = {s["holder"]: s["money"] for s in final["shares"]}
        assert money[resident]["due_fen"] == 1700
        assert (money[resident]["paid_fen"], money[resident]["extra_charged_fen"]) == (1600, 100)  # the carp's 50 g
        assert money[wang.subject]["paid_fen"] == money[wang.subject]["refund_fen"] == 1200
        assert money[li.subject]["paid_fen"] == money[li.subject]["refund_fen"]
        assert final["totals"]["goods_fen"] == final["totals"]["shop_takings_fen"] == 1700 + 800
        assert (await wang.get("/balance")).json()["balance_fen"] == SHOPPER_FLOAT_FEN
        assert (await li.get("/balance")).json()["balance_fen"] == SHOPPER_FLOAT_FEN
        assert (await eventually(lambda: trip("arrived")))["rider_id"] == rider.id
    await wait_available(system, shop.store_id, {eggs: 30 - 1 - 2, carp: 5000 - 650})  # Wang's 3 eggs back
