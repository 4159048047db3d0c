"""LISTEN/NOTIFY fan-out against real PostgreSQL: committed changes wake their readers, and only theirs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.notifications import Notifications, notify
from tests.waiting import eventually

CHANNEL = "linli_test_changes"


@pytest.fixture
async def listener(database_url: str) -> AsyncIterator[Notifications]:
    n = Notifications(database_url, CHANNEL, retry_s=0.1)
    await n.start()
    assert n.listening.is_set()
    try:
        yield n
    finally:
        await n.stop()


async def test_a_committed_change_wakes_the_readers_of_that_key_only(
    listener: Notifications, pool: asyncpg.Pool
) -> None:
    async with (
        listener.subscribe("order-1") as one,
        listener.subscribe("order-1") as also_one,
        listener.subscribe("order-2") as two,
    ):
        async with pool.acquire() as conn:

            async def change_then_fail() -> None:
                async with conn.transaction():
                    await notify(conn, CHANNEL, "order-1")
                    raise RuntimeError("rolled back")

            with pytest.raises(RuntimeError):
                await change_then_fail()
            assert not await one.wait(0.3)  # a change that did not happen wakes nobody
            async with conn.transaction():
                await notify(conn, CHANNEL, "order-1")
                await notify(conn, CHANNEL, "order-1")
        assert await one.wait(5)
        assert await also_one.wait(5)
        assert not await one.wait(0.2)  # two notifications in one transaction: one wake-up
        assert not await two.wait(0.2)
    assert listener.readers == 0


async def test_readers_are_woken_after_the_listener_lost_its_connection(
    listener: Notifications, pool: asyncpg.Pool
) -> None:
    async with listener.subscribe("order-1") as reader, pool.acquire() as conn:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()"
        )
        assert await reader.wait(10)  # changes in between were not heard: read again
        await eventually(lambda: _is_listening(listener), within=10)
        await notify(conn, CHANNEL, "order-1")
        assert await reader.wait(5)


async def _is_listening(listener: Notifications) -> bool:
    return listener.listening.is_set()


async def test_closing_ends_every_reader(listener: Notifications) -> None:
    async with listener.subscribe("order-1") as reader:
        listener.close_readers()
        assert await reader.wait(1)
        assert reader.closed
    async with listener.subscribe("order-2") as late:
        assert late.closed
