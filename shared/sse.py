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

from shared.notifications import Notifications
from shared.service import Runtime

HEARTBEAT_S = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no", "Connection": "keep-alive"}


def sse_event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'), default=str)}\n\n"


class Listeners:
    """The NOTIFY listener of each running app on one channel.

    Kept by runtime, since a Runtime has no room for one service's extras; `start` and `stop`
    are the service's on_start/on_stop.
    """

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._by_runtime: dict[int, Notifications] = {}

    async def start(self, runtime: Runtime) -> None:
        listener = Notifications(runtime.settings.database_url, self.channel)
        await listener.start()
        listener.end_on_signal()
        self._by_runtime[id(runtime)] = listener

    async def stop(self, runtime: Runtime) -> None:
        listener = self._by_runtime.pop(id(runtime), None)
        if listener is not None:
            await listener.stop()

    def of(self, runtime: Runtime) -> Notifications | None:
        return self._by_runtime.get(id(runtime))


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
