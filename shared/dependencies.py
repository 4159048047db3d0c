"""Telling a dependency that is away from a bug or a bad request.

PostgreSQL restarting, Redis gone, the broker unreachable, or every pooled connection busy for
longer than the wait allows: none of these is the caller's mistake or a fault in the code, and
each ends by itself. HTTP answers them 503 with `Retry-After`; a consumer (issue: outages pause
instead of dead-lettering) can use the same test to hold its offset instead of giving up.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

DATABASE = "database"
REDIS = "redis"
BROKER = "broker"

# Raised by PostgreSQL or asyncpg when the server is unreachable, starting, stopping, crashed or full.
_DATABASE_AWAY: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,  # refused, lost, rejected (SQLSTATE class 08)
    asyncpg.exceptions.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)
# What redis-py raises when Redis is unreachable or too slow (adapters that degrade catch exactly these).
REDIS_AWAY: tuple[type[Exception], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
_BROKER_AWAY: tuple[type[Exception], ...] = (KafkaConnectionError, KafkaTimeoutError)


class Unavailable(Exception):
    """A dependency did not answer in time; `dependency` names it, the request may be retried."""

    def __init__(self, dependency: str, message: str, retry_after_s: int = 2) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.retry_after_s = retry_after_s


def away(exc: BaseException) -> str | None:
    """The dependency whose absence `exc` shows, or None when it is something else."""
    if isinstance(exc, Unavailable):
        return exc.dependency
    if isinstance(exc, REDIS_AWAY):
        return REDIS
    if isinstance(exc, _BROKER_AWAY):
        return BROKER
    if isinstance(exc, _DATABASE_AWAY):
        return DATABASE
    if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
        return DATABASE  # a pooled connection the server dropped under us
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError, BrokenPipeError)):
        return DATABASE  # asyncpg's socket to the server; Redis and aiokafka wrap their own
    return None


# Every exception class that may mean a dependency is away, for HTTP handlers to register.
DEPENDENCY_FAILURES: tuple[type[Exception], ...] = (
    Unavailable,
    *_DATABASE_AWAY,  # refused, lost, starting, stopping, full
    *REDIS_AWAY,
    *_BROKER_AWAY,
    asyncpg.InterfaceError,
    ConnectionError,
)
