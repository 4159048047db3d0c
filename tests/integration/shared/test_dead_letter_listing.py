"""`linli dlq list` and `replay` against the embedded broker: every dead letter is seen, even when
the partition's last write was a batch (tansu then reports an end offset short of the real one),
and what was replayed is read back from the replay group's committed offset."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from typer.testing import CliRunner

from shared import dead_letters
from shared.cli.main import app
from shared.events.topics import Topic
from tests.integration.conftest import read_topic


@pytest.fixture
async def batching_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer that lingers, so records sent together go to the broker as one batch."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=100)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def dead_letter(producer: AIOKafkaProducer, topic: Topic, *names: str) -> None:
    """Dead-letter `names` in one batch, as consumers failing at the same time do."""
    sent = [
        await producer.send(
            topic.dlq.name,
            value=json.dumps({"type": "ParcelNoted", "name": name}).encode(),
            key=name.encode(),
            headers=[("x-dlq-error", f"{name} failed".encode()), ("x-dlq-original-topic", topic.name.encode())],
        )
        for name in names
    ]
    await asyncio.gather(*sent)


async def test_a_listing_ends_with_the_last_record_of_a_batch(batching_producer, bootstrap, private_topic) -> None:
    await dead_letter(batching_producer, private_topic, "alone")
    await dead_letter(batching_producer, private_topic, "b1", "b2", "b3", "b4")

    letters = await dead_letters.read(bootstrap, private_topic.name)

    assert [letter.key for letter in letters] == ["alone", "b1", "b2", "b3", "b4"]
    assert [letter.offset for letter in letters] == [0, 1, 2, 3, 4]
    assert letters[-1].error == "b4 failed"
    assert not any(letter.replayed for letter in letters)


async def test_replay_sends_every_letter_of_a_batch_once_and_remembers_it(
    batching_producer, bootstrap, private_topic
) -> None:
    await dead_letter(batching_producer, private_topic, "a1", "a2", "a3")

    assert await dead_letters.replay(bootstrap, private_topic.name) == 3
    back = await read_topic(bootstrap, private_topic.name, 3)
    assert sorted(r.key for r in back) == [b"a1", b"a2", b"a3"]
    assert all(not k.startswith("x-dlq-") for r in back for k, _ in r.headers)

    await dead_letter(batching_producer, private_topic, "c1", "c2")
    listed = await dead_letters.read(bootstrap, private_topic.name)
    assert [(letter.key, letter.replayed) for letter in listed] == [
        ("a1", True),
        ("a2", True),
        ("a3", True),
        ("c1", False),
        ("c2", False),
    ]
    assert await dead_letters.replay(bootstrap, private_topic.name) == 2, "only the new batch"
    assert await dead_letters.replay(bootstrap, private_topic.name) == 0
    assert len(await read_topic(bootstrap, private_topic.name, 5)) == 5


async def test_the_replay_group_offset_is_read_by_a_fresh_consumer(batching_producer, bootstrap, private_topic) -> None:
    await dead_letter(batching_producer, private_topic, "x1", "x2")
    await dead_letters.replay(bootstrap, private_topic.name)

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=dead_letters.REPLAY_GROUP)
    await consumer.start()
    try:
        tp = TopicPartition(private_topic.dlq.name, 0)
        consumer.assign([tp])
        assert await dead_letters._replayed_up_to(consumer, tp) == 2
    finally:
        await consumer.stop()


async def test_an_empty_dead_letter_topic_lists_nothing(bootstrap, private_topic) -> None:
    assert await dead_letters.read(bootstrap, private_topic.name) == []
    assert await dead_letters.replay(bootstrap, private_topic.name) == 0


async def test_the_cli_lists_and_replays_a_batch(batching_producer, bootstrap, private_topic) -> None:
    await dead_letter(batching_producer, private_topic, "k1", "k2", "k3")
    env = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    runner = CliRunner()
    listed = await asyncio.to_thread(runner.invoke, app, ["dlq", "list", private_topic.name, "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [(r["key"], r["replayed"], r["error"]) for r in rows] == [
        ("k1", False, "k1 failed"),
        ("k2", False, "k2 failed"),
        ("k3", False, "k3 failed"),
    ]
    replayed = await asyncio.to_thread(runner.invoke, app, ["dlq", "replay", private_topic.name], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "replayed 3 message(s)" in replayed.output
    again = await asyncio.to_thread(runner.invoke, app, ["dlq", "list", private_topic.name, "--json"], env=env)
    assert [json.loads(line)["replayed"] for line in again.output.splitlines()] == [True, True, True]
