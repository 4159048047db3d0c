"""The settings the shop-side rules need, in one value that tests can build by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from shared.settings import Settings


@dataclass(frozen=True)
class Policy:
    accept_limit_s: float = 180.0  # unless the shop, stall or its market sets its own
    approval_limit_s: float = 300.0
    weight_tolerance_pct: float = 10.0  # unless the location sets its own
    timezone: str = "Asia/Shanghai"

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.accept_limit_s, settings.approval_limit_s, settings.weight_tolerance_pct, settings.timezone)


def now() -> datetime:
    return datetime.now(UTC)
