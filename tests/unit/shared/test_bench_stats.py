"""The benchmark's summary math: percentiles, timelines, throughput, schedule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.place_orders import (
    Sent,
    Timing,
    cpu_ms_by_process,
    cpu_ms_per_order,
    cpu_used,
    database_url_named,
    generator_load,
    parse_time,
    percentile,
    post_errors,
    rate_of,
    result_path,
    schedule,
    shopper_pool,
    summarize,
    throughput,
    timing_of,
    writes_per_order,
)
from bench.sweep import Rule, Search, bracket, converged, next_rate, nice, orders_for, ratio, settled, sustained

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10
    assert percentile(values, 100) == 40
    assert percentile(values, 50) == 25
    assert percentile(values, 95) == pytest.approx(38.5)


def test_percentile_does_not_care_about_order_and_handles_one_or_none() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2
    assert percentile([7.0], 99) == 7
    assert percentile([], 50) is None
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_percentile_of_1_to_100() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)


def test_summarize() -> None:
    summary = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary == {"count": 5, "min": 1.0, "mean": 22.0, "p50": 3.0, "p95": 80.8, "p99": 96.2, "max": 100.0}
    assert summarize([]) == {"count": 0, "min": None, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}


def test_schedule_is_open_loop_by_time() -> None:
    assert schedule(4, 2.0) == [0.0, 0.5, 1.0, 1.5]
    assert schedule(0, 100.0) == []
    with pytest.raises(ValueError, match="must be positive"):
        schedule(3, 0)


def test_parse_time_needs_a_zone() -> None:
    assert parse_time("2025-05-01T08:00:00.250000+00:00") == at(250)
    assert parse_time("2025-05-01T08:00:00Z") == T0
    with pytest.raises(ValueError, match="no time zone"):
        parse_time("2025-05-01T08:00:00")


def order(*entries: tuple[float, str | None]) -> dict[str, object]:
    return {
        "timeline": [{"at": at(ms).isoformat(), "status": status, "cause": "x", "detail": {}} for ms, status in entries]
    }


def test_timing_from_the_orders_own_timeline() -> None:
    timing = timing_of(order((0, "PLACED"), (5, None), (120, "CONFIRMED"), (900, "ACCEPTED")))
    assert timing == Timing(at(0), at(120), "CONFIRMED")
    assert timing is not None
    assert timing.latency_ms == pytest.approx(120)


def test_timing_of_a_rejected_or_undecided_order() -> None:
    rejected = timing_of(order((0, "PLACED"), (40, "REJECTED")))
    assert rejected is not None
    assert rejected.outcome == "REJECTED"
    undecided = timing_of(order((0, "PLACED")))
    assert undecided == Timing(at(0), None, "PLACED")
    assert undecided is not None
    assert undecided.latency_ms is None
    assert timing_of({"timeline": []}) is None


def test_throughput_is_confirmed_orders_over_first_placed_to_last_confirmed() -> None:
    timings = [
        Timing(at(0), at(100), "CONFIRMED"),
        Timing(at(500), at(2000), "CONFIRMED"),
        Timing(at(600), at(700), "REJECTED"),
        Timing(at(700), None, "PLACED"),
    ]
    rate, window = throughput(timings)
    assert window == pytest.approx(2.0)
    assert rate == pytest.approx(1.0)
    assert throughput([]) == (None, None)
    assert throughput([Timing(at(0), None, "PLACED")]) == (None, None)


def test_post_latency_from_start_and_from_schedule() -> None:
    s = Sent(0, scheduled_s=1.0, started_s=1.5, finished_s=1.75, status=201)
    assert s.latency_ms == pytest.approx(250)
    assert s.latency_from_schedule_ms == pytest.approx(750)
    assert Sent(1, 0.0).latency_ms is None


def test_post_errors_by_kind() -> None:
    sent = [
        Sent(0, 0, status=201),
        Sent(1, 0, status=503),
        Sent(2, 0, status=503),
        Sent(3, 0, status=422),
        Sent(4, 0, error="timeout"),
        Sent(5, 0, error="ConnectError"),
    ]
    errors = post_errors(sent)
    assert {k: v for k, v in errors.items() if k != "first_failures"} == {
        "non_201": {"422": 1, "503": 2},
        "timeouts": 1,
        "transport": {"ConnectError": 1},
    }
    assert [f["index"] for f in errors["first_failures"]] == [1, 2, 3, 4, 5]
    assert errors["first_failures"][3] == {
        "index": 4,
        "scheduled_s": 0,
        "after_ms": None,
        "status": None,
        "error": "timeout",
        "answer": None,
    }
    assert post_errors([Sent(0, 0, status=201)])["first_failures"] == []


def test_rates_and_writes_per_order() -> None:
    assert rate_of(10, 2.0) == 5
    assert rate_of(10, 0) is None
    assert rate_of(10, None) is None
    assert writes_per_order(1000, 1600, 10.0, 2.0, 100) == pytest.approx(5.8)
    assert writes_per_order(1000, 1001, 10.0, 2.0, 100) == 0
    assert writes_per_order(1, 2, 1.0, 0.0, 0) is None


def test_scratch_database_url_keeps_server_credentials_and_options() -> None:
    assert (
        database_url_named("postgresql://postgres@127.0.0.1:5432/postgres", "scratch")
        == "postgresql://postgres@127.0.0.1:5432/scratch"
    )
    assert (
        database_url_named("postgresql://u:p@db:5432/linli_orders?sslmode=require", "s")
        == "postgresql://u:p@db:5432/s?sslmode=require"
    )


def test_result_file_is_named_by_utc_timestamp() -> None:
    started = datetime(2025, 5, 1, 8, 3, 9, tzinfo=UTC)
    assert result_path(started, Path("r")) == Path("r/20250501T080309Z.json")


def test_cpu_used_per_component_and_in_cores() -> None:
    before = {"orders": 10.0, "postgres": 4.0, "_machine": 100.0, "_stalled": 50.0}
    after = {"orders": 16.0, "postgres": 5.0, "bench": 2.0, "_machine": 107.0, "_stalled": 51.0}
    assert cpu_used(before, after, 4.0) == {
        "window_s": 4.0,
        "cores_busy": {"orders": 1.5, "postgres": 0.25, "bench": 0.5},
        "ours_cores_busy": 2.25,
        "machine_cores_busy": 1.75,
        "others_cores_busy": 0.0,
        "cpu_pressure_pct": 25.0,
    }
    assert cpu_used({"orders": 1.0}, {"orders": 3.0}, 2.0) == {
        "window_s": 2.0,
        "cores_busy": {"orders": 1.0},
        "ours_cores_busy": 1.0,
    }
    assert cpu_used({}, {}, 0) == {}


def test_cpu_per_order_keeps_the_bench_apart() -> None:
    before = {"orders": 1.0, "postgres": 1.0, "bench": 0.0, "_machine": 5.0}
    after = {"orders": 3.0, "postgres": 2.0, "bench": 0.5, "_machine": 9.0}
    assert cpu_ms_per_order(before, after, 100) == {"system": 30.0, "bench": 5.0}
    assert cpu_ms_per_order(before, after, 0) is None


# --- the sweep (bench/sweep.py) and the per-process CPU -------------------------------------------------


def test_cpu_per_order_for_each_process_with_the_generator_apart() -> None:
    before = {"orders": 1.0, "postgres": 1.0, "bench": 0.0, "_machine": 5.0, "_stalled": 1.0}
    after = {"orders": 3.0, "postgres": 2.0, "broker": 0.5, "bench": 0.25, "_machine": 9.0, "_stalled": 2.0}
    assert cpu_ms_by_process(before, after, 100) == {
        "per_process": {"broker": 5.0, "orders": 20.0, "postgres": 10.0},
        "system": 35.0,
        "load_generator": 2.5,
    }
    assert cpu_ms_by_process(before, after, 0) is None
    assert cpu_ms_by_process(before, {}, 10) is None


def test_the_generator_is_hot_above_half_a_core() -> None:
    assert generator_load(0.2) == {"cores": 0.2, "hot": False, "hot_above_cores": 0.5}
    assert generator_load(0.5)["hot"] is False
    assert generator_load(0.51)["hot"] is True
    assert generator_load(None)["hot"] is False


def test_shopper_pool_is_one_per_order_unless_smaller() -> None:
    assert shopper_pool(500, None) == (500, 1)
    assert shopper_pool(500, 1000) == (500, 1)
    assert shopper_pool(2_000_000, 1000) == (1000, 2000)
    assert shopper_pool(1001, 1000) == (1000, 2)


def test_a_step_is_sustained_when_confirmed_share_p99_and_sending_hold() -> None:
    assert sustained(1000, 950, 1000.0, 50.0, 50) == (True, [])
    ok, why = sustained(1000, 949, 200.0, 50.0, 50)
    assert not ok
    assert why == ["confirmed 94.9% of the offered < 95%"]
    ok, why = sustained(1000, 1000, 1000.1, 50.0, 50)
    assert not ok
    assert why == ["p99 1000 ms > 1000 ms"]
    assert sustained(1000, 0, None, 50.0, 50)[1] == ["confirmed 0.0% of the offered < 95%", "no order was confirmed"]
    # the generator (or the in-flight limit) could not send at the rate: the step says nothing of the system
    assert sustained(1000, 1000, 10.0, 47.0, 50) == (False, ["sent at only 47.0/s of 50/s"])
    assert sustained(1000, 1000, 10.0, None, 50) == (True, [])
    assert sustained(0, 0, None, None, 50) == (False, ["nothing was offered"])
    strict = Rule(min_confirmed_share=0.99, max_p99_ms=250)
    assert sustained(100, 98, 300.0, 10.0, 10, strict)[1] == [
        "confirmed 98.0% of the offered < 99%",
        "p99 300 ms > 250 ms",
    ]


def play(capacity: float, search: Search = Search()) -> list[tuple[float, bool]]:
    """Run the search against a system that sustains every rate up to `capacity`."""
    history: list[tuple[float, bool]] = []
    while (rate := next_rate(history, search)) is not None:
        history.append((rate, rate <= capacity))
        assert len(history) < 40
    return history


def test_the_search_steps_up_by_doubling_then_bisects_to_within_ten_percent() -> None:
    history = play(130)
    assert [r for r, _ in history] == [50, 100, 200, 150, 125, 138, 132]
    low, high = bracket(history)
    assert (low, high) == (125, 132)
    assert high <= low * 1.1
    assert converged(history)


def test_the_search_goes_down_when_the_first_step_fails() -> None:
    history = play(30)
    assert [r for r, _ in history][:2] == [50, 25]
    low, high = bracket(history)
    assert low is not None
    assert high is not None
    assert low <= 30 < high <= low * 1.1
    assert converged(history)


def test_the_search_finds_nothing_when_nothing_holds_and_stops_at_the_top() -> None:
    nothing = play(0)
    assert bracket(nothing) == (None, nothing[-1][0])
    assert nothing[-1][0] < Search().lowest * Search().factor
    assert converged(nothing)
    capped = Search(highest=400)
    top = play(10_000, capped)
    assert [r for r, _ in top] == [50, 100, 200, 400]
    assert bracket(top) == (400, None)
    assert converged(top, capped)


def test_the_search_bisects_between_the_best_held_and_the_lowest_failure_above_it() -> None:
    # a noisy machine: 100 failed once but 150 held later; the bracket is (150, 200)
    history = [(50.0, True), (100.0, False), (75.0, True), (200.0, False), (150.0, True)]
    assert bracket(history) == (150, 200)
    assert next_rate(history) == 175
    assert not converged(history)
    assert not converged([(50.0, True)])
    assert next_rate([], Search(first=80)) == 80


def test_rates_are_whole_above_ten() -> None:
    assert nice(137.5) == 138
    assert nice(9.375) == 9.4
    assert orders_for(137, 20) == 2740
    assert orders_for(0.5, 20) == 20


def test_ratios_to_the_references() -> None:
    assert ratio(300, 500) == 0.6
    assert ratio(125, 2350.0) == 0.053
    assert ratio(None, 500) is None
    assert ratio(300, None) is None
    assert ratio(300, 0) is None


def test_the_next_step_waits_for_the_stack_to_fall_back_to_its_idle_cpu() -> None:
    assert settled(0.2, idle_cores=0.1)  # within the margin of what it used idle
    assert not settled(0.9, idle_cores=0.1)  # a backlog is still going through the consumers
    assert not settled(0.3, idle_cores=0.1, margin_cores=0.1)
