"""The refusals every service speaks, each with the HTTP status the one handler in `build_app` gives it.

A use case raises one of these for a person's mistake or a rule they ran into; the message is
shown to them as it stands, so it says what was wrong and what to do instead. Anything else
that escapes a route (a stray `ValueError` included) is a bug: it is logged and answered 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class Refusal(Exception):
    """A refusal the person asking is told about; `extra` adds fields to the JSON answer."""

    status_code: ClassVar[int] = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: Mapping[str, Any] = extra

    def body(self) -> dict[str, Any]:
        return {"detail": self.message, **self.extra}


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


class PaymentRequired(Refusal):
    """The balance does not cover the order; the message says how much is missing."""

    status_code = 402
