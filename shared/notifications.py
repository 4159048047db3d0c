"""PostgreSQL LISTEN/NOTIFY, fanned out: one listening connection per process, many waiting readers.

A writer runs `notify(conn, channel, key)` in the transaction that changes something;
PostgreSQL delivers it only if that transaction commits. Each process keeps one connection
listening on the channel and wakes every reader waiting for that key. A wake-up says only
"it changed, read it again": wake-ups coalesce, and after the listening connection is lost
and re-made every reader is woken, since changes in between were not heard. So a reader
never misses the latest state, though it may read the same state twice.

Long-lived readers (server-sent events) also hold a web server's graceful shutdown open, so
`Notifications.end_on_signal()` ends them when the process is asked to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any

import asyncpg

log = logging.getLogger(__name__)


async def notify(conn: asyncpg.Connection, channel: str, key: str) -> None:
    """Announce that `key` changed; delivered when (and only if) the caller's transaction commits."""
    await conn.execute("SELECT pg_notify($1, $2)", channel, key)


class Wakeup:
    """What one reader waits on: set by every notification for its key, until the listener closes."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()
        self.closed = False

    def set(self) -> None:
        self._changed.set()

    def close(self) -> None:
        self.closed = True
        self._changed.set()

    async def wait(self, within_s: float) -> bool:
        """True if something changed (or the listener closed) within `within_s` seconds."""
        try:
            await asyncio.wait_for(self._changed.wait(), within_s)
        except TimeoutError:
            return False
        self._changed.clear()
        return True


class Notifications:
    """One LISTEN connection on `channel` for this process, waking readers by the payload they wait for."""

    def __init__(self, dsn: str, channel: str, *, retry_s: float = 1.0, keepalive_s: float = 30.0) -> None:
        self.dsn = dsn
        self.channel = channel
        self.retry_s = retry_s
        self.keepalive_s = keepalive_s
        self.listening = asyncio.Event()
        self.delivered = 0
        self._readers: dict[str, set[Wakeup]] = {}
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._restore: dict[int, Any] = {}

    async def start(self, wait_s: float = 5.0) -> None:
        """Start listening; wait briefly for the first connection (it keeps retrying if the database is away)."""
        self._task = asyncio.create_task(self._run(), name=f"listen:{self.channel}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), wait_s)

    async def stop(self) -> None:
        self.close_readers()
        self._restore_signals()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def subscribe(self, key: str) -> AsyncIterator[Wakeup]:
        """Wait for changes to `key` while inside the block; subscribe before reading, so no change slips between."""
        wakeup = Wakeup()
        if self._closed:
            wakeup.close()
        self._readers.setdefault(key, set()).add(wakeup)
        try:
            yield wakeup
        finally:
            readers = self._readers.get(key)
            if readers is not None:
                readers.discard(wakeup)
                if not readers:
                    del self._readers[key]

    @property
    def readers(self) -> int:
        return sum(len(r) for r in self._readers.values())

    def close_readers(self) -> None:
        """Wake every reader with `closed` set, and every later one: the process is stopping."""
        self._closed = True
        for readers in self._readers.values():
            for wakeup in readers:
                wakeup.close()

    def end_on_signal(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Close readers as soon as the process is told to stop, then let the server's own handler run.

        The web server drains open responses before the application's shutdown hooks run, so an
        open stream would otherwise hold the process until its client leaves.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()
        for sig in signals:
            previous = signal.getsignal(sig)
            self._restore[sig] = previous

            def handle(signum: int, frame: FrameType | None, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(self.close_readers)
                if callable(previous):
                    previous(signum, frame)
                elif previous == signal.SIG_DFL:  # nobody else handles it: do what it would have done
                    signal.signal(signum, signal.SIG_DFL)
                    signal.raise_signal(signum)

            signal.signal(sig, handle)

    def _restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._restore.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, previous)
        self._restore.clear()

    def _deliver(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.delivered += 1
        for wakeup in self._readers.get(payload, ()):
            wakeup.set()

    def _wake_all(self) -> None:
        for readers in self._readers.values():
            for wakeup in readers:
                wakeup.set()

    async def _run(self) -> None:
        while True:
            try:
                await self._listen_once()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the database restarted, the network blinked: listen again
                log.warning("listening on %s failed (%r); again in %.1fs", self.channel, e, self.retry_s)
            self.listening.clear()
            await asyncio.sleep(self.retry_s)

    async def _listen_once(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        lost = asyncio.Event()
        on_lost: Callable[[Any], None] = lambda _c: lost.set()  # noqa: E731
        conn.add_termination_listener(on_lost)
        try:
            await conn.add_listener(self.channel, self._deliver)
            self.listening.set()
            self._wake_all()  # whatever changed while nobody listened
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), self.keepalive_s)
                except TimeoutError:
                    await asyncio.wait_for(conn.execute("SELECT 1"), self.keepalive_s)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2.0)
