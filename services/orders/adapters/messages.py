"""Text messages in PostgreSQL, the notifiers that send them, and the loop that sends them.

`NewsStore` works on the unit of work's connection: preferences, each order's moments told once,
and the message outbox rows written in the same transaction as the event that caused them.
`MessageSender` is the background loop: it leases due rows, checks the recipient still opts in,
hands each to the notifier, and marks it sent, due again later (capped backoff) or failed. It
never touches an order: a gateway that is down delays messages, never an order or a consumer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import httpx

from services.orders.domain.news import CHOICE_OF, Choice, Listener, Moment, NewsPreferences, Relation
from shared.background import BackgroundLoop
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One message to one phone, with the id that makes it unique (and a gateway's dedupe key)."""

    message_id: uuid.UUID
    event_id: uuid.UUID
    order_id: str
    recipient: str
    moment: Moment
    phone: str
    language: str
    body: str

    @property
    def choice(self) -> Choice:
        return CHOICE_OF[self.moment]


@dataclass(frozen=True)
class Asked:
    """A moment an event noticed: told once per order, whatever event noticed it."""

    order_id: str
    moment: Moment
    event_id: uuid.UUID
    placed_for: str


KNOWN_CHOICES = frozenset(c.value for c in Choice)


def preferences_of(person: str, row: Any) -> NewsPreferences:
    if row is None:
        return NewsPreferences(person)
    choices = frozenset(Choice(c) for c in row["choices"] if c in KNOWN_CHOICES)
    return NewsPreferences(person, choices, row["language"], row["phone"])


class NewsStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def savepoint(self) -> Any:
        """A nested transaction: messages that fail to be written roll back alone, not the event's effects."""
        return self.conn.transaction()

    async def preferences(self, person: str) -> NewsPreferences:
        row = await self.conn.fetchrow("SELECT * FROM news_preferences WHERE person = $1", person)
        return preferences_of(person, row)

    async def save_preferences(self, prefs: NewsPreferences, changed_by: str) -> None:
        await self.conn.execute(
            "INSERT INTO news_preferences (person, phone, language, choices, changed_by) VALUES ($1,$2,$3,$4,$5) "
            "ON CONFLICT (person) DO UPDATE SET phone = $2, language = $3, choices = $4, changed_by = $5, "
            "changed_at = now()",
            prefs.person,
            prefs.phone,
            prefs.language,
            sorted(c.value for c in prefs.choices),
            changed_by,
        )

    async def tell_once(self, asked: Sequence[Asked]) -> dict[tuple[str, Moment], list[Listener]]:
        """Mark each (order, moment) told; for those not told before, who listens (opted in to anything).

        One statement however many: the moments claimed, and the person each order is for and
        their helpers joined with the preferences they saved.
        """
        unique = list({(a.order_id, a.moment): a for a in asked}.values())
        if not unique:
            return {}
        rows = await self.conn.fetch(
            "WITH asked AS (SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[]) "
            "AS a(order_id, moment, event_id, placed_for)), "
            "told AS (INSERT INTO news_moments (order_id, moment, event_id) "
            "SELECT order_id, moment, event_id FROM asked ON CONFLICT DO NOTHING RETURNING order_id, moment), "
            "fresh AS (SELECT a.* FROM asked a JOIN told t USING (order_id, moment)), "
            "people AS (SELECT order_id, moment, placed_for AS person, 'self' AS relation FROM fresh "
            "UNION ALL SELECT f.order_id, f.moment, r.helper, 'helper' FROM fresh f "
            "JOIN residents r ON r.resident_id = f.placed_for "
            "UNION ALL SELECT f.order_id, f.moment, n.helper, 'helper' FROM fresh f "
            "JOIN named_helpers n ON n.shopper = f.placed_for) "
            "SELECT p.order_id, p.moment, p.person, p.relation, np.phone, np.language, np.choices, "
            "r.phone AS resident_phone FROM people p JOIN news_preferences np ON np.person = p.person "
            "LEFT JOIN residents r ON r.resident_id = p.person "
            "WHERE cardinality(np.choices) > 0 ORDER BY p.relation DESC, p.person",
            [a.order_id for a in unique],
            [a.moment.value for a in unique],
            [a.event_id for a in unique],
            [a.placed_for for a in unique],
        )
        found: dict[tuple[str, Moment], list[Listener]] = {}
        for r in rows:
            listener = Listener(
                r["person"], Relation(r["relation"]), preferences_of(r["person"], r), r["resident_phone"]
            )
            found.setdefault((r["order_id"], Moment(r["moment"])), []).append(listener)
        return found

    async def write(self, messages: Sequence[Outgoing]) -> int:
        """Add messages to the outbox; one already there (the same event, recipient and moment) is kept as it is."""
        if not messages:
            return 0
        added = await self.conn.fetchval(
            "WITH added AS (INSERT INTO message_outbox (message_id, event_id, order_id, recipient, moment, choice, "
            "phone, language, body) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], "
            "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) "
            "ON CONFLICT (message_id) DO NOTHING RETURNING 1) SELECT count(*) FROM added",
            [m.message_id for m in messages],
            [m.event_id for m in messages],
            [m.order_id for m in messages],
            [m.recipient for m in messages],
            [m.moment.value for m in messages],
            [m.choice.value for m in messages],
            [m.phone for m in messages],
            [m.language for m in messages],
            [m.body for m in messages],
        )
        return int(added or 0)


