"""The soak's rules (bench/_soak_rules.py): memory may not creep after the warm-up, lag may not rise."""

from __future__ import annotations

import pytest

from bench._soak_rules import lag_trend, rss_growth, slope

MIB = 2**20


def test_slope_is_the_least_squares_fit() -> None:
    assert slope([(0, 0), (60, 60), (120, 120)]) == pytest.approx(1.0)
    assert slope([(0, 10), (60, 12), (120, 8), (180, 10)]) == pytest.approx(-0.00667, abs=1e-4)
    assert slope([(5, 1)]) is None
    assert slope([(5, 1), (5, 3)]) is None


def test_rss_that_grows_more_than_ten_percent_after_the_warm_up_fails() -> None:
    series = {
        "orders": [(60, 50 * MIB), (180, 100 * MIB), (240, 104 * MIB), (300, 109 * MIB)],  # +9 %: ok
        "inventory": [(60, 90 * MIB), (180, 100 * MIB), (300, 112 * MIB)],  # +12 %: fails
    }
    verdicts = {v.what: v for v in rss_growth(series, warmup_s=180)}
    assert verdicts["RSS orders"].ok
    assert verdicts["RSS orders"].judged
    assert not verdicts["RSS inventory"].ok
    assert "+12.0%" in verdicts["RSS inventory"].detail


def test_growth_during_the_warm_up_does_not_count() -> None:
    # Doubling in the first minutes (imports, pools, caches filling) and flat afterwards passes.
    (verdict,) = rss_growth({"dispatch": [(60, 40 * MIB), (120, 80 * MIB), (180, 100 * MIB), (240, 100 * MIB)]}, 180)
    assert verdict.ok


def test_too_few_samples_after_the_warm_up_are_not_judged() -> None:
    (verdict,) = rss_growth({"redis": [(60, 10 * MIB), (180, 30 * MIB)]}, warmup_s=180)
    assert not verdict.judged
    assert "not judged" in verdict.detail


def test_a_lag_that_keeps_rising_after_the_warm_up_fails() -> None:
    rising = [(t, 20.0 * t / 10) for t in range(0, 600, 10)]  # +120 messages a minute
    verdict = lag_trend(rising, warmup_s=180, max_slope_per_min=30, floor=50)
    assert verdict.judged
    assert not verdict.ok


def test_a_noisy_flat_lag_or_a_backlog_draining_passes() -> None:
    flat = [(t, 30.0 + (17 * t) % 40) for t in range(0, 600, 10)]
    assert lag_trend(flat, warmup_s=180).ok
    draining = [(t, max(0.0, 5000 - 10.0 * t)) for t in range(0, 600, 10)]
    assert lag_trend(draining, warmup_s=180).ok


def test_a_rise_that_stays_small_is_no_backlog() -> None:
    small = [(float(t), t / 10) for t in range(180, 400, 10)]  # rising, but the last lag is ~40 messages
    assert lag_trend(small, warmup_s=180, max_slope_per_min=1, floor=50).ok


def test_lag_with_fewer_than_three_samples_after_the_warm_up_is_not_judged() -> None:
    verdict = lag_trend([(100.0, 5.0), (200.0, 900.0), (260.0, 2000.0)], warmup_s=180)
    assert not verdict.judged
