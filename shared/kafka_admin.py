"""Declaring topics explicitly, with their partitions, before anything produces or consumes."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.events.topics import Topic, declared_topics

log = logging.getLogger(__name__)


async def ensure_topics(bootstrap_servers: str, topics: list[Topic] | None = None, attempts: int = 30) -> list[str]:
    """Create missing topics; returns the names created. Existing topics are left as they are."""
    topics = topics if topics is not None else declared_topics()
    for attempt in range(attempts):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in topics if t.name not in existing]
            created = []
            for topic in missing:
                configs = {"cleanup.policy": "compact"} if topic.compacted else {}
                try:
                    await admin.create_topics([NewTopic(topic.name, topic.partitions, 1, topic_configs=configs)])
                    created.append(topic.name)
                except TopicAlreadyExistsError:
                    pass  # another service declared it first
            return created
        except Exception as e:
            if attempt == attempts - 1:
                raise
            log.info("broker not ready for topic declaration (%r); retrying", e)
            await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
        finally:
            await admin.close()
    return []