# The notifiers: one interface, two adapters.


class SendFailed(Exception):
    """The notifier could not deliver; `permanent` when trying again cannot help (a refused number)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class Notifier(Protocol):
    kind: str

    async def send(self, message: Outgoing) -> None:
        """Deliver `message` or raise SendFailed; sending one message id twice must deliver it once."""

    async def close(self) -> None: ...


class Recorder:
    """Keeps every message in `recorded_messages` (shown in the console); a message sent twice is counted, kept once."""

    kind = "recorder"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def send(self, message: Outgoing) -> None:
        await self.pool.execute(
            "INSERT INTO recorded_messages (message_id, phone, language, body) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (message_id) DO UPDATE SET sends = recorded_messages.sends + 1",
            message.message_id,
            message.phone,
            message.language,
            message.body,
        )

    async def close(self) -> None:
        return None


# A 4xx other than these means the gateway refuses this message for good (a malformed number, say).
RETRYABLE_4XX = frozenset({408, 409, 425, 429})


class SmsGateway:
    """An SMS gateway's HTTP API: POST {message_id, to, text, language}, the id also as Idempotency-Key."""

    kind = "sms_gateway"

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(timeout=timeout_s, headers=headers, transport=transport)

    async def send(self, message: Outgoing) -> None:
        body = {"message_id": str(message.message_id), "to": message.phone, "text": message.body}
        body["language"] = message.language
        try:
            answer = await self.client.post(self.url, json=body, headers={"Idempotency-Key": str(message.message_id)})
        except httpx.HTTPError as e:
            raise SendFailed(f"gateway unreachable: {e!r}") from e
        if answer.status_code == 409:
            return  # the gateway already has this message id: delivered (or delivering) once
        if answer.is_success:
            return
        permanent = 400 <= answer.status_code < 500 and answer.status_code not in RETRYABLE_4XX
        raise SendFailed(f"gateway answered {answer.status_code}: {answer.text[:200]}", permanent=permanent)

    async def close(self) -> None:
        await self.client.aclose()


def notifier_for(settings: Settings, pool: asyncpg.Pool) -> Notifier:
    """The gateway when one is configured, else the recorder (the default, and what the tests use)."""
    if settings.sms_gateway_url:
        return SmsGateway(
            settings.sms_gateway_url, settings.sms_gateway_token, timeout_s=settings.sms_gateway_timeout_s
        )
    return Recorder(pool)


