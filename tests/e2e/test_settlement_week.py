"""Settlement, whole (issue 17 item 8): a week's orders on the three real services, each with a
different ending, settled to the fen.

A market with a fish and a vegetable stall delivers; a corner shop sells at its counter. Over the
"week": a prepaid market order with its carp weighed lighter than estimated (the difference
refunded) delivered at the door; a market order paid in cash to the rider at the door; a shop
order paid on delivery that no rider took, collected and paid in cash at the counter instead; a
prepaid pickup cancelled (refunded); one never collected and returned to the shelf (refunded);
one collected; a neighbour's bag of a group buy at the shop, its leader taking a commission. Then
the rider hands part of the cash in at a desk, the fish stall is paid part of what it is owed,
and the operator closes the period. Every shop's, stall's and the rider's statement of the
closed period is checked against the orders' own ledgers (GET /orders/{id}/ledger) and lines,
and the group buy's bag against the deal's own money. A correction after the close lands in the
next period, marked late, and leaves the closed statement as it was; closing the period twice
is a 409, and a shop's staff asking for another shop's statement a 403.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import Rider, System, online, shopper, wait_for_catalog, wait_status
from tests.e2e.test_delivery import told_by_the_counter
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

HOME = {"text": "3-201 Wenchang Lane", "lat": 32.0425, "lon": 118.7870}
HANDED_OVER = ("DELIVERED", "COLLECTED")


async def put(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> None:
    r = await client.put(path, json=body)
    assert r.status_code in (200, 201), f"{path}: {r.text}"


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


class Circle:
    """The test's market (two stalls) and corner shop, made as an operator would."""

    def __init__(self, system: System) -> None:
        tag = uuid.uuid4().hex[:6]
        self.system = system
        self.market, self.shop = f"market-{tag}", f"shop-{tag}"
        self.fish, self.veg = f"{self.market}-fish", f"{self.market}-veg"
        self.carp, self.bokchoy = f"{self.fish}-carp", f"{self.veg}-bokchoy"
        self.water, self.noodles, self.eggs = f"{self.shop}-water", f"{self.shop}-noodles", f"{self.shop}-eggs"

    async def open(self, admin: httpx.AsyncClient) -> None:
        place: dict[str, Any] = {"lat": 32.04, "lon": 118.79, "accept_limit_s": 600}
        await put(
            admin,
            f"/admin/locations/{self.market}",
            {
                "kind": "market",
                "category": "wet_market",
                "name_zh": "菜场",
                "name_en": "Market",
                "delivery_fee_fen": 300,
                **place,
            },
        )
        for stall, name in ((self.fish, "Fish"), (self.veg, "Veg")):
            await put(
                admin,
                f"/admin/locations/{stall}",
                {
                    "kind": "stall",
                    "category": "stall",
                    "parent_id": self.market,
                    "name_zh": name,
                    "name_en": name,
                    **place,
                },
            )
        await put(
            admin,
            f"/admin/locations/{self.shop}",
            {
                "kind": "shop",
                "category": "convenience",
                "name_zh": "小店",
                "name_en": "Corner shop",
                "delivery_fee_fen": 200,
                **place,
            },
        )
        products: dict[str, tuple[str, dict[str, Any]]] = {
            self.carp: (self.fish, {"unit": "g", "grams_per_piece": 600, "price_fen": 1800, "on_hand": 6000}),
            self.bokchoy: (self.veg, {"price_fen": 300, "on_hand": 50}),
            self.water: (self.shop, {"price_fen": 500, "on_hand": 50}),
            self.noodles: (self.shop, {"price_fen": 400, "on_hand": 50}),
            self.eggs: (self.shop, {"price_fen": 500, "on_hand": 50}),
        }
        for pid, (location, spec) in products.items():
            await put(
                admin,
                f"/admin/products/{pid}",
                {"location_id": location, "name_zh": pid, "name_en": pid, "category": "test", "unit": "piece", **spec},
            )
        await wait_for_catalog(self.system, [self.carp, self.bokchoy], self.market)
        await wait_for_catalog(self.system, [self.water, self.noodles, self.eggs], self.shop)

    def staff(self, location: str) -> httpx.AsyncClient:
        return self.system.client("inventory", Role.STORE_STAFF, f"staff-{location}", store=location)

    async def pack(self, order_id: str, store_id: str, picks: dict[str, dict[int, dict[str, Any]]]) -> None:
        """The shop's (or market's) counter accepts; each location (a stall, or the shop) picks its lines
        (line no -> body) and packs."""
        async with self.staff(store_id) as counter:
            await ok(await counter.post(f"/stores/{store_id}/orders/{order_id}/accept"))
        for location, lines in picks.items():
            async with self.staff(location) as staff:
                base = f"/stores/{location}/orders/{order_id}"
                await ok(await staff.post(f"{base}/picking"))
                for line_no, body in lines.items():
                    await ok(await staff.post(f"{base}/lines/{line_no}/picked", json=body))
                await ok(await staff.post(f"{base}/packed", json={"bags": 1, "weight_g": 800}))

    async def hand_over(self, location: str, order_id: str, code: str, cash_fen: int | None = None) -> None:
        body: dict[str, Any] = {"code": code, "to": "shopper"}
        if cash_fen is not None:
            body["cash_collected_fen"] = cash_fen
        async with self.staff(location) as staff:
            await ok(await staff.post(f"/stores/{location}/orders/{order_id}/handover", json=body))


