"""News without the app: who is texted about which moment of an order, and who may choose it.

A person opts into text messages per choice (four of them, as the shopper app's settings show
them); each choice covers one or two moments. The person an order is for hears about it, and so
does every helper of theirs: the helper who registered a resident, the helpers a shopper named.
Each person's own choices decide; nobody who did not opt in gets a message. The message id is
derived from (event id, recipient, moment), so a redelivered event can only write the same row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import Invalid
from shared.vocabulary.roles import Role


class Moment(StrEnum):
    """What happened to the order, as a message tells it."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    LEFT_SHOP = "left_shop"
    LATE = "late"
    AT_DOOR = "at_door"
    IN_LOCKER = "in_locker"


class Choice(StrEnum):
    """What a person opts into: the moments grouped as people think of them."""

    ANSWER = "answer"  # confirmed or rejected
    ON_THE_WAY = "on_the_way"  # the rider has left the shop
    LATE = "late"
    ARRIVED = "arrived"  # at the door, or in the locker


CHOICE_OF: dict[Moment, Choice] = {
    Moment.CONFIRMED: Choice.ANSWER,
    Moment.REJECTED: Choice.ANSWER,
    Moment.LEFT_SHOP: Choice.ON_THE_WAY,
    Moment.LATE: Choice.LATE,
    Moment.AT_DOOR: Choice.ARRIVED,
    Moment.IN_LOCKER: Choice.ARRIVED,
}

LANGUAGES = ("zh", "en")
PHONE_DIGITS = (6, 20)

# Fixed forever: message ids must come out the same on every host and after every upgrade.
MESSAGE_NAMESPACE = uuid.UUID("5b0f8f9e-6a39-4c55-9a3e-1f0c7d5e2a11")


def message_id(event_id: uuid.UUID, recipient: str, moment: Moment) -> uuid.UUID:
    return uuid.uuid5(MESSAGE_NAMESPACE, f"{event_id}/{recipient}/{moment.value}")


@dataclass(frozen=True)
class NewsPreferences:
    """One person's choices: nothing is chosen until they (or their helper, for a resident) choose."""

    person: str
    choices: frozenset[Choice] = frozenset()
    language: str = "zh"
    phone: str | None = None  # None: the resident's phone, or the phone given with the order

    def wants(self, moment: Moment) -> bool:
        return CHOICE_OF[moment] in self.choices

    def changed(
        self, *, choices: list[str] | None = None, language: str | None = None, phone: str | object | None = ...
    ) -> NewsPreferences:
        """A copy with what was sent changed; an unknown choice or language, or a bad phone, is refused."""
        new_choices = self.choices
        if choices is not None:
            unknown = sorted(set(choices) - {c.value for c in Choice})
            if unknown:
                raise Invalid(f"unknown choices {unknown}; choose from {[c.value for c in Choice]}")
            new_choices = frozenset(Choice(c) for c in choices)
        new_language = self.language
        if language is not None:
            if language not in LANGUAGES:
                raise Invalid(f"language must be one of {list(LANGUAGES)}")
            new_language = language
        new_phone = self.phone if phone is ... else valid_phone(phone)  # type: ignore[arg-type]
        return NewsPreferences(self.person, new_choices, new_language, new_phone)


def valid_phone(phone: str | None) -> str | None:
    """A phone number as people write it (+86 138 0000 0000), or None; anything else is refused."""
    if phone is None or phone.strip() == "":
        return None
    text = phone.strip()
    digits = text.removeprefix("+").replace(" ", "").replace("-", "")
    low, high = PHONE_DIGITS
    if not digits.isdigit() or not low <= len(digits) <= high:
        raise Invalid("a phone number is digits, spaces and dashes, optionally after +, 6 to 20 digits")
    return text


class Relation(StrEnum):
    SELF = "self"  # the person the order is for
    HELPER = "helper"  # registered them, or was named by them


@dataclass(frozen=True)
class Listener:
    """Someone who may hear about an order: their relation to it, their choices, the phones to fall back on."""

    person: str
    relation: Relation
    preferences: NewsPreferences
    resident_phone: str | None = None  # when `person` is a resident their helper registered


@dataclass(frozen=True)
class Recipient:
    person: str
    phone: str
    language: str
    relation: Relation = Relation.SELF


def recipients(listeners: list[Listener], moment: Moment, order_phone: str | None) -> list[Recipient]:
    """Who is texted about `moment`: each listener who opted in and has a phone, once each.

    The person the order is for falls back to their resident record's phone, then to the
    order's contact phone; a helper is texted only at the phone they gave for it.
    """
    found: dict[str, Recipient] = {}
    for listener in listeners:
        prefs = listener.preferences
        if listener.person in found or not prefs.wants(moment):
            continue
        phone = prefs.phone
        if phone is None and listener.relation is Relation.SELF:
            phone = listener.resident_phone or order_phone
        if phone:
            found[listener.person] = Recipient(listener.person, phone, prefs.language, listener.relation)
    return list(found.values())


def is_late(promised_at: datetime | None, eta_door_at: datetime | None, late_after: timedelta) -> bool:
    """Late for a message: the live ETA passes the promise by at least `late_after` (not a minute's drift)."""
    if promised_at is None or eta_door_at is None:
        return False
    return eta_door_at - promised_at >= late_after


def minutes_late(promised_at: datetime, eta_door_at: datetime) -> int:
    return max(0, round((eta_door_at - promised_at).total_seconds() / 60))


def may_choose_for(role: Role, subject: str, person: str, helps_resident: bool) -> bool:
    """Only the person themselves, or a helper for a resident they registered: not an admin, not anyone else.

    A shopper who named a helper has an account of their own, so they choose for themselves.
    """
    if subject == person:
        return True
    return role is Role.HELPER and helps_resident
