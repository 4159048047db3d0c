"""A loop that runs beside a service for its whole life and survives its own failures.

The outbox relay, the deadline scheduler and housekeeping all need the same thing: start with
the service, run a round, log and carry on when a round fails, stop cleanly on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class BackgroundLoop:
    """Subclasses implement `round()`; the loop sleeps `pause_s` after each round, failed or not."""

    name = "background loop"
    stop_timeout_s = 10.0

    def __init__(self, pause_s: float) -> None:
        self.pause_s = pause_s
        self._task: asyncio.Task[None] | None = None

    async def round(self) -> None:
        raise NotImplementedError

    def on_failure(self) -> None:
        """Called after a failed round, before the pause."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Cancel the loop and wait for it, but never forever: a shutdown must not hang on one part."""
        if self._task is not None:
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=self.stop_timeout_s)
            if done:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    self._task.result()
            else:
                log.error(
                    "%s did not stop within %.0fs of being cancelled; leaving it behind", self.name, self.stop_timeout_s
                )
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; will try again in %.1fs", self.name, self.pause_s)
                self.on_failure()
            await asyncio.sleep(self.pause_s)
