"""Dispatch's set-based handlers give exactly what the same events give one at a time: the order
events of a fetch applied as one run (placed, a redelivered placed, confirmed, accepted; packed from
inventory) leave the same deliveries, events, order log, tracked statuses and deadlines."""

from __future__ import annotations

from typing import Any

from services.dispatch.entrypoints.app import SPEC
from shared.events.contracts import OrderConfirmed, OrderRejected
from shared.events.envelope import Event, envelope
from shared.events.topics import INVENTORY, ORDERS
from shared.inbox import Record
from shared.vocabulary.fulfilment import FulfilmentMode
from tests.fakes import to_json
from tests.integration.dispatch.conftest import SETTINGS, Dispatch
from tests.integration.dispatch.helpers import accepted, packed, placed
from tests.runtime import consumer_for, runtime_for

TABLES = ("offers", "deliveries", "outbox", "order_log", "tracked_orders", "deadlines", "inbox")


def confirmed(order_id: str) -> OrderConfirmed:
    return OrderConfirmed(order_id=order_id, store_id="shop")


def messages() -> list[tuple[Any, bytes]]:
    """Two delivery orders and a pickup one, o1's OrderPlaced delivered twice (a new event id: the
    orders service published it again), confirmed, accepted, then packed on the inventory topic."""
    events: list[tuple[Any, Event]] = [
        (ORDERS, placed("o1", pay_on_delivery=True)),
        (ORDERS, placed("o2")),
        (ORDERS, placed("o3", mode=FulfilmentMode.PICKUP)),
        (ORDERS, placed("o1")),
        (ORDERS, placed("o4")),
        (ORDERS, confirmed("o1")),
        (ORDERS, confirmed("o2")),
        (ORDERS, confirmed("o3")),
        (ORDERS, confirmed("o4")),
        (ORDERS, accepted("o1")),
        (ORDERS, accepted("o2")),
        (ORDERS, accepted("o2")),
        (ORDERS, OrderRejected(order_id="o4", store_id="shop", reason="closed")),
        (INVENTORY, packed("o1", bags=2)),
        (INVENTORY, packed("o2", code="9999")),
    ]
    return [(topic, to_json(envelope(event))) for topic, event in events]


async def snapshot(d: Dispatch) -> dict[str, list[Any]]:
    deliveries = await d.pool.fetch("SELECT * FROM deliveries ORDER BY order_id")
    outbox = await d.pool.fetch("SELECT event_type, envelope FROM outbox ORDER BY id")
    log = await d.pool.fetch("SELECT event_id, order_id, event_type, payload FROM order_log ORDER BY event_id")
    tracked = await d.pool.fetch("SELECT * FROM tracked_orders ORDER BY order_id")
    deadlines = await d.pool.fetch("SELECT kind, key, due_at FROM deadlines ORDER BY kind, key")
    return {
        "deliveries": [{k: v for k, v in r.items() if k not in ("created_at", "updated_at")} for r in deliveries],
        "events": [
            (r["event_type"], r["envelope"]["payload"], r["envelope"]["causation_id"], r["envelope"]["occurred_at"])
            for r in outbox
        ],
        "log": [tuple(r.values()) for r in log],
        "tracked": [{k: v for k, v in r.items() if k != "updated_at"} for r in tracked],
        "deadlines": [tuple(r.values()) for r in deadlines],
    }


async def test_a_run_of_order_events_has_the_effects_of_each_alone(dispatch: Dispatch) -> None:
    d = dispatch
    await d.pool.execute("UPDATE shops SET picking_minutes = 7")  # each order waits for those before it
    runtime = runtime_for(SPEC, SETTINGS, d.pool, d.redis, d.clock)
    sent = messages()

    for topic, raw in sent:
        assert await consumer_for(runtime, topic).handle(raw, None, {}) == "applied"
    alone = await snapshot(d)
    await d.pool.execute(f"TRUNCATE {', '.join(TABLES)}")

    for topic in (ORDERS, INVENTORY):
        records = [Record(raw, offset=i) for i, (t, raw) in enumerate(sent) if t == topic]
        await consumer_for(runtime, topic).handle_batch(records)
    together = await snapshot(d)

    orders = consumer_for(runtime, ORDERS)
    assert orders.split == 0  # the run was applied together, never split up
    assert orders.batches == 1
    assert [r["order_id"] for r in together["deliveries"]] == ["o1", "o2", "o4"]
    assert [r["status"] for r in together["deliveries"]] == ["open", "open", "dropped"]
    assert [t for t, *_ in together["events"]].count("DeliveryPromised") == 3  # o1 once, though placed twice
    promised = [r["promised_at"] for r in together["deliveries"]]
    assert promised[0] < promised[1] < promised[2]  # o2 queued behind o1, o4 behind both: as placed one by one
    assert together == alone