def backoff_s(attempts: int, initial_s: float, max_s: float) -> float:
    """The wait after the `attempts`-th failed try: initial, doubling, capped."""
    return float(min(max_s, initial_s * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class SenderTimings:
    interval_s: float = 1.0
    retry_initial_s: float = 5.0
    retry_max_s: float = 600.0
    max_attempts: int = 8
    batch_size: int = 50
    lease_s: float = 60.0  # a leased row is due again after this if the sender died holding it
    keep_h: float = 24 * 30  # sent and withheld messages are deleted after this (failed ones stay)
    sweep_every_s: float = 3600.0

    @classmethod
    def of(cls, settings: Settings) -> SenderTimings:
        return cls(
            settings.news_send_interval_s,
            settings.news_retry_initial_s,
            settings.news_retry_max_s,
            settings.news_max_attempts,
            lease_s=max(60.0, settings.sms_gateway_timeout_s * 3),
            keep_h=settings.news_keep_h,
        )


class MessageSender(BackgroundLoop):
    """Sends due messages at least once, each with its message id; many instances may run (rows are leased)."""

    name = "message sender"

    def __init__(self, pool: asyncpg.Pool, notifier: Notifier, timings: SenderTimings | None = None) -> None:
        self.timings = timings or SenderTimings()
        super().__init__(self.timings.interval_s)
        self.pool = pool
        self.notifier = notifier
        self.sent = 0
        self.failed = 0
        self._swept_at = float("-inf")

    @classmethod
    def on(cls) -> Any:
        return lambda runtime: cls(
            runtime.pool, notifier_for(runtime.settings, runtime.pool), SenderTimings.of(runtime.settings)
        )

    async def stop(self) -> None:
        await super().stop()
        await self.notifier.close()

    async def round(self) -> None:
        while await self.send_due() >= self.timings.batch_size:
            pass
        if time.monotonic() - self._swept_at >= self.timings.sweep_every_s:
            self._swept_at = time.monotonic()
            await self.sweep()

    async def sweep(self) -> int:
        """Delete sent and withheld messages older than `keep_h` (and what the recorder kept of them)."""
        done = await self.pool.fetchval(
            "WITH gone AS (DELETE FROM message_outbox WHERE status IN ('sent', 'withheld') "
            "AND created_at < now() - make_interval(secs => $1) RETURNING message_id), "
            "unrecorded AS (DELETE FROM recorded_messages WHERE message_id IN (SELECT message_id FROM gone)) "
            "SELECT count(*) FROM gone",
            self.timings.keep_h * 3600,
        )
        return int(done or 0)

    async def send_due(self) -> int:
        """Lease a batch of due messages, send them side by side, record each outcome; how many were leased."""
        rows = await self.pool.fetch(
            "WITH due AS (SELECT message_id FROM message_outbox WHERE status = 'pending' AND next_attempt_at <= now() "
            "ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
            "UPDATE message_outbox m SET next_attempt_at = now() + make_interval(secs => $2) FROM due "
            "WHERE m.message_id = due.message_id RETURNING m.*, EXISTS (SELECT 1 FROM news_preferences p "
            "WHERE p.person = m.recipient AND m.choice = any(p.choices)) AS wanted",
            self.timings.batch_size,
            self.timings.lease_s,
        )
        await asyncio.gather(*(self._send(r) for r in rows))
        return len(rows)

    async def _send(self, row: Any) -> None:
        if not row["wanted"]:  # opted out since it was written: never sent
            await self._mark(row["message_id"], "withheld", "the recipient opted out before it was sent")
            return
        message = Outgoing(
            row["message_id"],
            row["event_id"],
            row["order_id"],
            row["recipient"],
            Moment(row["moment"]),
            row["phone"],
            row["language"],
            row["body"],
        )
        try:
            await self.notifier.send(message)
        except Exception as e:  # any failure is the message's, never the loop's
            attempts = int(row["attempts"]) + 1
            permanent = isinstance(e, SendFailed) and e.permanent
            error = str(e) if isinstance(e, SendFailed) else repr(e)
            if permanent or attempts >= self.timings.max_attempts:
                self.failed += 1
                log.warning("message %s failed for good after %d tries: %s", message.message_id, attempts, error)
                await self.pool.execute(
                    "UPDATE message_outbox SET status = 'failed', attempts = $2, last_error = $3 WHERE message_id = $1",
                    message.message_id,
                    attempts,
                    error,
                )
            else:
                wait = backoff_s(attempts, self.timings.retry_initial_s, self.timings.retry_max_s)
                await self.pool.execute(
                    "UPDATE message_outbox SET attempts = $2, last_error = $3, "
                    "next_attempt_at = now() + make_interval(secs => $4) WHERE message_id = $1",
                    message.message_id,
                    attempts,
                    error,
                    wait,
                )
            return
        self.sent += 1
        await self.pool.execute(
            "UPDATE message_outbox SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL "
            "WHERE message_id = $1",
            message.message_id,
        )

    async def _mark(self, message_id: uuid.UUID, status: str, reason: str) -> None:
        await self.pool.execute(
            "UPDATE message_outbox SET status = $2, last_error = $3 WHERE message_id = $1", message_id, status, reason
        )


async def recent_messages(pool: asyncpg.Pool, status: str | None, limit: int) -> list[dict[str, Any]]:
    """For the console: the newest messages, with what the recorder kept of each."""
    rows = await pool.fetch(
        "SELECT m.message_id, m.order_id, m.recipient, m.moment, m.phone, m.language, m.body, m.status, m.attempts, "
        "m.last_error, m.created_at, m.sent_at, r.sends AS recorded_sends FROM message_outbox m "
        "LEFT JOIN recorded_messages r USING (message_id) WHERE ($1::text IS NULL OR m.status = $1) "
        "ORDER BY m.created_at DESC, m.message_id LIMIT $2",
        status,
        limit,
    )
    return [dict(r) for r in rows]


async def message_counts(pool: asyncpg.Pool) -> dict[str, int]:
    rows = await pool.fetch("SELECT status, count(*) AS n FROM message_outbox GROUP BY status")
    counts = {"pending": 0, "sent": 0, "failed": 0, "withheld": 0}
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts
