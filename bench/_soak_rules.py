"""The soak's two rules, as pure functions (tests/unit/shared/test_soak_rules.py).

- **Memory**: a process's RSS may not grow by more than `limit` (10 %) from the end of the
  warm-up (its first sample at or after `warmup_s`) to its last sample.
- **Lag**: consumer lag may not trend upward: the least-squares slope of the total lag over the
  samples after the warm-up, in messages per minute, must stay at most `max_slope_per_min`, unless
  the last lag is still small (at most `floor` messages: a queue that short is no backlog).

Both need enough samples after the warm-up to say anything (2 for memory, 3 for lag); with fewer
the verdict is "not judged", never a pass in disguise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Series = Sequence[tuple[float, float]]  # (seconds since the load started, value)


def slope(points: Series) -> float | None:
    """The least-squares slope of value over time (per second); None with < 2 points or one instant."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx == 0:
        return None
    return sum((t - mx) * (v - my) for t, v in points) / sxx


@dataclass(frozen=True)
class Verdict:
    what: str
    judged: bool
    ok: bool
    detail: str


def rss_growth(series: Mapping[str, Series], warmup_s: float, limit: float = 0.10) -> list[Verdict]:
    """One verdict per process: RSS from the warm-up's end to the last sample."""
    verdicts = []
    for name, points in sorted(series.items()):
        after = [(t, v) for t, v in points if t >= warmup_s]
        if len(after) < 2 or after[0][1] <= 0:
            verdicts.append(Verdict(f"RSS {name}", False, True, f"{len(after)} samples after the warm-up: not judged"))
            continue
        base, last = after[0][1], after[-1][1]
        growth = (last - base) / base
        verdicts.append(
            Verdict(
                f"RSS {name}",
                True,
                growth <= limit,
                f"{base / 2**20:.1f} -> {last / 2**20:.1f} MiB ({growth:+.1%}, at most {limit:+.0%})",
            )
        )
    return verdicts


def lag_trend(points: Series, warmup_s: float, max_slope_per_min: float = 30.0, floor: float = 50.0) -> Verdict:
    """Whether the total consumer lag rises after the warm-up."""
    after = [(t, v) for t, v in points if t >= warmup_s]
    per_s = slope(after) if len(after) >= 3 else None
    if per_s is None:
        return Verdict("consumer lag", False, True, f"{len(after)} samples after the warm-up: not judged")
    per_min, last = per_s * 60, after[-1][1]
    rising = per_min > max_slope_per_min and last > floor
    return Verdict(
        "consumer lag",
        True,
        not rising,
        f"slope {per_min:+.1f} messages/min over {len(after)} samples (at most {max_slope_per_min:g}, "
        f"or a last lag of at most {floor:g}); last {last:.0f}",
    )
