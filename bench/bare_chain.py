"""The peer: a bare FastStream chain on the same broker, with no database.

A producer, two handlers and a sink, on three one-partition topics::

    producer -> bare.<run>.a -> hop1 -> bare.<run>.b -> hop2 -> bare.<run>.c -> sink

Every handler takes one message at a time, acknowledges it (commits its offset) after handling
it, and the two hops re-publish it, waiting for the broker's answer. The producer sends one
message at a time too. The figure is messages per second through every hop: messages that
reached the sink / (last arrival at the sink - first send), after a short warm-up that lets the
three consumer groups join. This is what Linli is compared with (`peer` in `make bench`).

    python -m bench.bare_chain --start                        # its own embedded broker
    python -m bench.bare_chain --bootstrap 127.0.0.1:9092     # an existing broker
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import typer

WARMUP = 20
Handler = Callable[[list[float]], Awaitable[None]]


async def run_chain(bootstrap: str, messages: int, max_seconds: float, fetch_max_wait_ms: int) -> dict[str, Any]:
    """Push `messages` through the chain (stopping early after `max_seconds`); the rate and latencies."""
    from faststream import AckPolicy
    from faststream.kafka import KafkaBroker, TopicPartition

    from bench.place_orders import summarize
    from shared.events.topics import Topic
    from shared.kafka_admin import ensure_topics

    run = uuid.uuid4().hex[:8]
    a, b, c = (f"bare.{run}.{hop}" for hop in "abc")
    await ensure_topics(bootstrap, [Topic(name, 1) for name in (a, b, c)])
    broker = KafkaBroker(bootstrap, logger=None)
    arrived: list[float] = []
    latencies_ms: list[float] = []
    seen: set[float] = set()
    counted_from = 0  # sequence numbers below this are the warm-up
    enough = asyncio.Event()  # the warm-up went through
    done = asyncio.Event()  # every counted message arrived
    want = [0]  # how many counted messages to wait for, once they are all sent

    def subscriber(topic: str, name: str) -> Callable[[Handler], object]:
        # Assigned its partition rather than joining a group (which takes tansu seconds per group); the
        # group id is still where the acknowledgements commit the offsets.
        return broker.subscriber(
            partitions=[TopicPartition(topic, 0)],
            group_id=f"bare-{run}-{name}",
            ack_policy=AckPolicy.ACK,  # the offset is committed after the handler returns
            auto_offset_reset="earliest",
            max_poll_records=1,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )

    @subscriber(a, "hop1")
    async def hop1(body: list[float]) -> None:
        await broker.publish(body, b)

    @subscriber(b, "hop2")
    async def hop2(body: list[float]) -> None:
        await broker.publish(body, c)

    @subscriber(c, "sink")
    async def sink(body: list[float]) -> None:
        seq, sent_at = body
        now = time.perf_counter()
        if seq >= counted_from and seq not in seen:
            seen.add(seq)
            arrived.append(now)
            latencies_ms.append((now - sent_at) * 1000)
        if seq + 1 >= WARMUP:
            enough.set()
        if want[0] and len(arrived) >= want[0]:
            done.set()

    await broker.start()
    try:
        for seq in range(WARMUP):  # the groups join while these wait; not counted
            await broker.publish([seq, time.perf_counter()], a)
        await asyncio.wait_for(enough.wait(), 60)
        counted_from = WARMUP
        arrived.clear()
        latencies_ms.clear()
        began = time.perf_counter()
        deadline = began + max_seconds
        sent = 0
        for seq in range(WARMUP, WARMUP + messages):
            if time.perf_counter() > deadline:
                break
            await broker.publish([seq, time.perf_counter()], a)
            sent += 1
        want[0] = sent
        if len(arrived) < sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), max(5.0, max_seconds / 2))
        window = (arrived[-1] - began) if arrived else None
    finally:
        await broker.stop()
    return {
        "what": "bare FastStream chain, no database: producer -> hop -> hop -> sink on one-partition topics, "
        "one message at a time, ack after each, re-publish awaited; messages/s through every hop",
        "messages_sent": sent,
        "messages_arrived": len(arrived),
        "window_s": None if window is None else round(window, 2),
        "messages_per_s": None if not window else round(len(arrived) / window, 1),
        "latency_ms": summarize(latencies_ms),
        "fetch_max_wait_ms": fetch_max_wait_ms,
    }


app = typer.Typer(add_completion=False)


@app.command()
def main(
    bootstrap: Annotated[str | None, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="the broker")] = None,
    start: Annotated[bool, typer.Option(help="start an embedded broker and stop it afterwards")] = False,
    messages: Annotated[int, typer.Option(min=1, help="messages to push through the chain")] = 3000,
    max_seconds: Annotated[float, typer.Option(help="stop producing after this long")] = 15.0,
    fetch_max_wait_ms: Annotated[int | None, typer.Option(help="consumer fetch wait; default: the services'")] = None,
) -> None:
    """Measure the bare chain and print its JSON on stdout."""
    from shared.settings import get_settings

    wait_ms = fetch_max_wait_ms if fetch_max_wait_ms is not None else get_settings().consumer_fetch_max_wait_ms
    process = None
    home = tempfile.TemporaryDirectory(prefix="linli-bare-") if start else None
    try:
        if home is not None:
            from shared.stack import broker_process, free_port, wait_for_port

            port = free_port()
            process = broker_process(port, Path(home.name))
            process.start()
            wait_for_port(port)
            bootstrap = f"127.0.0.1:{port}"
        if not bootstrap:
            print("give --bootstrap (or KAFKA_BOOTSTRAP_SERVERS), or --start", file=sys.stderr)
            raise typer.Exit(2)
        result = asyncio.run(run_chain(bootstrap, messages, max_seconds, wait_ms))
    finally:
        if process is not None:
            process.stop()
        if home is not None:
            home.cleanup()
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    app()
