"""Server-sent event streams that follow something in the database: send it at once, again
whenever a committed change to it is announced (NOTIFY, `shared.notifications`), a comment
now and then so proxies keep the connection, and stop when the client goes or the process does.

Orders follows an order (`GET /orders/{id}/stream`), inventory a counter's queue
(`GET /stores/{id}/live`); both are this loop with a different `read`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import Request

from shared.background import BackgroundLoop
from shared.notifications import Notifications
from shared.service import Runtime

HEARTBEAT_S = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def sse_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'), default=str)}\n\n"


class LiveListener(BackgroundLoop):
    """This process's one LISTEN connection on a channel, opened and closed with the service.

    Declare it as `LiveListener.on(CHANNEL)` in `ServiceSpec.background`; a stream route finds
    it with `listener_of(runtime, CHANNEL)`. It runs no rounds: `Notifications` keeps its own
    connection alive and re-establishes it.
    """

    name = "live listener"

    def __init__(self, dsn: str, channel: str) -> None:
        super().__init__(pause_s=0)
        self.channel = channel
        self.notifications = Notifications(dsn, channel)

    @classmethod
    def on(cls, channel: str) -> Callable[[Runtime], LiveListener]:
        return lambda runtime: cls(runtime.settings.database_url, channel)

    async def start(self) -> None:
        await self.notifications.start()
        self.notifications.end_on_signal()

    async def stop(self) -> None:
        await self.notifications.stop()


def listener_of(runtime: Runtime, channel: str) -> Notifications | None:
    """The running listener on `channel`, or None where this service does not declare one."""
    for loop in runtime.loops:
        if isinstance(loop, LiveListener) and loop.channel == channel:
            return loop.notifications
    return None


def _as_sent(view: dict[str, Any]) -> str:
    return json.dumps(view, sort_keys=True, default=str)


async def follow(
    request: Request,
    listener: Notifications,
    key: str,
    name: str,
    read: Callable[[], Awaitable[dict[str, Any] | None]],
    fingerprint: Callable[[dict[str, Any]], str] = _as_sent,
) -> AsyncIterator[str]:
    """Events named `name` with `read()`'s view: at once, then whenever it differs from the last one sent.

    The view is read again after every announcement for `key` and at every heartbeat (which is
    how something that changes with time alone, like a slot order's release, still arrives).
    `read` returning None ends the stream (gone, or no longer the caller's to see).
    `fingerprint` tells a real change from noise such as countdowns.
    """
    async with listener.subscribe(key) as wakeup:
        last: str | None = None
        while not wakeup.closed:
            view = await read()
            if view is None:
                return
            mark = fingerprint(view)
            if mark != last:
                last = mark
                yield sse_event(name, view)
            elif await request.is_disconnected():
                return
            else:
                yield ": heartbeat\n\n"
            await wakeup.wait(HEARTBEAT_S)
