"""The envelope every event travels in, and the registry that turns JSON back into a model.

A consumer knows what happened (`type`, `payload`), which version of the contract it was
written against (`schema_version`), and where it sits in a chain of cause and effect
(`correlation_id` is shared by everything one request set off, `causation_id` names the event
that caused this one).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.events.topics import Topic


class Event(BaseModel):
    """An event's payload: a fact, named in the past tense."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: ClassVar[Topic]
    schema_version: ClassVar[int] = 1

    def key(self) -> str:
        raise NotImplementedError


P = TypeVar("P")


class Envelope(BaseModel, Generic[P]):
    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID
    type: str
    schema_version: int = Field(1, ge=1)
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    key: str
    payload: P


class RawEnvelope(Envelope[dict[str, Any]]):
    """An envelope whose payload has not yet been checked against its contract."""


_REGISTRY: dict[str, type[Event]] = {}


def register(cls: type[Event]) -> type[Event]:
    _REGISTRY[cls.__name__] = cls
    return cls


def event_types() -> dict[str, type[Event]]:
    return dict(_REGISTRY)


def envelope(
    event: Event,
    *,
    correlation_id: str | None = None,
    causation: Envelope[Any] | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[Event]:
    """Wrap a payload; a caused event inherits its cause's correlation id."""
    if correlation_id is None:
        correlation_id = causation.correlation_id if causation else str(uuid.uuid4())
    typed: type[Envelope[Event]] = Envelope[type(event)]  # type: ignore[misc,assignment]  # parametrised at run time
    return typed(
        event_id=uuid.uuid4(),
        type=type(event).__name__,
        schema_version=type(event).schema_version,
        occurred_at=occurred_at or datetime.now(UTC),
        correlation_id=correlation_id,
        causation_id=str(causation.event_id) if causation else None,
        key=event.key(),
        payload=event,
    )


class MalformedEvent(Exception):
    """Bytes that are not a valid event: retrying cannot help, so they go to the dead-letter topic."""


def parse_envelope(raw: bytes) -> RawEnvelope:
    """Decode the envelope only: enough to know what the event is and whether we care."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise MalformedEvent(f"not JSON: {e}") from e
    try:
        return RawEnvelope.model_validate(data)
    except ValidationError as e:
        raise MalformedEvent(f"not an envelope: {_errors(e)}") from e


def validate_payload(env: RawEnvelope, cls: type[Event]) -> Event:
    if env.schema_version > cls.schema_version:  # a newer contract than this reader knows
        raise MalformedEvent(f"{env.type} v{env.schema_version} is newer than this consumer's v{cls.schema_version}")
    try:
        return cls.model_validate(env.payload)
    except ValidationError as e:
        raise MalformedEvent(f"{env.type} payload is invalid: {_errors(e)}") from e


def _errors(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors())
