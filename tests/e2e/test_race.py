"""The last pieces on the shelf: many shoppers at once, and never one piece sold twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import available, order_body, top_up
from tests.waiting import eventually

pytestmark = pytest.mark.e2e

PIECES = 50
SHOPPERS = 200


async def test_concurrent_orders_for_the_last_pieces_never_oversell(system, make_shop) -> None:
    shop = await make_shop({"eggs": PIECES}, accept_limit_s=600)  # nothing lapses during the test
    eggs = shop.products["eggs"]
    racers = [f"racer-{uuid.uuid4().hex[:8]}" for _ in range(SHOPPERS)]
    desk_at_once = asyncio.Semaphore(20)  # the 200 top-ups are set-up, not the race: 20 at a time

    async def one_eggs_worth(racer: str) -> None:
        async with desk_at_once:
            await top_up(system, racer, 500)  # exactly one egg's worth each

    await asyncio.gather(*(one_eggs_worth(racer) for racer in racers))
    tokens = [system.token(Role.SHOPPER, racer) for racer in racers]
    limits = httpx.Limits(max_connections=SHOPPERS)
    async with httpx.AsyncClient(base_url=system.url("orders"), timeout=60.0, limits=limits) as client:

        async def order(token: str) -> httpx.Response:
            return await client.post(
                "/orders",
                json=order_body(shop.store_id, {eggs: 1}),
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            )

        placed = await asyncio.gather(*(order(t) for t in tokens))
        assert Counter(r.status_code for r in placed) == {201: SHOPPERS}, [
            r.text for r in placed if r.status_code != 201
        ][:3]
        orders = {r.json()["id"]: t for r, t in zip(placed, tokens, strict=True)}

        async def settled() -> dict[str, dict] | None:
            async def get(order_id: str, token: str) -> dict:
                response = await client.get(f"/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 200, response.text
                return response.json()

            now = await asyncio.gather(*(get(o, t) for o, t in orders.items()))
            return None if any(o["status"] == "PLACED" for o in now) else {o["id"]: o for o in now}

        final = await eventually(settled, within=45, interval=0.5)

    statuses = Counter(o["status"] for o in final.values())
    assert statuses == {"CONFIRMED": PIECES, "REJECTED": SHOPPERS - PIECES}
    rejected = [o for o in final.values() if o["status"] == "REJECTED"]
    assert {o["reject_reason"] for o in rejected} == {"out_of_stock"}
    assert all(
        o["reject_details"]["short_lines"]
        == [{"product_id": eggs, "location_id": shop.store_id, "requested": 1, "available": 0, "unit": "piece"}]
        for o in rejected
    )
    assert await available(system, shop.store_id) == {eggs: 0}

    # Money follows the stock: those who got an egg paid for it, everyone else has theirs back.
    async with httpx.AsyncClient(base_url=system.url("orders"), timeout=60.0) as client:

        async def balance(token: str) -> int:
            response = await client.get("/balance", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.text
            return int(response.json()["balance_fen"])

        balances = await asyncio.gather(*(balance(t) for t in tokens))
    assert Counter(balances) == {0: PIECES, 500: SHOPPERS - PIECES}
