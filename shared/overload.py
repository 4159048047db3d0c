"""Overload is refused, not left to time out.

While more than `limit` requests are being served, a new one is answered at once with 503 and
`Retry-After`, before it reads its body or touches a database, so a client that retries with the
same Idempotency-Key still gets exactly one order. Live streams stay open for as long as someone
watches, so they are not counted; neither are `/health` and `/metrics`, which must answer an
operator exactly when the service is busiest.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PATHS = ("/health", "/metrics")
STREAM_SUFFIXES = ("/live", "/stream")


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int, retry_after_s: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.refused = 0

    def _counted(self, scope: Scope) -> bool:
        path: str = scope.get("path", "")
        if path.startswith(EXEMPT_PATHS) or path.endswith(STREAM_SUFFIXES):
            return False
        accept = dict(scope.get("headers") or []).get(b"accept", b"")
        return b"text/event-stream" not in accept

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit <= 0 or not self._counted(scope):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            self.refused += 1
            await _busy(send, self.limit, self.retry_after_s)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _busy(send: Send, limit: int, retry_after_s: int) -> None:
    body: dict[str, Any] = {
        "detail": f"the service is serving {limit} requests already; try again in {retry_after_s}s",
        "unavailable": "capacity",
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"retry-after", str(retry_after_s).encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
