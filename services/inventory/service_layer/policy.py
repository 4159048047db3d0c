"""The settings the shop-side rules need, in one value that tests can build by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.attempts import CodeLimits
from shared.settings import Settings


@dataclass(frozen=True)
class Policy:
    timezone: str  # the shops' local time, for opening hours: always `settings.timezone`
    accept_limit_s: float = 180.0  # unless the shop, stall or its market sets its own
    approval_limit_s: float = 300.0
    weight_tolerance_pct: float = 10.0  # unless the location sets its own
    # how many wrong handover codes lock an order's, and for how long
    code_limits: CodeLimits = field(default_factory=CodeLimits)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.timezone,
            settings.accept_limit_s,
            settings.approval_limit_s,
            settings.weight_tolerance_pct,
            CodeLimits.from_settings(settings),
        )
