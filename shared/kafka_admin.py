"""Declaring topics explicitly, with their partitions, before anything produces or consumes;
and telling a broker that lost everything from the one the services last wrote to.

A broker that keeps nothing across a restart (tansu's memory storage, the embedded stack's)
comes back with no topics, no messages and no committed offsets. The first service to declare
its topics on such a broker also creates the epoch topic and writes one record into it: a new
id and the time. An outbox relay that finds a different epoch than before (or, on its first
look, one younger than rows it already marked published) knows those rows went to a broker
that forgot them, and sends them again (`shared.outbox`). Apache Kafka keeps its topics, so
there the epoch never changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from shared.events.topics import Topic, declared_topics

log = logging.getLogger(__name__)


def _never_auto_create() -> None:
    """Topics are declared here, with their partitions, and never created by asking about them.

    aiokafka asks the broker to auto-create every topic it requests metadata for (protocol v4+)
    and has no setting against it: after a broker lost everything, a producer or consumer that
    refreshed its metadata first would get the broker's default partition count, not ours.
    """
    original = MetadataRequest.__init__
    if getattr(original, "never_auto_create", False):
        return

    def init(
        self: MetadataRequest, topics: list[str] | None = None, allow_auto_topic_creation: bool | None = None
    ) -> None:
        original(self, topics, False if allow_auto_topic_creation is None else allow_auto_topic_creation)

    init.never_auto_create = True  # type: ignore[attr-defined]
    MetadataRequest.__init__ = init


_never_auto_create()

EPOCH_TOPIC = Topic(
    "linli.broker-epoch",
    1,
    compacted=True,
    description="one record, written when the topics were first declared on this broker: which life of it this is",
)


@dataclass(frozen=True)
class Epoch:
    """One life of the broker: a new one begins whenever it lost everything."""

    id: str
    created_at: datetime


async def ensure_topics(bootstrap_servers: str, topics: list[Topic] | None = None, attempts: int = 30) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are.

    Without `topics`, every declared topic and the epoch topic; whoever creates the epoch topic
    writes the broker's epoch into it.
    """
    topics = topics if topics is not None else [*declared_topics(), EPOCH_TOPIC]
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            # The epoch topic first: a topic found beside a missing epoch topic then survived a loss.
            missing = sorted((t for t in topics if t.name not in existing), key=lambda t: t.name != EPOCH_TOPIC.name)
            created = []
            for topic in missing:
                configs = {"cleanup.policy": "compact"} if topic.compacted else {}
                try:
                    await admin.create_topics([NewTopic(topic.name, topic.partitions, 1, topic_configs=configs)])
                    created.append(topic.name)
                except TopicAlreadyExistsError:
                    pass  # another service declared it first
            if EPOCH_TOPIC.name in created:
                # Other topics there already: a broker from before epochs (upgraded), not one that lost them.
                await _write_epoch(bootstrap_servers, since_always=any(t.name in existing for t in topics))
            return created
        except Exception as e:
            if attempt == attempts - 1:
                raise
            log.info("broker not ready for topic declaration (%r); retrying", e)
            await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
        finally:
            await admin.close()
    return []


async def broker_epoch(bootstrap_servers: str, topics: list[Topic] | None = None) -> Epoch:
    """The broker's epoch, after declaring whatever is missing (a broker that lost everything gets
    its topics back, with their partitions, and a new epoch)."""
    created = await ensure_topics(bootstrap_servers, [*(topics or declared_topics()), EPOCH_TOPIC], attempts=1)
    if created:
        log.warning("declared %d missing topics on the broker: %s", len(created), ", ".join(sorted(created)))
    epoch = await _read_epoch(bootstrap_servers)
    if epoch is None:  # created by someone who has not written it yet, or who failed to: the first record wins
        await _write_epoch(bootstrap_servers)
        epoch = await _read_epoch(bootstrap_servers)
    if epoch is None:
        raise RuntimeError("the broker's epoch could not be read back")
    return epoch


async def _write_epoch(bootstrap_servers: str, *, since_always: bool = False) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", request_timeout_ms=10000)
    await producer.start()
    try:
        began = datetime(1970, 1, 1, tzinfo=UTC) if since_always else datetime.now(UTC)
        value = {"epoch": str(uuid.uuid4()), "created_at": began.isoformat()}
        await producer.send_and_wait(EPOCH_TOPIC.name, json.dumps(value).encode(), key=b"epoch")
    finally:
        await producer.stop()


async def _read_epoch(bootstrap_servers: str, within_ms: int = 3000) -> Epoch | None:
    """The epoch topic's first record (the first one written wins a race between services)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        request_timeout_ms=10000,
    )
    partition = TopicPartition(EPOCH_TOPIC.name, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        found = await consumer.getmany(partition, timeout_ms=within_ms, max_records=1)
        for record in found.get(partition, []):
            value = json.loads(record.value or b"{}")
            return Epoch(str(value["epoch"]), datetime.fromisoformat(value["created_at"]))
        return None
    finally:
        await consumer.stop()
