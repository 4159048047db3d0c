"""When a shop, market or stall is open: several windows a day, dated closures, a pause switch.

Wet markets and tidal stall areas trade in short windows (morning, noon, evening), so a day
is a list of windows, not one interval. Times are local to the neighbourhood (a setting,
Asia/Shanghai by default); a window may not cross midnight — split it in two instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Window(BaseModel):
    """One opening window on one day of the week, e.g. Monday 06:00-11:30."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: int = Field(ge=0, le=6, description="0 = Monday ... 6 = Sunday")
    opens: time
    closes: time

    @model_validator(mode="after")
    def _in_order(self) -> Window:
        if self.closes <= self.opens:
            raise ValueError(
                f"a window must close after it opens ({self.opens:%H:%M}-{self.closes:%H:%M}); "
                "split a window that crosses midnight in two"
            )
        return self


class Closure(BaseModel):
    """A date the location is shut all day (a holiday, a family event, the market being cleaned)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    on: date
    reason: str = Field("", max_length=200)


# A window can only close within its day, so "until midnight" is written 23:59:59 and means the
# day's last second too: without that, a shop open round the clock refused orders for one second
# every night (the failover test once placed its orders in it).
END_OF_DAY = time(23, 59, 59)
ALWAYS_OPEN: tuple[Window, ...] = tuple(Window(day=d, opens=time(0, 0), closes=END_OF_DAY) for d in range(7))


@dataclass(frozen=True)
class Hours:
    windows: tuple[Window, ...] = ALWAYS_OPEN
    closures: tuple[Closure, ...] = ()
    paused: bool = False
    timezone: str = "Asia/Shanghai"
    _closed_on: frozenset[date] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_closed_on", frozenset(c.on for c in self.closures))

    def _local(self, at: datetime) -> datetime:
        return at.astimezone(ZoneInfo(self.timezone))

    def is_open(self, at: datetime) -> bool:
        """Open at `at` (an aware datetime) by the timetable, ignoring the pause switch."""
        local = self._local(at)
        if local.date() in self._closed_on:
            return False
        now = local.time()
        return any(
            w.day == local.weekday() and w.opens <= now and (now < w.closes or w.closes >= END_OF_DAY)
            for w in self.windows
        )

    def taking_orders(self, at: datetime) -> bool:
        return not self.paused and self.is_open(at)

    def next_opening(self, at: datetime, horizon_days: int = 14) -> datetime | None:
        """The first moment at or after `at` that the timetable is open; None within the horizon."""
        if self.is_open(at):
            return at
        local = self._local(at)
        zone = ZoneInfo(self.timezone)
        for offset in range(horizon_days + 1):
            day = local.date() + timedelta(days=offset)
            if day in self._closed_on:
                continue
            starts = sorted(w.opens for w in self.windows if w.day == day.weekday())
            for opens in starts:
                candidate = datetime.combine(day, opens, tzinfo=zone)
                if candidate >= local:
                    return candidate
        return None

    def why_not(self, at: datetime) -> str | None:
        """None when taking orders; otherwise what the shopper should be told."""
        if self.paused:
            return "is busy and not taking orders right now; try again a little later"
        if self.is_open(at):
            return None
        nxt = self.next_opening(at)
        if nxt is None:
            return "is closed and has no opening in the next two weeks"
        return f"is closed; it next opens {nxt:%a %Y-%m-%d %H:%M} ({self.timezone})"