async def place(me: httpx.AsyncClient, store_id: str, lines: dict[str, int], **extra: Any) -> str:
    body = {
        "store_id": store_id,
        "lines": [{"product_id": pid, "quantity": q} for pid, q in lines.items()],
        "fulfilment": {"mode": "pickup"},
        **extra,
    }
    placed = await me.post("/orders", headers=key(), json=body)
    assert placed.status_code == 201, placed.text
    order_id = str(placed.json()["id"])
    await wait_status(me, order_id, "CONFIRMED")
    return order_id


async def deliver(circle: Circle, rider: Rider, me: httpx.AsyncClient, order_id: str, cash_fen: int | None) -> None:
    """The rider takes the offer, collects the bag with the market's handover code and hands it over at the door."""
    offer = await rider.offer_for(order_id)
    await ok(await rider.client.post(f"/offers/{offer['id']}/accept"))
    await rider.step(order_id, "at-shop")
    await rider.step(order_id, "picked-up", {"code": await told_by_the_counter(circle.system, circle.market, order_id)})
    await wait_status(me, order_id, "OUT_FOR_DELIVERY")
    await rider.step(order_id, "at-door")
    code = (await me.get(f"/orders/{order_id}")).json()["delivery_code"]
    body: dict[str, Any] = {"code": code}
    if cash_fen is not None:
        body["cash_collected_fen"] = cash_fen
    await rider.step(order_id, "delivered", body)
    await wait_status(me, order_id, "DELIVERED")


async def due_at_door(me: httpx.AsyncClient, order_id: str) -> int:
    money = await ok(await me.get(f"/orders/{order_id}/ledger"))
    assert money["due_at_door_fen"] is not None, money
    return int(money["due_at_door_fen"])


async def counter_cash_order(circle: Circle, me: httpx.AsyncClient) -> str:
    """Pay on delivery, but no rider is on shift: the shopper takes the pickup offered and pays at the counter."""
    order_id = await place(
        me,
        circle.shop,
        {circle.water: 2},
        fulfilment={"mode": "delivery", "address": HOME},
        payment="on_delivery",
        contact_phone="+86 138 0000 0000",
    )
    await circle.pack(order_id, circle.shop, {circle.shop: {1: {}}})

    async def offered() -> bool:
        return bool((await me.get(f"/orders/{order_id}")).json().get("pickup_offer"))

    await eventually(offered, within=40)
    await ok(await me.post(f"/orders/{order_id}/pickup-offer", headers=key(), json={"accept": True}))
    ready = await wait_status(me, order_id, "READY_FOR_PICKUP")
    await circle.hand_over(circle.shop, order_id, ready["handover_code"], cash_fen=await due_at_door(me, order_id))
    await wait_status(me, order_id, "COLLECTED")
    return order_id


