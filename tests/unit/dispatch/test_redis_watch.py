"""What dispatch remembers of Redis's outages: time away is not silence, a kept position is written
at most every so often, and each outage is logged once when it starts and once when it ends."""

from __future__ import annotations

import logging

import pytest

from services.dispatch.adapters.redis_watch import RedisWatch


def test_time_with_redis_away_does_not_count_and_only_that_time() -> None:
    watch = RedisWatch()
    watch.answered(100.0)
    watch.failed(130.0, "refused")  # away since its last answer, not since the first failure seen
    assert watch.away
    assert watch.away_between(90.0, 160.0) == 60.0, "from 100 (last answer) to now"
    watch.answered(170.0)
    assert not watch.away
    assert watch.last_outage == (100.0, 170.0)
    assert watch.away_between(90.0, 200.0) == 70.0, "only the outage itself"
    assert watch.away_between(180.0, 200.0) == 0.0, "heard from after it: nothing to forgive"


def test_a_redis_that_restarted_empty_counts_as_away_since_its_last_answer() -> None:
    watch = RedisWatch()
    watch.answered(100.0)
    watch.lost_data(150.0)
    assert watch.last_outage == (100.0, 150.0)
    assert watch.back_within(160.0, 30.0), "riders it lost are looked up in PostgreSQL for a while"
    assert not watch.back_within(200.0, 30.0)


def test_a_position_is_kept_at_most_once_per_interval_per_rider() -> None:
    watch = RedisWatch()
    assert watch.keep_due("r1", 0.0, 30.0)
    assert not watch.keep_due("r1", 29.0, 30.0)
    assert watch.keep_due("r2", 29.0, 30.0), "each rider on their own clock"
    assert watch.keep_due("r1", 30.0, 30.0)


def test_each_outage_is_logged_once_at_each_end(caplog: pytest.LogCaptureFixture) -> None:
    watch = RedisWatch()
    with caplog.at_level(logging.WARNING, logger="services.dispatch.adapters.redis_watch"):
        for t in range(5):
            watch.failed(float(t), "refused")
        for t in range(5, 10):
            watch.answered(float(t))
    assert [r.getMessage().split(" ")[:3] for r in caplog.records] == [
        ["Redis", "does", "not"],
        ["Redis", "answers", "again"],
    ]
    assert watch.as_dict()["positions_from"] == "redis"
