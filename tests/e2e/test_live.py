"""The shopper's live view of a delivery, over real server-sent events: the rider's position only
while the bag is being carried, and nothing missed across a reconnection with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import System, online, shopper, wait_status
from tests.e2e.test_delivery import place_delivery, shop_packs, told_by_the_counter

pytestmark = pytest.mark.e2e


class Stream:
    """Reads server-sent events off a response, one event at a time."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self, within: float = 15.0) -> dict[str, Any]:
        event: dict[str, Any] = {}
        async with asyncio.timeout(within):
            async for line in self.lines:
                if not line:
                    if "event" in event or "data" in event:
                        return event
                    continue
                if line.startswith(":"):
                    continue  # keep-alive comment
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                event[field] = json.loads(value) if field == "data" else value
        raise AssertionError("the stream ended")


@asynccontextmanager
async def follow(client: httpx.AsyncClient, order_id: str, last_event_id: str | None = None) -> AsyncIterator[Stream]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with client.stream("GET", f"/orders/{order_id}/live", headers=headers, timeout=60) as response:
        assert response.status_code == 200, await response.aread()
        yield Stream(response)


async def test_a_shopper_follows_the_delivery_live_and_misses_nothing_on_reconnect(
    system: System, make_shop: Any, dispatcher: httpx.AsyncClient, riders: list[Any]
) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    rider = await online(system, dispatcher, riders, 32.0415, 118.7855)
    async with shopper(system) as me:
        order_id = await place_delivery(me, shop.store_id, shop.products["water"])
        order = await wait_status(me, order_id, "CONFIRMED")
        async with (
            system.client("dispatch", Role.SHOPPER, order["placed_by"]) as mine,
            system.client("dispatch", Role.SHOPPER, "a-neighbour") as neighbour,
        ):
            assert (await neighbour.get(f"/orders/{order_id}/live")).status_code == 404
            async with follow(mine, order_id) as live:
                first = await live.next()
                assert first["event"] == "status"
                assert first["data"]["rider_visible"] is False
                await shop_packs(system, shop.store_id, order_id)
                offer = await rider.offer_for(order_id)
                assert (await rider.client.post(f"/offers/{offer['id']}/accept")).status_code == 200
                await rider.step(order_id, "at-shop")
                rider.lat, rider.lon = 32.0418, 118.7858
                await rider.ping()
                await rider.step(
                    order_id, "picked-up", {"code": await told_by_the_counter(system, shop.store_id, order_id)}
                )
                _, before = await _step(live, "picked")
                assert not any("position" in str(e.get("event")) for e in before), (
                    "no rider position before the bag is picked up"
                )
                rider.lat, rider.lon = 32.0421, 118.7863
                await rider.ping()
                moving, _ = await _kind(live, "position")
                assert moving["data"]
                last_seen = moving["id"]
            # Disconnected: the rider reaches the door meanwhile.
            await rider.step(order_id, "at-door")
            async with follow(mine, order_id, last_event_id=last_seen) as resumed:
                missed, replayed = await _step(resumed, "door")
                assert _stream_id(missed["id"]) > _stream_id(last_seen), "the missed event arrives"
                assert all(_stream_id(e["id"]) > _stream_id(last_seen) for e in replayed if "id" in e), (
                    "nothing already seen is sent again"
                )


async def _step(stream: Stream, word: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen = []
    async with asyncio.timeout(20):
        while True:
            event = await stream.next()
            if word in str(event.get("event", "")).lower() or word in json.dumps(event.get("data", "")).lower():
                return event, seen
            seen.append(event)


async def _kind(stream: Stream, word: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen = []
    async with asyncio.timeout(20):
        while True:
            event = await stream.next()
            if word in str(event.get("event", "")).lower():
                return event, seen
            seen.append(event)


def _stream_id(value: str) -> tuple[int, int]:
    millis, _, seq = value.partition("-")
    return int(millis), int(seq or 0)


async def test_a_rider_hears_of_their_own_offer_and_nothing_of_anothers(
    system: System, make_shop: Any, dispatcher: httpx.AsyncClient, riders: list[Any]
) -> None:
    shop = await make_shop({"water": 10}, accept_limit_s=600)
    rider = await online(system, dispatcher, riders, 32.0415, 118.7855)
    async with shopper(system) as me, system.client("dispatch", Role.SHOPPER, "nosy") as nosy:
        assert (await nosy.get("/riders/me/live")).status_code == 403
        async with rider.client.stream("GET", "/riders/me/live", timeout=60) as response:
            assert response.status_code == 200, await response.aread()
            live = Stream(response)
            assert (await live.next())["event"] == "hello"
            order_id = await place_delivery(me, shop.store_id, shop.products["water"])
            await wait_status(me, order_id, "CONFIRMED")
            await shop_packs(system, shop.store_id, order_id)
            while True:
                event = await live.next()
                assert event["event"] == "change"
                assert event["data"]["data"]["rider_id"] == rider.id, "only this rider's changes"
                if event["data"]["kind"] == "offer":
                    break
            assert event["data"]["order_id"] == order_id


async def test_a_malformed_last_event_id_is_a_clear_422_not_a_broken_stream(system: System) -> None:
    async with (
        system.client("dispatch", Role.RIDER, "rider-nobody") as rider,
        system.client("dispatch", Role.DISPATCHER, "desk-1") as desk,
    ):
        for client, path in ((rider, "/riders/me/live"), (desk, "/live")):
            for bad in ("abc", "99999999999999999999-1", "1-2-3"):
                response = await client.get(path, headers={"Last-Event-ID": bad})
                assert response.status_code == 422, (path, bad, response.text)
                assert "reconnect without it" in response.json()["detail"]
        # Redis stores positions only within ±85.05° latitude: beyond is a clear 422, not a 500.
        beyond = await rider.post("/riders/me/location", json={"lat": 89.0, "lon": 0.0})
        assert beyond.status_code == 422
        assert "85.05112878" in beyond.text
