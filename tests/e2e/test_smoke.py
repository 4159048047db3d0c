"""The first flow, whole: an order placed over HTTP is confirmed through Kafka."""

from __future__ import annotations

import uuid

import pytest

from shared.vocabulary.roles import Role
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


async def test_placed_order_is_confirmed(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    async with system.client("orders", Role.SHOPPER, f"resident-{uuid.uuid4().hex[:6]}") as shopper:
        placed = await shopper.post(
            "/orders",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "store_id": shop.store_id,
                "lines": [{"product_id": shop.products["water"], "quantity": 2}],
                "fulfilment": {"mode": "pickup"},
            },
        )
        assert placed.status_code == 201, placed.text
        order_id = placed.json()["id"]

        async def confirmed() -> dict | None:
            body = (await shopper.get(f"/orders/{order_id}")).json()
            return body if body["status"] == "CONFIRMED" else None

        order = await eventually(confirmed)
    assert [e["status"] for e in order["timeline"] if e["status"]] == ["PLACED", "CONFIRMED"]
