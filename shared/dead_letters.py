"""Reading and replaying `<topic>.dlq`, for the operator behind `linli dlq`.

Replay publishes a dead letter's original bytes, key and headers back to its topic. It is safe
to replay twice: the consumers' inboxes apply an event id at most once. Which dead letters
were replayed is remembered as the committed offset of the `linli-dlq-replay` group.
"""

from __future__ import annotations

import asyncio
import json
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


async def _read_all(consumer: AIOKafkaConsumer, tp: TopicPartition) -> list[Any]:
    end = (await consumer.end_offsets([tp]))[tp]
    await consumer.seek_to_beginning(tp)
    records: list[Any] = []
    while await consumer.position(tp) < end:
        batch = await consumer.getmany(tp, timeout_ms=1000)
        records.extend(batch.get(tp, []))
    return records


async def read(bootstrap: str, topic: str) -> list[DeadLetter]:
    tp = TopicPartition(f"{topic}.dlq", 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        committed = await consumer.committed(tp) or 0
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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=REPLAY_GROUP, enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await asyncio.gather(consumer.start(), producer.start())
    replayed = 0
    try:
        consumer.assign([tp])
        committed = await consumer.committed(tp) or 0
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