async def counter_orders(circle: Circle, me: httpx.AsyncClient) -> dict[str, str]:
    """Prepaid pickups at the shop: one cancelled, one never collected and returned, one collected."""
    ids = {}
    ids["cancelled"] = await place(me, circle.shop, {circle.noodles: 1})
    await ok(await me.post(f"/orders/{ids['cancelled']}/cancel", headers=key()))
    await wait_status(me, ids["cancelled"], "CANCELLED")

    ids["returned"] = await place(me, circle.shop, {circle.water: 1, circle.noodles: 2})
    await circle.pack(ids["returned"], circle.shop, {circle.shop: {1: {}, 2: {}}})
    await wait_status(me, ids["returned"], "READY_FOR_PICKUP")
    async with circle.staff(circle.shop) as staff:
        back = [{"line_no": 1, "restocked": 1, "written_off": 0}, {"line_no": 2, "restocked": 2, "written_off": 0}]
        await ok(await staff.post(f"/stores/{circle.shop}/orders/{ids['returned']}/return", json={"lines": back}))
    await wait_status(me, ids["returned"], "RETURNED")

    ids["collected"] = await place(me, circle.shop, {circle.water: 3})
    await circle.pack(ids["collected"], circle.shop, {circle.shop: {1: {}}})
    ready = await wait_status(me, ids["collected"], "READY_FOR_PICKUP")
    await circle.hand_over(circle.shop, ids["collected"], ready["handover_code"])
    await wait_status(me, ids["collected"], "COLLECTED")
    return ids


CUTOFF_S = 8  # time to open and join a group buy on a busy machine


async def group_buy_bag(circle: Circle) -> dict[str, Any]:
    """A leader's group buy of eggs at the shop (10 % commission): a neighbour joins, the cutoff closes it,
    the counter packs the bag, the leader fetches it and hands it out against the neighbour's code."""
    system, leader_id = circle.system, f"leader-{circle.shop}"
    cutoff = datetime.now(UTC) + timedelta(seconds=CUTOFF_S)
    async with (
        system.client("orders", Role.STORE_STAFF, "clerk", store=circle.shop) as staff,
        system.client("orders", Role.SHOPPER, leader_id, balance_fen=0) as leader,
        shopper(system) as zhao,
        circle.staff(circle.shop) as counter,
    ):
        await ok(await staff.post("/group-leaders", json={"shopper": leader_id}), 201)
        deal = {
            "store_id": circle.shop,
            "title": "Eggs for building 3",
            "items": [{"product_id": circle.eggs, "group_price_fen": 400, "per_person_limit": 3, "cap": 20}],
            "minimum_kind": "participants",
            "minimum": 1,
            "cutoff_at": cutoff.isoformat(),
            "pickup": {"kind": "place", "name": "Courtyard of building 3", "lat": 32.0410, "lon": 118.7905},
            "window": {"start": cutoff.isoformat(), "end": (cutoff + timedelta(hours=2)).isoformat()},
            "leader_commission_bp": 1000,
        }
        deal_id = (await ok(await leader.post("/group-buys", json=deal), 201))["id"]
        await ok(await staff.post(f"/group-buys/{deal_id}/accept"))

        async def status_is(status: str) -> bool:
            return bool((await leader.get(f"/group-buys/{deal_id}")).json()["status"] == status)

        await eventually(lambda: status_is("open"), CUTOFF_S - 2)
        await ok(
            await zhao.put(f"/group-buys/{deal_id}/share", json={"items": [{"product_id": circle.eggs, "quantity": 2}]})
        )
        await eventually(lambda: status_is("closed"), 30)

        async def packed() -> bool:
            r = await counter.post(
                f"/stores/{circle.shop}/group-buys/{deal_id}/bags/1/packed",
                json={"lines": [{"line_no": 1, "filled": "filled"}]},
            )
            return r.status_code == 200  # 404/409 until inventory has the packing list

        await eventually(packed)
        await ok(await leader.post(f"/group-buys/{deal_id}/arrival"))
        code = (await zhao.get(f"/group-buys/{deal_id}")).json()["my_share"]["collection_code"]
        await ok(await leader.post(f"/group-buys/{deal_id}/bags/1/collect", json={"code": code}))
        return dict((await leader.get(f"/group-buys/{deal_id}")).json())


