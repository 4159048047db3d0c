"""The shared outbox and deadline tables, written for a whole batch in one statement each.

`shared.outbox.record` and `PostgresDeadlines.schedule` write one row per call; a run of placed
orders publishes one event or more per order and starts a countdown per part, so these write
all of a run's rows at once, with the same columns, the same order and the same conflict rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from shared import outbox
from shared.deadlines import Deadline
from shared.events.envelope import Envelope, Event


class OutboxRows:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def record_many(self, envs: Sequence[Envelope[Any]], service: str) -> None:
        """Add the events to the outbox in this order (the relay sends them in id order) and wake the relay
        once; the NOTIFY is delivered on commit, when the rows become visible."""
        if not envs:
            return
        for env in envs:
            if not isinstance(env.payload, Event):
                raise TypeError("only registered Event payloads can be recorded in the outbox")
        await self.conn.execute(
            "WITH added AS (INSERT INTO outbox (event_id, topic, key, event_type, envelope) "
            "SELECT e.event_id, e.topic, e.key, e.event_type, e.envelope::jsonb "
            "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY "
            "AS e(event_id, topic, key, event_type, envelope, n) ORDER BY e.n RETURNING 1) "
            "SELECT pg_notify($6, '') FROM (SELECT count(*) FROM added) AS done",
            [env.event_id for env in envs],
            [type(env.payload).topic.name for env in envs],
            [env.key for env in envs],
            [env.type for env in envs],
            [env.model_dump_json() for env in envs],
            outbox.channel(service),
        )


class DeadlineRows:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def schedule_many(self, deadlines: Sequence[Deadline]) -> None:
        """Schedule (or re-schedule) each deadline, as `PostgresDeadlines.schedule` does one; the last of two with
        one kind and key wins, as it would one after the other."""
        latest = {(d.kind, d.key): d for d in deadlines}
        if not latest:
            return
        rows = list(latest.values())
        await self.conn.execute(
            "INSERT INTO deadlines (kind, key, due_at, payload) "
            "SELECT d.kind, d.key, d.due_at, d.payload::jsonb "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS d(kind, key, due_at, payload) "
            "ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at, payload = excluded.payload, "
            "fired_at = NULL, cancelled_at = NULL",
            [d.kind for d in rows],
            [d.key for d in rows],
            [d.due_at for d in rows],
            [json.dumps(dict(d.payload)) for d in rows],
        )
