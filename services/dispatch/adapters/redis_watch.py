"""What dispatch's Redis adapters saw of Redis: answering, away since when, back since when.

Rider positions and the live streams live in Redis and nowhere else, so when Redis goes away
dispatch has to know it: the rounds then plan from the positions kept in PostgreSQL (and do not
count the time Redis was away towards a rider's silence), the live notes written meanwhile are
lost (and the streams' clients are told to read a fresh snapshot), and /health says so. One
watch per Redis client, that is per running service; it logs each change once.
"""

from __future__ import annotations

import logging
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

# Set NX on every read of positions: a missing key means Redis restarted empty (or was flushed).
ALIVE = "dispatch:redis:alive"
# While Redis is away, it is asked again at most this often: a Redis that hangs (stopped, not gone)
# would otherwise hold every commit and position read for the client's socket timeout.
RETRY_EVERY_S = 2.0


@dataclass
class RedisWatch:
    """Redis as dispatch's adapters last met it; times are epoch seconds on the adapters' clock."""

    away_since: float | None = None  # None while Redis answers
    last_outage: tuple[float, float] | None = None  # (from, to) of the latest outage that ended
    last_answer: float | None = None
    notes_lost: int = 0  # live notes not written since the streams' clients were last told to resync
    kept_at: dict[str, float] = field(default_factory=dict)  # rider id -> when their position was last kept
    _tried: float = float("-inf")  # time.monotonic() of the last try while away
    _failed: float = float("-inf")  # time.monotonic() of the last failure

    @classmethod
    def of(cls, redis: Any) -> RedisWatch:
        watch = _WATCHES.get(redis)
        if watch is None:
            watch = _WATCHES[redis] = cls()
        return watch

    @property
    def away(self) -> bool:
        return self.away_since is not None

    def worth_trying(self) -> bool:
        """Whether to ask Redis now: always while it answers; while it is away, once RETRY_EVERY_S
        have passed since the last failure and since the last try began (one try at a time)."""
        if self.away_since is None:
            return True
        now = time.monotonic()
        if now - self._failed < RETRY_EVERY_S or now - self._tried < RETRY_EVERY_S:
            return False
        self._tried = now
        return True

    def failed(self, now: float, what: str) -> None:
        self._failed = time.monotonic()
        if self.away_since is None:
            self.away_since = self.last_answer if self.last_answer is not None else now
            log.warning(
                "Redis does not answer (%s): position updates and live streams answer 503, rounds plan from the "
                "last positions kept in PostgreSQL, live notes are not written until it is back",
                what,
            )

    def answered(self, now: float) -> None:
        if self.away_since is not None:
            self.last_outage = (self.away_since, now)
            log.warning(
                "Redis answers again after %.1fs away: live positions and streams resume", now - self.away_since
            )
            self.away_since = None
        self.last_answer = now

    def lost_data(self, now: float) -> None:
        """Redis answers but has forgotten everything (a restart without persistence)."""
        since = self.last_answer if self.last_answer is not None else now
        if self.last_answer is not None:
            log.warning("Redis restarted empty: riders it lost are placed from PostgreSQL until they report again")
        self.last_outage = (min(since, self.away_since or since), now)
        self.away_since = None
        self.last_answer = now

    def away_between(self, start: float, end: float) -> float:
        """How long, of [start, end], Redis was away: that time does not count towards silence."""
        spans = [self.last_outage] if self.last_outage else []
        if self.away_since is not None:
            spans.append((self.away_since, end))
        return sum(max(0.0, min(end, to) - max(start, since)) for since, to in spans)

    def back_within(self, now: float, seconds: float) -> bool:
        """Redis is away, or came back less than `seconds` ago: riders may be missing from it."""
        return self.away or (self.last_outage is not None and now - self.last_outage[1] < seconds)

    def keep_due(self, rider_id: str, at: float, every_s: float) -> bool:
        """Whether this position should be kept in PostgreSQL (at most one per rider every `every_s`)."""
        last = self.kept_at.get(rider_id)
        if last is not None and at - last < every_s:
            return False
        self.kept_at[rider_id] = at
        return True

    def as_dict(self) -> dict[str, Any]:
        def iso(t: float | None) -> str | None:
            return datetime.fromtimestamp(t, UTC).isoformat() if t is not None else None

        return {
            "positions_from": "postgres (last kept positions)" if self.away else "redis",
            "redis_away_since": iso(self.away_since),
            "last_outage": {"from": iso(self.last_outage[0]), "to": iso(self.last_outage[1])}
            if self.last_outage
            else None,
            "live_notes_lost": self.notes_lost,
        }


_WATCHES: weakref.WeakKeyDictionary[Any, RedisWatch] = weakref.WeakKeyDictionary()