def expected_books(
    orders: dict[str, tuple[dict[str, Any], dict[str, Any]]], deals: list[dict[str, Any]], market: str
) -> dict[str, Any]:
    """What each account should say, from the orders alone: each (order, ledger) as the shopper's app sees them.

    A handed-over order owes its shop (or stalls) its final price, less the platform fee and the cash
    its counter kept; the goods go to the stall each line came from, the delivery fee to the shop or
    market. An order that ends without being handed over owes nothing, and all it took came back.
    """
    owed: dict[str, int] = defaultdict(int)
    per_order: dict[str, int] = {}
    rider_cash = 0
    for order, money in orders.values():
        assert money["reconciles"], money
        if order["status"] not in HANDED_OVER:
            assert money["final_fen"] in (0, None), money
            assert money["paid_fen"] == money["refund_fen"], "all it took came back"
            per_order[order["id"]] = 0
            continue
        goods = 0
        for line in order["lines"]:
            owed[line["location_id"]] += line["final_fen"] or 0
            goods += line["final_fen"] or 0
        store = order["store_id"]
        rest = money["final_fen"] - money["platform_fee_fen"] - goods  # the delivery fee, if carried
        owed[store] += rest
        cash = money["cash_collected_fen"] or 0
        if order["fulfilment"]["mode"] == "delivery" and order["status"] == "DELIVERED":
            rider_cash += cash
        else:
            owed[store] -= cash  # kept at the counter
        per_order[order["id"]] = (
            money["final_fen"] - money["platform_fee_fen"] - (0 if order["status"] == "DELIVERED" else cash)
        )
    for deal in deals:  # a collected bag: its goods, less the leader's commission, are the shop's
        assert all(share["money"]["reconciles"] for share in deal["shares"]), deal["shares"]
        owed[deal["store_id"]] += deal["totals"]["shop_takings_fen"]
    market_total = sum(fen for location, fen in owed.items() if location == market or location.startswith(f"{market}-"))
    return {"owed": dict(owed), "market": market_total, "per_order": per_order, "rider_cash": rider_cash}


