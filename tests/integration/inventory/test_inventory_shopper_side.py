"""The shopper's side of inventory against real PostgreSQL: availability levels for search, delivery
fees in the catalog, and slot orders held at once but queued from their release time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import asyncpg
import httpx

from services.inventory.domain.catalog import Location, LocationChanges, ProductChanges
from services.inventory.entrypoints.answers import queued_answer, scheduled_answer
from services.inventory.service_layer import catalog, fulfilment, queries, reservations, stock_keeping
from shared.events.contracts import DeliverySlot, HandlingFlags, OrderCancelled, OrderPlaced
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.opening_hours import Window
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.roles import Role
from tests.fakes import FakeClock
from tests.integration.inventory.support import POLICY, as_, check_books, events, placed, run, stock
from tests.waiting import eventually

# Monday 23 November 2026, 21:00 in Nanjing: the shops below close at 20:00 and open at 08:00.
EVENING = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


ADMIN, SHOP, MARKET = as_(Role.ADMIN), as_(Role.STORE_STAFF, "shop"), as_(Role.STORE_STAFF, "market")


async def levels(pool: asyncpg.Pool, product_id: str) -> list[tuple[str, int]]:
    """Every StockLevelChanged of a product in the outbox, in order: (level, available)."""
    return [
        (p["level"], p["available"])
        for t, p in await events(pool)
        if t == "StockLevelChanged" and p["product_id"] == product_id
    ]


async def place(pool: asyncpg.Pool, event: OrderPlaced, at: datetime | None = None) -> None:
    await run(pool, lambda uow: reservations.on_order_placed(uow, event), FakeClock(at) if at else None)


async def queue_at(pool: asyncpg.Pool, location: Location, at: datetime) -> list[dict[str, Any]]:
    """The queue as GET /stores/{id}/queue answers it, at that time."""
    parts = await run(pool, lambda uow: queries.queue(uow, location), FakeClock(at))
    return [queued_answer(q).model_dump(mode="json") for q in parts]


async def scheduled_at(pool: asyncpg.Pool, location: Location, at: datetime) -> list[dict[str, Any]]:
    parts = await run(pool, lambda uow: queries.scheduled(uow, location), FakeClock(at))
    return [scheduled_answer(q).model_dump(mode="json") for q in parts]


def for_slot(event: OrderPlaced, release_at: datetime, **changes: Any) -> OrderPlaced:
    slot = DeliverySlot(start=release_at + timedelta(minutes=25), end=release_at + timedelta(minutes=55))
    update = {"fulfilment_mode": FulfilmentMode.DELIVERY, "slot": slot, "release_at": release_at, **changes}
    return event.model_copy(update=update)


# Availability for search


async def test_every_new_product_publishes_its_level_once(inv: asyncpg.Pool, client: httpx.AsyncClient) -> None:
    assert await levels(inv, "water") == [("in_stock", 50)]
    assert await levels(inv, "carp") == [("in_stock", 6000)]
    made = await client.post(
        "/locations/shop/products",
        headers=SHOP,
        json={
            "id": "vinegar",
            "name_zh": "镇江香醋",
            "name_en": "Zhenjiang vinegar",
            "category": "grocery",
            "unit": "piece",
            "price_fen": 850,
        },
    )
    assert made.status_code == 201, made.text
    assert await levels(inv, "vinegar") == [("out", 0)]  # nothing on the shelf yet
    catalog_event = next(p for t, p in await events(inv) if t == "StockLevelChanged" and p["product_id"] == "vinegar")
    assert catalog_event["store_id"] == "shop"
    assert catalog_event["location_id"] == "shop"


async def test_the_level_is_published_when_it_changes_and_not_on_every_sale(inv: asyncpg.Pool) -> None:
    await run(inv, lambda uow: catalog.update_product(uow, "water", ProductChanges(low_stock_threshold=10), "boss"))
    assert await levels(inv, "water") == [("in_stock", 50)]  # 50 is not low: nothing new

    await place(inv, placed("a", [("water", 30)]))  # 20 left: still in stock
    await place(inv, placed("b", [("water", 4)]))  # 16
    assert await levels(inv, "water") == [("in_stock", 50)]
    await place(inv, placed("c", [("water", 6)]))  # 10: at the threshold
    await place(inv, placed("d", [("water", 3)]))  # 7: still low, nothing new
    assert await levels(inv, "water") == [("in_stock", 50), ("low", 10)]

    await run(
        inv,
        lambda uow: reservations.on_order_cancelled(
            uow,
            OrderCancelled(
                order_id="a",
                store_id="shop",
                cancelled_by="u",
                reason="changed my mind",
                previous_status=OrderStatus.CONFIRMED,
            ),
        ),
    )  # 37 again
    assert (await levels(inv, "water"))[-1] == ("in_stock", 37)
    await run(inv, lambda uow: stock_keeping.adjust(uow, "water", -37, "a crate fell", "boss"))  # 0 available
    await run(inv, lambda uow: stock_keeping.restock(uow, "water", 5, "delivery", "boss"))  # 5: low
    await run(inv, lambda uow: stock_keeping.restock(uow, "water", 1, "", "boss"))  # 6: still low
    assert (await levels(inv, "water"))[-3:] == [("in_stock", 37), ("out", 0), ("low", 5)]

    # Picking and a returned bag move it too: picked as ordered keeps it, a shelf back restocks it.
    await run(inv, lambda uow: reservations.accept(uow, "shop", "b", "boss"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "shop", "b", 1, None, "boss"))
    assert len(await levels(inv, "water")) == 5
    await run(inv, lambda uow: reservations.reject(uow, "shop", "c", "boss", None))  # 6 back: 12, in stock
    assert (await levels(inv, "water"))[-1] == ("in_stock", 12)
    # Exactly one LowStock per crossing under the threshold still (its own rule: strictly under).
    assert [p["available"] for t, p in await events(inv) if t == "LowStock" and p["product_id"] == "water"] == [7, 0]
    await check_books(inv)


async def test_products_from_before_levels_get_theirs_published_once_at_start(inv: asyncpg.Pool) -> None:
    await inv.execute("UPDATE stock SET published_level = NULL WHERE product_id IN ('juice', 'tomato')")
    assert await run(inv, stock_keeping.publish_missing_levels) == 2
    assert await run(inv, stock_keeping.publish_missing_levels) == 0  # a restart publishes nothing new
    assert await levels(inv, "juice") == [("in_stock", 20), ("in_stock", 20)]
    assert len(await levels(inv, "water")) == 1


async def test_a_weighed_line_heavier_than_reserved_can_empty_the_shelf(inv: asyncpg.Pool) -> None:
    await place(inv, placed("fish", [("carp", 9)]))  # 5400 g of 6000 reserved
    assert await levels(inv, "carp") == [("in_stock", 6000)]
    await run(inv, lambda uow: reservations.accept(uow, "fish", "fish", "li"))
    await run(inv, lambda uow: fulfilment.pick_line(uow, "fish", "fish", 1, 6000, "li"))  # 11% heavier
    assert await levels(inv, "carp") == [("in_stock", 6000), ("out", 0)]
    assert await stock(inv, "carp") == (6000, 6000)


# Delivery fees


async def test_a_location_delivery_fee_is_kept_shown_and_published(
    inv: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    body = {
        "kind": "shop",
        "category": "supermarket",
        "name_zh": "苏果超市",
        "name_en": "Suguo",
        "lat": 32.04,
        "lon": 118.79,
        "delivery_fee_fen": 300,
    }
    assert (await client.put("/admin/locations/suguo", json=body, headers=ADMIN)).status_code == 200
    staff = as_(Role.STORE_STAFF, "suguo")
    assert (await client.get("/locations/suguo", headers=staff)).json()["delivery_fee_fen"] == 300

    changed = await client.patch("/locations/suguo", json={"delivery_fee_fen": 250}, headers=staff)
    assert changed.status_code == 200
    assert changed.json()["delivery_fee_fen"] == 250
    body.pop("delivery_fee_fen")
    body["name_en"] = "Suguo Supermarket"  # an admin edit that leaves the fee out keeps it
    assert (await client.put("/admin/locations/suguo", json=body, headers=ADMIN)).status_code == 200

    for bad in (-1, None, "three yuan"):
        refused = await client.patch("/locations/suguo", json={"delivery_fee_fen": bad}, headers=staff)
        assert refused.status_code == 422, (bad, refused.text)
    assert (await client.patch("/locations/suguo", json={"delivery_fee_fen": 100}, headers=SHOP)).status_code == 403

    fees = [
        p["delivery_fee_fen"] for t, p in await events(inv) if t == "LocationUpserted" and p["location_id"] == "suguo"
    ]
    assert fees == [300, 250, 250]
    stores = (await client.get("/stores", headers=as_(Role.SHOPPER))).json()
    assert next(s for s in stores if s["id"] == "suguo")["delivery_fee_fen"] == 250
    assert next(s for s in stores if s["id"] == "shop")["delivery_fee_fen"] == 0  # none set: free


# Slot orders


async def test_a_slot_order_is_held_at_once_and_queued_from_its_release(inv: asyncpg.Pool) -> None:
    release = EVENING + timedelta(hours=11, minutes=30)  # 08:30 tomorrow in Nanjing
    await run(
        inv,
        lambda uow: catalog.update_location(
            uow, "shop", LocationChanges(windows=[Window(day=d, opens=time(8), closes=time(20)) for d in range(7)])
        ),
    )
    # Ordered now, for now: the shop is closed.
    await place(inv, placed("now", [("water", 1)], mode="delivery"), EVENING)
    assert [t for t, _ in await events(inv, "now")] == ["StockRejected"]

    await place(inv, for_slot(placed("slot", [("water", 2), ("juice", 1)]), release), EVENING)
    reserved = next(p for t, p in await events(inv, "slot") if t == "StockReserved")
    deadline = release + timedelta(seconds=POLICY.accept_limit_s)
    assert datetime.fromisoformat(reserved["accept_deadline"]) == deadline
    assert [datetime.fromisoformat(p["accept_deadline"]) for p in reserved["parts"]] == [deadline]
    assert await stock(inv, "water") == (50, 2)
    assert await stock(inv, "juice") == (20, 1)
    assert await inv.fetchval("SELECT due_at FROM deadlines WHERE kind = 'accept' AND key = 'slot:shop'") == deadline
    row = await inv.fetchrow(
        "SELECT accept_deadline, release_at, slot_start, slot_end FROM reservations WHERE order_id = 'slot'"
    )
    assert (row["accept_deadline"], row["release_at"]) == (deadline, release)
    assert row["slot_start"] == release + timedelta(minutes=25)

    location = await run(inv, lambda uow: uow.locations.get("shop"))
    at_night = await queue_at(inv, location, EVENING)
    assert at_night == []
    waiting = await scheduled_at(inv, location, EVENING)
    assert [(w["order_id"], w["release_at"]) for w in waiting] == [("slot", release.isoformat())]
    assert waiting[0]["slot"] == {
        "start": (release + timedelta(minutes=25)).isoformat(),
        "end": (release + timedelta(minutes=55)).isoformat(),
    }
    assert waiting[0]["seconds_to_release"] == 11 * 3600 + 30 * 60

    released = await queue_at(inv, location, release + timedelta(seconds=60))
    assert [(p["order_id"], p["status"], p["seconds_left"]) for p in released] == [
        ("slot", "waiting", POLICY.accept_limit_s - 60)
    ]
    assert await scheduled_at(inv, location, release) == []


async def test_an_order_without_a_slot_or_released_already_is_worked_on_at_once(inv: asyncpg.Pool) -> None:
    at = datetime.now(UTC)
    await place(inv, placed("plain", [("cola", 1)]), at)
    late = for_slot(placed("late", [("cola", 1)]), at - timedelta(minutes=2))  # the event waited past its release
    await place(inv, late, at)
    for order_id in ("plain", "late"):
        reserved = next(p for t, p in await events(inv, order_id) if t == "StockReserved")
        assert datetime.fromisoformat(reserved["accept_deadline"]) == at + timedelta(seconds=POLICY.accept_limit_s)
    location = await run(inv, lambda uow: uow.locations.get("shop"))
    assert [p["order_id"] for p in await queue_at(inv, location, at)] == ["late", "plain"]


async def test_staff_see_a_slot_order_move_from_scheduled_to_the_queue(
    inv: asyncpg.Pool, client: httpx.AsyncClient
) -> None:
    # Far enough ahead that placing and the first reads finish before it on a loaded CI machine
    # (at 2 s, one run's scheduled list was read after the release had passed).
    release = datetime.now(UTC) + timedelta(seconds=6)
    flags = HandlingFlags(call_before_delivery=True)
    await place(
        inv,
        for_slot(
            placed("s1", [("carp", 1), ("bokchoy", 1)]),
            release,
            flags=flags,
            note="楼下按门铃两次",
            payment="on_delivery",
        ),
    )
    assert (await client.get("/stores/market/queue", headers=MARKET)).json() == []
    scheduled = (await client.get("/stores/market/queue/scheduled", headers=MARKET)).json()
    assert sorted(p["location_id"] for p in scheduled) == ["fish", "veg"]
    assert (await client.get("/stores/market/queue/scheduled", headers=SHOP)).status_code == 403

    async def queued() -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = (
            await client.get("/stores/fish/queue", headers=as_(Role.STORE_STAFF, "fish"))
        ).json()
        return parts

    parts = await eventually(queued, within=20)
    assert [p["order_id"] for p in parts] == ["s1"]
    part = parts[0]
    # What the shop must know about this resident: call first, cash at the door, and their note.
    assert part["flags"] == {"call_before_delivery": True, "pay_on_delivery": True}
    assert part["note"] == "楼下按门铃两次"
    assert part["release_at"] == release.isoformat()
    assert (await client.get("/stores/market/queue/scheduled", headers=MARKET)).json() == []
    pick_list = (await client.get("/stores/market/orders/s1/pick-list", headers=MARKET)).json()
    assert pick_list["flags"]["call_before_delivery"]
    assert pick_list["flags"]["pay_on_delivery"]
    assert pick_list["note"] == "楼下按门铃两次"
    assert pick_list["slot"] is not None
