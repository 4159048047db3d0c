"""Live views over Redis streams: every change is appended (XADD, capped); each process reads each
stream with ONE task and fans entries out to its connected clients through asyncio queues. A client
that reconnects with Last-Event-ID first gets what the stream still holds after that id (XRANGE)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

DISPATCHERS = "dispatch:live"  # everything dispatchers see
ORDERS = "dispatch:live:orders"  # per-order updates, filtered per client by order id
MAXLEN = 10_000
QUEUE_SIZE = 1_000

Entry = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class LiveNote:
    stream: str
    kind: str
    data: dict[str, Any]
    order_id: str | None = None


async def append(redis: aioredis.Redis, notes: list[LiveNote]) -> None:
    if not notes:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for note in notes:
            pipe.xadd(
                note.stream,
                {"kind": note.kind, "order_id": note.order_id or "", "data": json.dumps(note.data, default=str)},
                maxlen=MAXLEN,
                approximate=True,
            )
        await pipe.execute()


def decode(fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": fields.get("kind", ""),
        "order_id": fields.get("order_id") or None,
        "data": json.loads(fields.get("data") or "{}"),
    }


def _id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def later(a: str, b: str) -> bool:
    """Is stream id `a` after `b`?"""
    return _id(a) > _id(b)


@dataclass
class LiveHub:
    """One reader task per stream while it has clients; none at all while nobody watches."""

    redis: aioredis.Redis
    block_ms: int = 100  # pause between polls when nothing is new
    _clients: dict[str, set[asyncio.Queue[Entry]]] = field(default_factory=dict)
    _readers: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def subscribe(self, stream: str) -> asyncio.Queue[Entry]:
        queue: asyncio.Queue[Entry] = asyncio.Queue(QUEUE_SIZE)
        self._clients.setdefault(stream, set()).add(queue)
        reader = self._readers.get(stream)
        if reader is None or reader.done():
            # Start the one reader at the stream's present end, before the client reads its backlog.
            tail = await self._tail(stream)
            reader = self._readers.get(stream)
            if reader is None or reader.done():
                self._readers[stream] = asyncio.create_task(self._read(stream, tail), name=f"live reader {stream}")
        return queue

    def unsubscribe(self, stream: str, queue: asyncio.Queue[Entry]) -> None:
        """The last client of a stream gone, its reader stops: nobody connected, nothing polls Redis."""
        clients = self._clients.get(stream, set())
        clients.discard(queue)
        if not clients:
            self._clients.pop(stream, None)
            reader = self._readers.pop(stream, None)
            if reader is not None:
                reader.cancel()

    def readers(self) -> int:
        return sum(1 for t in self._readers.values() if not t.done())

    async def since(self, stream: str, last_id: str) -> list[Entry]:
        found: Any = await self.redis.xrange(stream, min=f"({last_id}", max="+")
        return [(str(i), dict(f)) for i, f in found or []]

    async def close(self) -> None:
        for task in self._readers.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._readers.clear()

    async def _tail(self, stream: str) -> str:
        newest: Any = await self.redis.xrevrange(stream, count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def _read(self, stream: str, last: str | None = None) -> None:
        """From the stream's end when the first client came (an id, not '$': nothing falls in between)."""
        while True:
            if last is None:
                try:
                    last = await self._tail(stream)
                except Exception:
                    log.exception("live reader on %s could not start; retrying", stream)
                    await asyncio.sleep(1.0)
                    continue
            try:
                # A short poll rather than a blocking XREAD: cancellable at once, and one per stream per process.
                found: Any = await self.redis.xread({stream: last}, count=500)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("live reader on %s failed; retrying", stream)
                await asyncio.sleep(1.0)
                continue
            if not found:
                await asyncio.sleep(self.block_ms / 1000)
                continue
            for _, entries in found:
                for entry_id, fields in entries:
                    last = entry_id
                    for queue in list(self._clients.get(stream, ())):
                        with contextlib.suppress(asyncio.QueueFull):  # a stuck client misses entries, not others
                            queue.put_nowait((entry_id, fields))


async def follow(
    hub: LiveHub, stream: str, last_event_id: str | None, view: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Entries this client may see, as (id, view): first the retained ones after `last_event_id`, then live."""
    queue = await hub.subscribe(stream)  # subscribe before reading the backlog, so nothing falls in between
    try:
        sent = last_event_id
        if last_event_id:
            for entry_id, fields in await hub.since(stream, last_event_id):
                seen = view(decode(fields))
                sent = entry_id
                if seen is not None:
                    yield entry_id, seen
        while True:
            entry_id, fields = await queue.get()
            if sent and not later(entry_id, sent):
                continue
            sent = entry_id
            seen = view(decode(fields))
            if seen is not None:
                yield entry_id, seen
    finally:
        hub.unsubscribe(stream, queue)
