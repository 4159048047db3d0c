"""Reading and replaying `<topic>.dlq`, for the operator behind `linli dlq`.

Replay publishes a dead letter's original bytes, key and headers back to its topic. It is safe
to replay twice: the consumers' inboxes apply an event id at most once. Which dead letters
were replayed is remembered as the committed offset of the `linli-dlq-replay` group.

Two things here are shaped by tansu, the embedded broker, and are right on Kafka too:
- a partition is read until a fetch comes back empty, never up to the end offset ListOffsets
  reports: tansu answers less than the real end on a partition whose last write was a batch of
  several records (the reported end is only a floor we wait for);
- the group's committed offset is read with the consumer's own OffsetFetch (`committed()`),
  which both brokers answer; aiokafka's admin `list_consumer_group_offsets` cannot decode tansu's.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

REPLAY_GROUP = "linli-dlq-replay"


@dataclass
class DeadLetter:
    offset: int
    key: str | None
    headers: dict[str, str]
    value: bytes
    replayed: bool

    @property
    def error(self) -> str:
        return self.headers.get("x-dlq-error", "")

    @property
    def event_type(self) -> str:
        if "event_type" in self.headers:
            return self.headers["event_type"]
        try:
            return str(json.loads(self.value).get("type", "?"))
        except (ValueError, AttributeError):
            return "(not JSON)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "key": self.key,
            "event_type": self.event_type,
            "error": self.error,
            "replayed": self.replayed,
            "headers": self.headers,
            "value": self.value.decode(errors="replace"),
        }


FETCH_WAIT_MS = 200  # how long the broker may hold an empty fetch (tansu always holds it this long)
EMPTY_AFTER_MS = 1000  # a poll this long with nothing in it: the partition has no more records
FLOOR_WAIT_S = 10.0  # how long to keep polling for records below the reported end before giving up


async def _read_all(consumer: AIOKafkaConsumer, tp: TopicPartition) -> list[Any]:
    """Every record on `tp`, read until a poll returns nothing (and at least up to the reported end)."""
    floor = (await consumer.end_offsets([tp]))[tp]
    await consumer.seek_to_beginning(tp)
    records: list[Any] = []
    deadline = time.monotonic() + FLOOR_WAIT_S
    while True:
        batch = (await consumer.getmany(tp, timeout_ms=EMPTY_AFTER_MS)).get(tp, [])
        records.extend(batch)
        if batch:
            continue
        if await consumer.position(tp) >= floor or time.monotonic() > deadline:
            return records


def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=REPLAY_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )


async def _replayed_up_to(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    """The replay group's committed offset on `tp` (0 before any replay)."""
    return await consumer.committed(tp) or 0


async def read(bootstrap: str, topic: str) -> list[DeadLetter]:
    tp = TopicPartition(f"{topic}.dlq", 0)
    consumer = _consumer(bootstrap)
    await consumer.start()
    try:
        consumer.assign([tp])
        committed = await _replayed_up_to(consumer, tp)
        records = await _read_all(consumer, tp)
    finally:
        await consumer.stop()
    return [
        DeadLetter(
            r.offset,
            r.key.decode() if r.key else None,
            {k: v.decode(errors="replace") for k, v in (r.headers or ())},
            r.value or b"",
            r.offset < committed,
        )
        for r in records
    ]


async def replay(bootstrap: str, topic: str, only_offset: int | None = None) -> int:
    """Replay pending dead letters (or one, by offset); returns how many were published."""
    tp = TopicPartition(f"{topic}.dlq", 0)
    consumer = _consumer(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await asyncio.gather(consumer.start(), producer.start())
    replayed = 0
    try:
        consumer.assign([tp])
        committed = await _replayed_up_to(consumer, tp)
        for record in await _read_all(consumer, tp):
            if only_offset is not None and record.offset != only_offset:
                continue
            if only_offset is None and record.offset < committed:
                continue
            headers = [(k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")]
            headers.append(("x-replayed-from", f"{tp.topic}@{record.offset}".encode()))
            original = dict(record.headers or ()).get("x-dlq-original-topic", topic.encode()).decode()
            await producer.send_and_wait(original, value=record.value, key=record.key, headers=headers)
            replayed += 1
            if only_offset is None:
                await consumer.commit({tp: record.offset + 1})
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())
    return replayed