async def test_a_week_settles_to_the_fen_against_the_orders_ledgers(system, admin, dispatcher, riders) -> None:
    circle = Circle(system)
    await circle.open(admin)
    ops = system.client("orders", Role.ADMIN, "ops-settle")
    async with ops, shopper(system) as li, shopper(system) as wang:
        # No rider on shift yet: Wang's cash order goes to the counter while Li's pickups run beside it.
        cash_at_counter, counter, deal = await asyncio.gather(
            counter_cash_order(circle, wang), counter_orders(circle, li), group_buy_bag(circle)
        )
        ids = {"cash_at_counter": cash_at_counter, **counter}

        rider = await online(system, dispatcher, riders, 32.0415, 118.7855)
        ids["weighed"] = await place(
            li, circle.market, {circle.carp: 1, circle.bokchoy: 2}, fulfilment={"mode": "delivery", "address": HOME}
        )
        lines = {ln["product_id"]: ln["line_no"] for ln in (await li.get(f"/orders/{ids['weighed']}")).json()["lines"]}
        await circle.pack(
            ids["weighed"],
            circle.market,
            {circle.fish: {lines[circle.carp]: {"weight_g": 540}}, circle.veg: {lines[circle.bokchoy]: {}}},
        )
        await wait_status(li, ids["weighed"], "PACKED")
        await deliver(circle, rider, li, ids["weighed"], None)

        ids["cash_at_door"] = await place(
            wang,
            circle.market,
            {circle.bokchoy: 3},
            fulfilment={"mode": "delivery", "address": HOME},
            payment="on_delivery",
            contact_phone="+86 138 0000 0001",
        )
        await circle.pack(ids["cash_at_door"], circle.market, {circle.veg: {1: {}}})
        await wait_status(wang, ids["cash_at_door"], "PACKED")
        await deliver(circle, rider, wang, ids["cash_at_door"], await due_at_door(wang, ids["cash_at_door"]))

        orders: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        for name, order_id in ids.items():
            me = wang if name.startswith("cash") else li
            orders[name] = (
                (await me.get(f"/orders/{order_id}")).json(),
                await ok(await me.get(f"/orders/{order_id}/ledger")),
            )
        weighed = orders["weighed"][1]
        assert weighed["refund_fen"] == 1080 - 972, "the carp weighed 540 g of 600: the difference came back"
        want = expected_books(orders, [deal], circle.market)
        assert want["rider_cash"] == orders["cash_at_door"][1]["cash_collected_fen"] > 0

        # The rider hands part of the door's cash in at the service centre's desk; the fish stall is paid part.
        desk = f"desk-{uuid.uuid4().hex[:6]}"
        await ok(await ops.put(f"/desks/{desk}", json={"name_zh": "服务中心", "name_en": "Centre", "float_fen": 0}))
        handed = 500
        await ok(
            await ops.post(
                f"/settlement/riders/{rider.id}/hand-ins", headers=key(), json={"amount_fen": handed, "desk": desk}
            ),
            201,
        )
        day = await ok(await ops.get(f"/desks/{desk}/day"))
        assert (day["hand_in_fen"], day["expected_fen"]) == (handed, handed), "the hand-in is in the desk's drawer"
        paid = 600
        too_much = await ops.post(
            f"/settlement/shops/{circle.fish}/payouts",
            headers=key(),
            json={"amount_fen": want["owed"][circle.fish] + 1},
        )
        assert too_much.status_code == 409, too_much.text
        await ok(
            await ops.post(
                f"/settlement/shops/{circle.fish}/payouts",
                headers=key(),
                json={"amount_fen": paid, "note": "transfer 1"},
            ),
            201,
        )

        # Close the week. A second close of the same period is refused.
        closed = await ok(await ops.post("/settlement/periods", json={}), 201)
        twice = await ops.post("/settlement/periods", json={"ends_at": closed["ends_at"]})
        assert twice.status_code == 409, twice.text
        assert "already closed" in twice.json()["detail"]

        async def statement(location: str, **params: Any) -> dict[str, Any]:
            return dict(await ok(await ops.get(f"/settlement/shops/{location}/statement", params=params)))

        week = {
            loc: await statement(loc, period=closed["id"])
            for loc in (circle.market, circle.fish, circle.veg, circle.shop)
        }
        payouts = {circle.fish: paid}
        for location in (circle.fish, circle.veg, circle.shop):
            s = week[location]
            assert s["window"]["closed"] is True
            assert s["opening_owed_fen"] == 0, "a new shop owed nothing before the week"
            assert s["totals"]["owed_in_window"] == want["owed"][location] - payouts.get(location, 0), location
            assert s["closing_owed_fen"] == want["owed"][location] - payouts.get(location, 0), location
        market = week[circle.market]
        assert market["closing_owed_fen"] == want["market"] - paid
        assert sorted(market["accounts"]) == sorted([circle.market, circle.fish, circle.veg])
        assert [p["amount_fen"] for p in week[circle.fish]["payouts"]] == [-paid]

        # Order by order, each statement line says what its ledger says.
        on_statement = {o["order_id"]: o for s in (market, week[circle.shop]) for o in s["orders"]}
        for name, (order, money) in orders.items():
            listed = on_statement[order["id"]]
            assert listed["owed_fen"] == want["per_order"][order["id"]], name
            if order["status"] == "RETURNED":
                assert listed["returned_fen"] == money["refund_fen"] > 0, name
            else:
                assert listed["refund_fen"] == money["refund_fen"], name
        assert (
            on_statement[ids["cash_at_counter"]]["cash_taken_fen"] == orders["cash_at_counter"][1]["cash_collected_fen"]
        )
        carp_line = next(ln for ln in on_statement[ids["weighed"]]["lines"] if ln["product_id"] == circle.carp)
        assert (carp_line["final_quantity"], carp_line["final_fen"]) == (540, 972), "the weight as weighed"
        assert on_statement[ids["weighed"]]["delivery_fee_fen"] == 300
        totals = deal["totals"]
        assert totals["leader_commission_fen"] == 80, "10 % of the bag's ¥8.00 of eggs"
        assert [
            (d["group_buy_id"], d["bags"], d["goods_fen"], d["commission_fen"], d["owed_fen"])
            for d in week[circle.shop]["group_buys"]
        ] == [(deal["id"], 1, totals["goods_fen"], totals["leader_commission_fen"], totals["shop_takings_fen"])]

        rider_week = await ok(
            await ops.get(f"/settlement/riders/{rider.id}/statement", params={"period": closed["id"]})
        )
        assert (rider_week["collected_fen"], rider_week["handed_in_fen"], rider_week["outstanding_fen"]) == (
            want["rider_cash"],
            handed,
            want["rider_cash"] - handed,
        )
        books = await ok(await ops.get("/settlement/accounts"))
        assert books["total_fen"] == 0

        # A correction after the close: the carp was weighed on a scale reading 10 g heavy.
        fixed = await ok(
            await ops.post(
                "/settlement/corrections",
                headers=key(),
                json={
                    "location_id": circle.fish,
                    "amount_fen": -18,
                    "reason": "scale read 10 g heavy",
                    "order_id": ids["weighed"],
                },
            ),
            201,
        )
        assert fixed["corrects_period"] == closed["id"]
        assert await statement(circle.fish, period=closed["id"]) == week[circle.fish], "a closed period never changes"
        now = await statement(circle.fish)
        assert now["window"]["since"] is not None
        assert now["opening_owed_fen"] == week[circle.fish]["closing_owed_fen"]
        assert [(c["amount_fen"], c["late"], c["corrects_period"]) for c in now["corrections"]] == [
            (-18, True, closed["id"])
        ]
        assert now["closing_owed_fen"] == week[circle.fish]["closing_owed_fen"] - 18
        assert "late" in now["corrections"][0]["note"]

    # Staff see their own shop's statement, and only theirs.
    async with system.client("orders", Role.STORE_STAFF, "clerk", store=circle.shop) as clerk:
        own = await ok(await clerk.get(f"/settlement/shops/{circle.shop}/statement", params={"period": closed["id"]}))
        assert own["closing_owed_fen"] == week[circle.shop]["closing_owed_fen"]
        for other in (circle.market, circle.fish):
            refused = await clerk.get(f"/settlement/shops/{other}/statement", params={"period": closed["id"]})
            assert refused.status_code == 403, refused.text
    async with system.client("orders", Role.STORE_STAFF, "fishmonger", store=circle.fish) as fishmonger:
        refused = await fishmonger.get(f"/settlement/shops/{circle.veg}/statement")
        assert refused.status_code == 403, refused.text
