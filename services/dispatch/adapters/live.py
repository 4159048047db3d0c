"""Live views over Redis streams: every change is appended (XADD, capped); each process reads each
stream with ONE task and fans entries out to its connected clients through asyncio queues. A client
that reconnects with Last-Event-ID first gets what the stream still holds after that id (XRANGE).

Redis may go away. A note that cannot be written is lost (its change is committed in PostgreSQL
all the same) and counted; once Redis answers again a `resync` entry goes into each stream, and a
reader that lost Redis hands its clients one as soon as it reads again. A client told to resync
reads a fresh snapshot: that, not the lost notes, is what makes its view whole again. So does a
client resuming from an id the stream no longer holds (trimmed, or Redis restarted empty).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from services.dispatch.adapters.redis_watch import RedisWatch
from shared.clock import SystemClock
from shared.dependencies import REDIS, REDIS_AWAY, Unavailable

log = logging.getLogger(__name__)

DISPATCHERS = "dispatch:live"  # everything dispatchers see
ORDERS = "dispatch:live:orders"  # per-order updates, filtered per client by order id
MAXLEN = 10_000
QUEUE_SIZE = 1_000
RESYNC = "resync"  # an entry's kind: what came before may be missing, read a fresh snapshot

Entry = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class LiveNote:
    stream: str
    kind: str
    data: dict[str, Any]
    order_id: str | None = None


def _now() -> float:
    return SystemClock().now().timestamp()


async def append(redis: aioredis.Redis, notes: list[LiveNote]) -> bool:
    """Write the notes, after a `resync` for each stream if notes were lost before; False if Redis is away."""
    watch = RedisWatch.of(redis)
    if watch.notes_lost:
        notes = [LiveNote(DISPATCHERS, RESYNC, {}), LiveNote(ORDERS, RESYNC, {}), *notes]
    if not notes:
        return True
    if not watch.worth_trying():
        watch.notes_lost += sum(1 for n in notes if n.kind != RESYNC)
        return False
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for note in notes:
                pipe.xadd(
                    note.stream,
                    {"kind": note.kind, "order_id": note.order_id or "", "data": json.dumps(note.data, default=str)},
                    maxlen=MAXLEN,
                    approximate=True,
                )
            await pipe.execute()
    except REDIS_AWAY as e:
        watch.failed(_now(), repr(e))
        watch.notes_lost += sum(1 for n in notes if n.kind != RESYNC)
        return False
    watch.answered(_now())
    if watch.notes_lost:
        log.info("live streams: %d notes were lost while Redis was away; clients told to resync", watch.notes_lost)
        watch.notes_lost = 0
    return True


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

    async def available(self) -> None:
        """`Unavailable` while Redis is away: a stream is refused (503) rather than opened to nothing."""
        try:
            if not RedisWatch.of(self.redis).worth_trying():
                raise redis.exceptions.ConnectionError("Redis was away a moment ago")
            await self.redis.ping()
        except REDIS_AWAY as e:
            RedisWatch.of(self.redis).failed(_now(), repr(e))
            raise Unavailable(REDIS, "live updates are paused while Redis is away; reconnect shortly") from e

    async def subscribe(self, stream: str) -> asyncio.Queue[Entry]:
        queue: asyncio.Queue[Entry] = asyncio.Queue(QUEUE_SIZE)
        self._clients.setdefault(stream, set()).add(queue)
        reader = self._readers.get(stream)
        if reader is None or reader.done():
            # Start the one reader at the stream's present end, before the client reads its backlog.
            try:
                tail: str | None = await self._tail(stream)
            except REDIS_AWAY:
                tail = None  # the reader finds the end when Redis is back, and tells its clients to resync
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

    async def since(self, stream: str, last_id: str) -> list[Entry] | None:
        """What the stream holds after `last_id`, or None when it may no longer hold all of it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrange(stream, min="-", max="+", count=1)
            pipe.xrange(stream, min=f"({last_id}", max="+")
            first, found = await pipe.execute()
        if not first or later(str(first[0][0]), last_id):
            return None  # trimmed past it, or Redis restarted empty: entries in between may be gone
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

    def _fan_out(self, stream: str, entry: Entry) -> None:
        for queue in list(self._clients.get(stream, ())):
            with contextlib.suppress(asyncio.QueueFull):  # a stuck client misses entries, not others
                queue.put_nowait(entry)

    async def _read(self, stream: str, last: str | None = None) -> None:
        """From the stream's end when the first client came (an id, not '$': nothing falls in between).

        With Redis away it retries every second; back, it carries on after the last id it read
        and first tells its clients to resync (notes written meanwhile were lost).
        """
        lost = last is None
        watch = RedisWatch.of(self.redis)
        while True:
            try:
                if last is None:
                    last = await self._tail(stream)
                # A short poll rather than a blocking XREAD: cancellable at once, and one per stream per process.
                found: Any = await self.redis.xread({stream: last}, count=500)
            except asyncio.CancelledError:
                raise
            except REDIS_AWAY as e:
                watch.failed(_now(), repr(e))
                lost = True
                await asyncio.sleep(1.0)
                continue
            except Exception:
                log.exception("live reader on %s failed; retrying", stream)
                await asyncio.sleep(1.0)
                continue
            if lost:
                watch.answered(_now())
                lost = False
                self._fan_out(stream, (last, {"kind": RESYNC}))
            if not found:
                await asyncio.sleep(self.block_ms / 1000)
                continue
            for _, entries in found:
                for entry_id, fields in entries:
                    last = entry_id
                    self._fan_out(stream, (entry_id, fields))


def _seen(fields: dict[str, Any], view: Callable[[dict[str, Any]], dict[str, Any] | None]) -> dict[str, Any] | None:
    entry = decode(fields)
    return entry if entry["kind"] == RESYNC else view(entry)


async def follow(
    hub: LiveHub, stream: str, last_event_id: str | None, view: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Entries this client may see, as (id, view): first the retained ones after `last_event_id`, then live.

    A `resync` entry (kind RESYNC) is passed on whatever `view` says: the caller sends a fresh snapshot.
    """
    queue = await hub.subscribe(stream)  # subscribe before reading the backlog, so nothing falls in between
    try:
        sent = last_event_id
        if last_event_id:
            try:
                backlog = await hub.since(stream, last_event_id)
            except REDIS_AWAY:
                backlog = None
            if backlog is None:  # cannot resume from there: start afresh from what the reader reads next
                sent = None
                yield last_event_id, {"kind": RESYNC, "order_id": None, "data": {}}
            for entry_id, fields in backlog or []:
                sent = entry_id
                if (seen := _seen(fields, view)) is not None:
                    yield entry_id, seen
        while True:
            entry_id, fields = await queue.get()
            if fields.get("kind") != RESYNC:
                if sent and not later(entry_id, sent):
                    continue
                sent = entry_id
            if (seen := _seen(fields, view)) is not None:
                yield entry_id, seen
    finally:
        hub.unsubscribe(stream, queue)
