"""The assignment rounds as a loop beside the service: one round every round_interval_s."""

from __future__ import annotations

import logging
from collections.abc import Callable

from services.dispatch.service_layer.assigning import run_round
from services.dispatch.service_layer.unit_of_work import DispatchUnitOfWork
from shared.background import BackgroundLoop

log = logging.getLogger(__name__)


class AssignmentRounds(BackgroundLoop):
    """A round that meets a concurrent change (a stale save) rolls back whole; the next one runs on fresh rows."""

    name = "assignment rounds"

    def __init__(self, unit_of_work: Callable[[], DispatchUnitOfWork], interval_s: float) -> None:
        super().__init__(interval_s)
        self.unit_of_work = unit_of_work
        self.rounds = 0

    async def round(self) -> None:
        async with self.unit_of_work() as uow:
            counts = await run_round(uow)
        self.rounds += 1
        if counts.any():
            log.info("assignment round: %s", counts)
