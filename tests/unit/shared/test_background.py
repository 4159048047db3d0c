"""A shutdown never hangs on one background loop: a loop that will not stop is left behind, logged."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.background import BackgroundLoop


class Stubborn(BackgroundLoop):
    name = "stubborn"
    stop_timeout_s = 0.2

    async def round(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(2)  # a close that waits on a dead peer, say


@pytest.mark.asyncio(loop_scope="function")
async def test_a_loop_ignoring_its_cancel_is_left_behind_after_the_timeout(caplog: pytest.LogCaptureFixture) -> None:
    loop = Stubborn(pause_s=0.01)
    await loop.start()
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await loop.stop()
    assert time.monotonic() - started < 1.0, "stop gave up after its timeout instead of waiting 2 s"
    assert "stubborn did not stop" in caplog.text
