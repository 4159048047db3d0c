"""Fetching often while a consumer has work, rarely while it has none.

tansu answers a waiting fetch only when the wait runs out, never when data arrives. The wait is
therefore the latency each broker hop adds, and every consumer asks once per wait even when
there is nothing to read: nine consumer groups at 50 ms kept the idle broker at 0.14 of a core
and the idle services at 0.07 (docs/performance.md). So a consumer that has had nothing for
`idle_after_s` waits `idle_wait_ms` per fetch instead, and its next batch puts it back to
`busy_wait_ms` at once. The price is paid once per quiet spell: the first message after one
may wait up to the idle wait. On Kafka, which answers a fetch as soon as data arrives, the
waits cost no latency and only the request rate changes.

aiokafka reads the wait from its fetcher each time it builds a fetch request, and has no public
way to change it after start; the attribute is pinned by tests/unit/shared/test_fetch_pacing.py
against the aiokafka version in pyproject.toml.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from shared.background import BackgroundLoop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchPacing:
    busy_wait_ms: int
    idle_wait_ms: int
    idle_after_s: float


@dataclass
class PacedFetches:
    """One consumer's fetch wait: busy while batches come, idle after a quiet spell."""

    pacing: FetchPacing
    clock: Callable[[], float] = time.monotonic
    subscriber: Any = None  # the FastStream subscriber, whose aiokafka consumer exists once started
    last_batch_at: float = field(default=0.0)
    wait_ms: int = 0

    def __post_init__(self) -> None:
        self.last_batch_at = self.clock()
        self.wait_ms = self.pacing.busy_wait_ms

    def busy(self) -> None:
        """A batch arrived: fetch at the busy wait from the next request on."""
        self.last_batch_at = self.clock()
        if self.wait_ms != self.pacing.busy_wait_ms:
            self._set(self.pacing.busy_wait_ms)

    def tick(self) -> None:
        """Called every fraction of a second: a consumer quiet for long enough slows down."""
        quiet = self.clock() - self.last_batch_at >= self.pacing.idle_after_s
        if quiet and self.wait_ms != self.pacing.idle_wait_ms:
            self._set(self.pacing.idle_wait_ms)

    def _set(self, wait_ms: int) -> None:
        fetcher = getattr(getattr(self.subscriber, "consumer", None), "_fetcher", None)
        if fetcher is None or not hasattr(fetcher, "_fetch_max_wait_ms"):
            return  # not started yet (or stopped): the wait it starts with is the busy one
        fetcher._fetch_max_wait_ms = wait_ms
        self.wait_ms = wait_ms


class FetchPacer(BackgroundLoop):
    """Ticks every consumer's pacing, so a quiet one slows its fetches within a fraction of a second."""

    name = "fetch pacer"

    def __init__(self, paced: Sequence[PacedFetches], pause_s: float = 0.25) -> None:
        super().__init__(pause_s)
        self.paced = list(paced)

    async def round(self) -> None:
        for fetches in self.paced:
            fetches.tick()


def without_empty_nap(subscriber: Any) -> None:
    """Hand a batch over as soon as it arrives, instead of after a nap that follows an empty wait.

    FastStream's batch subscriber sleeps `batch_timeout_ms` after every `getmany` that found
    nothing, on top of the wait inside `getmany` itself; a message arriving during that nap waited
    for it, which put up to 20 ms on every hop. aiokafka's `getmany` already returns the moment
    data arrives, so the nap buys nothing; it is kept only where `getmany` came back empty at once
    (no assignment yet), so the loop never spins.
    """

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        started = time.monotonic()
        messages = await consumer.getmany(timeout_ms=subscriber.batch_timeout_ms, max_records=subscriber.max_records)
        if not messages and time.monotonic() - started < subscriber.batch_timeout_ms / 2000:
            await asyncio.sleep(subscriber.batch_timeout_ms / 1000)
        return tuple(chain(*messages.values()))

    subscriber.get_msg = get_msg
