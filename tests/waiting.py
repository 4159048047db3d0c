"""Waiting for an asynchronous flow to arrive somewhere, in every level of test."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(check: Callable[[], Awaitable[Any]], within: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until `check` returns something truthy, and return it; fail with the last value seen."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {within}s; last value: {last!r}")
