"""The assignment rounds as a loop beside the service: one round every round_interval_s."""

from __future__ import annotations

import logging

import asyncpg
import redis.asyncio as aioredis

from services.dispatch.adapters.live import append
from services.dispatch.adapters.repository import RiderPositions
from services.dispatch.service_layer.assigning import run_round
from services.dispatch.service_layer.unit_of_work import UnitOfWork
from shared.background import BackgroundLoop
from shared.settings import Settings

log = logging.getLogger(__name__)


class AssignmentRounds(BackgroundLoop):
    name = "assignment rounds"

    def __init__(self, pool: asyncpg.Pool, redis: aioredis.Redis, settings: Settings) -> None:
        super().__init__(settings.round_interval_s)
        self.pool, self.redis, self.settings = pool, redis, settings
        self.rounds = 0

    async def round(self) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn, self.settings, positions=RiderPositions(self.redis))
            counts = await run_round(uow)
        await append(self.redis, uow.live)
        self.rounds += 1
        if any(v for k, v in counts.items() if k != "skipped"):
            log.info("assignment round: %s", counts)
