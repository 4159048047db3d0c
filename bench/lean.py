"""A cheap load generator's two halves: a lean HTTP/1.1 client and a confirmation watcher.

`LeanHTTP` keeps a pool of keep-alive connections to one server and speaks just enough HTTP/1.1
for the services' JSON answers (Content-Length or chunked bodies) on plain asyncio streams: a
request costs the generator a few tenths of a millisecond of CPU instead of httpx's few.

`OrderWatcher` learns when orders were placed and decided by reading the orders service's own
events (`OrderPlaced`, `OrderConfirmed`, `OrderRejected`, `OrderCancelled`) from the broker topic
`linli.orders` with a group-less consumer (it commits nothing and joins no group), instead of
polling `GET /orders/{id}` for every order. The times are the events' `occurred_at`, which the
orders service stamps in the transaction that places or confirms the order, from its own clock:
the same instants its timeline shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from bench.place_orders import Timing, parse_time

DECIDING_EVENTS = {"OrderConfirmed": "CONFIRMED", "OrderRejected": "REJECTED", "OrderCancelled": "CANCELLED"}
WATCHED = {"OrderPlaced", *DECIDING_EVENTS}


class HTTPFailure(Exception):
    """The connection failed or the answer was not HTTP we understand; `kind` names what."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LeanHTTP:
    """Keep-alive HTTP/1.1 to one server, at most `max_connections` open; one request per connection at once."""

    def __init__(self, base_url: str, max_connections: int = 64, timeout_s: float = 30.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"LeanHTTP speaks plain http to a host, not {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._host_header = f"{self.host}:{self.port}".encode()
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self.opened = 0  # connections opened, to show that they are reused

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """(status, body bytes); raises TimeoutError, or HTTPFailure for a broken connection or answer."""
        if isinstance(body, bytes):  # already JSON
            payload = body
        else:
            payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host_header]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}".encode())
        if body is not None:
            head.append(b"Content-Type: application/json")
        head.append(b"Content-Length: " + str(len(payload)).encode())
        message = b"\r\n".join(head) + b"\r\n\r\n" + payload
        async with self._slots:
            reused = bool(self._idle)
            try:
                return await self._exchange(message)
            except HTTPFailure:
                if not reused:
                    raise
                # The server closed an idle connection just as we reused it: once more on a new one.
                # (Every change the bench sends carries an Idempotency-Key, so a resend is safe.)
                return await self._exchange(message, fresh=True)

    async def _exchange(self, message: bytes, fresh: bool = False) -> tuple[int, bytes]:
        conn: Connection | None = None
        try:
            async with asyncio.timeout(self.timeout_s):
                if self._idle and not fresh:
                    conn = self._idle.pop()
                else:
                    conn = await asyncio.open_connection(self.host, self.port)
                    self.opened += 1
                reader, writer = conn
                writer.write(message)
                status, data, keep = await _read_answer(reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError) as e:
            if conn is not None:
                conn[1].close()
            raise HTTPFailure(type(e).__name__) from e
        except BaseException:  # a timeout or a cancellation leaves the connection mid-answer: drop it
            if conn is not None:
                conn[1].close()
            raise
        if keep:
            self._idle.append(conn)
        else:
            conn[1].close()
        return status, data

    async def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Status, body and whether the connection stays open, from one HTTP/1.1 answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length: int | None = None
    chunked = keep = False
    keep = lines[0].startswith(b"HTTP/1.1")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep = b"close" not in value.lower()
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers from our services
                break
            parts.append(await reader.readexactly(size + 2))
        return status, b"".join(p[:-2] for p in parts), keep
    if length is not None:
        return status, await reader.readexactly(length), keep
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", keep
    return status, await reader.read(), False


class OrderWatcher:
    """Placed and decided times of every order, from `linli.orders`, read from its end onwards."""

    def __init__(self, bootstrap_servers: str, topic: str = "linli.orders", fetch_max_wait_ms: int = 50) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.placed: dict[str, Any] = {}  # order id -> datetime
        self.decided: dict[str, tuple[str, Any]] = {}  # order id -> (status, datetime)
        self.events = 0  # messages read, of any type
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Positioned at the topic's end on every partition before it returns, so nothing later is missed."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        await consumer.start()
        try:
            partitions = None
            for _ in range(100):
                await consumer.topics()  # refreshes the metadata
                partitions = consumer.partitions_for_topic(self.topic)
                if partitions:
                    break
                await asyncio.sleep(0.1)
            if not partitions:
                raise RuntimeError(f"topic {self.topic} has no partitions yet")
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_end(*assigned)
            for tp in assigned:
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=2000)
            for records in batches.values():
                for record in records:
                    self.events += 1
                    self.note(record.headers, record.value)

    def note(self, headers: Iterable[tuple[str, bytes]] | None, value: bytes | None) -> None:
        """Remember one event if it places or decides an order; others are skipped unparsed."""
        kind = next((v.decode() for k, v in headers or () if k == "event_type"), None)
        if kind is not None and kind not in WATCHED:
            return
        if not value:
            return
        data = json.loads(value)
        kind = data.get("type")
        if kind not in WATCHED:
            return
        order_id = data["payload"]["order_id"]
        at = parse_time(data["occurred_at"])
        if kind == "OrderPlaced":
            self.placed.setdefault(order_id, at)
        elif order_id not in self.decided:
            self.decided[order_id] = (DECIDING_EVENTS[kind], at)

    def timing(self, order_id: str) -> Timing | None:
        placed = self.placed.get(order_id)
        if placed is None:
            return None
        decided = self.decided.get(order_id)
        return Timing(placed, decided[1], decided[0]) if decided else Timing(placed, None, "PLACED")

    def undecided(self, order_ids: Iterable[str]) -> int:
        return sum(1 for o in order_ids if o not in self.decided or o not in self.placed)

    async def wait_decided(self, order_ids: list[str], timeout_s: float) -> bool:
        """True once every order was placed and decided; False at the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.undecided(order_ids):
            if self._task is not None and self._task.done():
                self._task.result()  # the reader died: say why
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    def forget(self, order_ids: Iterable[str]) -> None:
        for o in order_ids:
            self.placed.pop(o, None)
            self.decided.pop(o, None)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
