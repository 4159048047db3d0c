"""A quiet consumer fetches rarely and a busy one often; batches are handed over without a nap."""

from __future__ import annotations

import asyncio
import inspect
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.consumer import fetcher

from shared.fetch_pacing import FetchPacing, PacedFetches, without_empty_nap

PACING = FetchPacing(busy_wait_ms=20, idle_wait_ms=250, idle_after_s=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def started_subscriber(wait_ms: int) -> Any:
    """What PacedFetches reaches into: a FastStream subscriber's started aiokafka consumer."""
    return SimpleNamespace(consumer=SimpleNamespace(_fetcher=SimpleNamespace(_fetch_max_wait_ms=wait_ms)))


def test_a_quiet_consumer_slows_down_and_its_next_batch_speeds_it_up() -> None:
    clock = Clock()
    paced = PacedFetches(PACING, clock=clock)
    paced.subscriber = started_subscriber(PACING.busy_wait_ms)
    fetcher_ = paced.subscriber.consumer._fetcher

    clock.now += 1.9
    paced.tick()
    assert fetcher_._fetch_max_wait_ms == 20, "not quiet for long enough yet"

    clock.now += 0.2
    paced.tick()
    assert fetcher_._fetch_max_wait_ms == 250

    paced.busy()
    assert fetcher_._fetch_max_wait_ms == 20
    clock.now += 1.0
    paced.tick()
    assert fetcher_._fetch_max_wait_ms == 20, "the batch restarted the quiet spell"


def test_a_consumer_not_started_yet_is_left_alone() -> None:
    paced = PacedFetches(PACING, clock=Clock())
    paced.subscriber = SimpleNamespace(consumer=None)
    paced.clock = lambda: 1e9
    paced.tick()
    paced.busy()
    assert paced.wait_ms == PACING.busy_wait_ms


def test_aiokafka_still_reads_the_wait_from_its_fetcher_when_it_builds_each_request() -> None:
    """The one private attribute pacing relies on: if an upgrade renames it, this fails first."""
    source = inspect.getsource(fetcher.Fetcher)
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in source
    assert source.count("self._fetch_max_wait_ms") >= 2, "set in __init__ and read per request"


class Consumer:
    def __init__(self, answers: list[tuple[float, dict[str, list[int]]]]) -> None:
        self.answers = answers

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[str, list[int]]:
        delay, messages = self.answers.pop(0)
        await asyncio.sleep(delay)
        return messages


@pytest.mark.asyncio(loop_scope="function")
async def test_a_batch_that_arrives_is_handed_over_at_once_and_an_empty_wait_is_not_followed_by_a_nap() -> None:
    subscriber = SimpleNamespace(batch_timeout_ms=200, max_records=500)
    without_empty_nap(subscriber)
    consumer = Consumer([(0.2, {}), (0.0, {"tp": [1, 2]})])
    started = time.monotonic()
    assert await subscriber.get_msg(consumer) == ()
    assert await subscriber.get_msg(consumer) == (1, 2)
    assert time.monotonic() - started < 0.35, "FastStream's own loop would have napped 0.2 s more"


@pytest.mark.asyncio(loop_scope="function")
async def test_an_empty_answer_that_came_back_at_once_still_pauses_so_the_loop_never_spins() -> None:
    subscriber = SimpleNamespace(batch_timeout_ms=100, max_records=500)
    without_empty_nap(subscriber)
    started = time.monotonic()
    assert await subscriber.get_msg(Consumer([(0.0, {})])) == ()
    assert time.monotonic() - started >= 0.09
