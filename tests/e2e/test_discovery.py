"""A shopper discovers the circle: which shops deliver to the door, which are a walk away, and
where a product is sold — all from orders' read models, fed by inventory's catalog events."""

from __future__ import annotations

import random
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.e2e.conftest import System, shopper
from tests.waiting import eventually

pytestmark = pytest.mark.e2e
M_PER_DEG_LAT = 111_195.0


def north(door: tuple[float, float], metres: float) -> tuple[float, float]:
    return door[0] + metres / M_PER_DEG_LAT, door[1]


async def put_shop(admin: httpx.AsyncClient, shop_id: str, name_zh: str, at: tuple[float, float], **extra: Any) -> None:
    body = {
        "kind": "shop",
        "category": "grocery",
        "name_zh": name_zh,
        "name_en": shop_id,
        "lat": at[0],
        "lon": at[1],
        **extra,
    }
    response = await admin.put(f"/admin/locations/{shop_id}", json=body)
    assert response.status_code in (200, 201), response.text


async def put_product(admin: httpx.AsyncClient, shop_id: str, name_zh: str, name_en: str, on_hand: int) -> str:
    pid = f"{shop_id}-{uuid.uuid4().hex[:4]}"
    response = await admin.put(
        f"/admin/products/{pid}",
        json={
            "location_id": shop_id,
            "name_zh": name_zh,
            "name_en": name_en,
            "category": "fish",
            "unit": "piece",
            "price_fen": 2400,
            "on_hand": on_hand,
        },
    )
    assert response.status_code in (200, 201), response.text
    return pid


async def test_a_shopper_finds_the_shops_that_serve_her_door_and_a_fish_by_its_pinyin(
    system: System, admin: httpx.AsyncClient
) -> None:
    # A neighbourhood of its own, far from every other test's shops.
    door = (30.0 + random.uniform(0, 1), 120.0 + random.uniform(0, 1))
    tag = uuid.uuid4().hex[:6]
    near, far, shut = f"near-{tag}", f"far-{tag}", f"shut-{tag}"
    in_three_days = (datetime.now(ZoneInfo(system.settings.timezone)).weekday() + 3) % 7
    # Near: 300 m north (390 m by street), delivers 1 km for 3 yuan. Far: 1 km north, delivers 1 km.
    await put_shop(admin, near, "近邻鱼店", north(door, 300), delivery_radius_m=1000, delivery_fee_fen=300)
    await put_shop(admin, far, "远方超市", north(door, 1000), delivery_radius_m=1000, delivery_fee_fen=500)
    await put_shop(
        admin,
        shut,
        "打烊鱼店",
        north(door, 650),
        delivery_radius_m=1000,
        windows=[{"day": in_three_days, "opens": "06:00", "closes": "07:00"}],
    )
    near_carp = await put_product(admin, near, "新鲜草鱼", "Fresh grass carp", on_hand=6)
    far_carp = await put_product(admin, far, "草鱼", "Grass carp", on_hand=4)
    shut_carp = await put_product(admin, shut, "草鱼", "Grass carp", on_hand=4)

    # From a point 700 m north of the door, all three deliver: the near shop is 520 street metres
    # away, the far one 390, the closed one 65.
    between = north(door, 700)
    async with shopper(system) as grandma:

        async def everything_arrived() -> list[dict[str, Any]] | None:
            response = await grandma.get("/circle/search", params={"q": "caoyu", "lat": between[0], "lon": between[1]})
            assert response.status_code == 200, response.text
            rows = response.json()
            arrived = len(rows) == 3 and all(r["availability"] == "in_stock" for r in rows)
            return rows if arrived else None

        rows = await eventually(everything_arrived, within=30)
        # Open first, then nearest: the far shop is nearer to this point; the closed one comes last.
        assert [r["product_id"] for r in rows] == [far_carp, near_carp, shut_carp]
        assert rows[0]["shop"] == {
            "store_id": far,
            "location_id": far,
            "name_zh": "远方超市",
            "name_en": far,
            "distance_m": 390,
            "open_now": True,
        }
        assert rows[2]["shop"]["open_now"] is False

        # At the door, the far shop (1300 street metres) no longer delivers; the closed one is listed last.
        response = await grandma.get("/circle/shops", params={"lat": door[0], "lon": door[1]})
        assert response.status_code == 200, response.text
        assert [s["store_id"] for s in response.json()] == [near, shut]
        shop = response.json()[0]
        assert shop["delivers_here"] is True
        assert (shop["delivery_fee_fen"], shop["distance_m"], shop["walk_minutes"]) == (300, 390, 6)
        assert shop["open_now"] is True
        assert shop["busy"] == {"open_orders": 0, "level": "quiet"}
        assert shop["rating"] == {"stars": None, "count": 0}

        # On foot: the near shop (6 minutes) and the closed one (12), not the far one (19).
        response = await grandma.get("/circle/shops", params={"lat": door[0], "lon": door[1], "mode": "pickup"})
        walkable = {s["store_id"]: s for s in response.json()}
        assert list(walkable) == [near, shut]
        assert walkable[shut]["open_now"] is False
        assert walkable[shut]["opens_at"] is not None

        # Initials find only the fresh grass carp, with its shop.
        response = await grandma.get("/circle/search", params={"q": "XXCY", "lat": door[0], "lon": door[1]})
        assert [(r["product_id"], r["shop"]["store_id"]) for r in response.json()] == [(near_carp, near)]

        response = await grandma.get("/circle/search", params={"q": "caoyu", "lat": "200", "lon": door[1]})
        assert response.status_code == 422
        assert "lat" in response.json()["detail"]
