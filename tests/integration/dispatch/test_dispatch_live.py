"""Redis: rider positions with silence, and the live streams resumed with Last-Event-ID."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from services.dispatch.adapters.live import LiveHub, LiveNote, append, follow
from services.dispatch.service_layer import riders
from tests.integration.dispatch.conftest import Dispatch
from tests.integration.dispatch.helpers import SHOP, roster_json


async def test_silent_riders_are_not_offered_work(dispatch: Dispatch) -> None:
    d = dispatch
    await d.rider("talking", SHOP[0], SHOP[1])
    await d.rider("quiet", SHOP[0] + 0.002, SHOP[1])
    d.clock.advance(61)
    await d.seen("talking", SHOP[0] + 0.001, SHOP[1])
    views = await d.run(riders.rider_views)
    assert [v.rider_id for v in views] == ["talking"]
    assert abs(views[0].position.lat - (SHOP[0] + 0.001)) < 1e-4
    roster = {r["id"]: r for r in await d.run(roster_json)}
    assert roster["quiet"]["silent"]
    assert not roster["talking"]["silent"]
    await d.run(lambda uow: riders.report_location(uow, "quiet", SHOP[0], SHOP[1]))
    assert {v.rider_id for v in await d.run(riders.rider_views)} == {"talking", "quiet"}


async def test_a_client_resuming_with_last_event_id_gets_what_it_missed_then_live(dispatch: Dispatch) -> None:
    stream = f"test:live:{uuid.uuid4().hex[:8]}"
    hub = LiveHub(dispatch.redis.client(), block_ms=200)
    await append(dispatch.redis, [LiveNote(stream, "RiderAssigned", {"n": i}, f"o{i % 2}") for i in range(4)])
    entries = await dispatch.redis.xrange(stream)
    assert len(entries) == 4
    last_seen = entries[0][0]  # the client had the first entry when it dropped

    got: list[tuple[str, dict]] = []

    async def client() -> None:
        async for entry_id, entry in follow(hub, stream, last_seen, lambda e: e if e["order_id"] == "o1" else None):
            got.append((entry_id, entry))
            if len(got) == 3:
                return

    task = asyncio.create_task(client())
    try:
        await until(lambda: len(got) >= 2)
        assert [e["data"]["n"] for _, e in got] == [1, 3]  # the retained ones after its id, for its order only
        await append(
            dispatch.redis,
            [LiveNote(stream, "EtaUpdated", {"n": 4}, "o0"), LiveNote(stream, "EtaUpdated", {"n": 5}, "o1")],
        )
        await asyncio.wait_for(asyncio.shield(task), 5)
        assert [e["data"]["n"] for _, e in got] == [1, 3, 5]
        assert [i for i, _ in got] == sorted(i for i, _ in got)
    finally:
        task.cancel()
        await hub.close()


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def test_one_reader_per_stream_fans_out_to_every_client(dispatch: Dispatch) -> None:
    stream = f"test:live:{uuid.uuid4().hex[:8]}"
    hub = LiveHub(dispatch.redis, block_ms=200)
    results: list[list[int]] = [[], [], []]

    async def client(k: int) -> None:
        async for _, entry in follow(hub, stream, None, lambda e: e):
            results[k].append(entry["data"]["n"])
            if len(results[k]) == 2:
                return

    tasks = [asyncio.create_task(client(k)) for k in range(3)]
    try:
        # A client is registered before its reader is started (that awaits the stream's end), so wait for both.
        await until(lambda: len(hub._clients.get(stream, ())) == 3 and hub.readers() > 0)
        await asyncio.sleep(0.2)  # the later subscribers' own looks at the stream's end are done by now
        assert hub.readers() == 1
        await append(dispatch.redis, [LiveNote(stream, "x", {"n": 1}), LiveNote(stream, "x", {"n": 2})])
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        assert results == [[1, 2]] * 3
    finally:
        for task in tasks:
            task.cancel()
        await hub.close()


async def test_a_stream_is_read_only_while_someone_watches(dispatch: Dispatch) -> None:
    stream = f"test:live:{uuid.uuid4().hex[:8]}"
    hub = LiveHub(dispatch.redis, block_ms=50)
    got: list[int] = []

    async def client() -> None:
        async for _, entry in follow(hub, stream, None, lambda e: e):
            got.append(entry["data"]["n"])

    try:
        first = asyncio.create_task(client())
        await until(lambda: hub.readers() == 1, 10)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await until(lambda: hub.readers() == 0, 10)  # the last client left: Redis is not polled for nobody
        await append(dispatch.redis, [LiveNote(stream, "x", {"n": 1})])
        second = asyncio.create_task(client())  # a new client starts a new reader, from the stream's end
        await until(lambda: hub.readers() == 1, 10)
        await append(dispatch.redis, [LiveNote(stream, "x", {"n": 2})])
        await until(lambda: got == [2], 10)
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        await until(lambda: hub.readers() == 0, 10)
    finally:
        await hub.close()
