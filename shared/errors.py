"""The refusals every service speaks, each with the HTTP status the one handler in `build_app` gives it.

A use case raises one of these for a person's mistake or a rule they ran into; the message is
shown to them as it stands, so it says what was wrong and what to do instead. Anything else
that escapes a route (a stray `ValueError` included) is a bug: it is logged and answered 500.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar


class Refusal(Exception):
    """A refusal the person asking is told about; `extra` adds fields to the JSON answer."""

    status_code: ClassVar[int] = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: Mapping[str, Any] = extra
        # True: the unit of work it leaves still commits what was written before it (a wrong code's
        # counted try), and an Idempotency-Key keeps this answer. Most refusals roll everything back.
        self.commits = False

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, **self.extra}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides its JSON body (none, for most refusals)."""
        return {}


class NotFound(Refusal):
    """Nothing by that id, or nothing the asker may know exists (both answer 404 alike)."""

    status_code = 404


class Forbidden(Refusal):
    """The asker is known but this is not theirs to see or change."""

    status_code = 403


class Conflict(Refusal):
    """The request is well formed but the thing's present state refuses it; the reason says why."""

    status_code = 409


class Invalid(Refusal):
    """The request itself is wrong (a value out of range, a missing field a rule needs)."""

    status_code = 422


class WrongCode(Invalid):
    """A handover, delivery or locker code that does not match: callers count these apart."""


class TooManyTries(Refusal):
    """Too many tries (wrong codes for one order, or code routes for one subject): wait until `retry_at`.

    The body says when (`retry_at`, ISO 8601, and `retry_after_s`); so does the Retry-After header.
    """

    status_code = 429

    def __init__(self, message: str, retry_at: datetime, now: datetime, **extra: Any) -> None:
        self.retry_after_s = max(1, math.ceil((retry_at - now).total_seconds()))
        super().__init__(message, retry_at=retry_at.isoformat(), retry_after_s=self.retry_after_s, **extra)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class PaymentRequired(Refusal):
    """The balance does not cover the order; the message says how much is missing."""

    status_code = 402
