"""Event envelopes: what a consumer can trust, and what it must dead-letter."""

import json

import pytest

from shared.events.contracts import OrderCancelled, OrderConfirmed, OrderedLine, OrderPlaced
from shared.events.envelope import (
    Event,
    MalformedEvent,
    RawEnvelope,
    envelope,
    event_types,
    parse_envelope,
    validate_payload,
)
from shared.events.topics import ORDERS, declared_topics
from shared.vocabulary.order_status import OrderStatus
from shared.vocabulary.units import StockUnit
from tests.fakes import to_json


def test_round_trip_keeps_payload_key_and_type() -> None:
    placed = OrderPlaced(
        order_id="o1",
        store_id="s1",
        placed_by="u",
        placed_for="u",
        fulfilment_mode="pickup",
        total_fen=300,
        lines=[
            OrderedLine(line_no=1, product_id="p", location_id="s1", quantity=1, unit=StockUnit.PIECE, stock_quantity=1)
        ],
    )
    env = envelope(placed)
    raw_env, event = parse(to_json(env))
    assert event == placed
    assert raw_env.key == "o1"
    assert raw_env.type == "OrderPlaced"
    assert raw_env.event_id == env.event_id


def parse(raw: bytes) -> tuple[RawEnvelope, Event | None]:
    """What a consumer does: the envelope first, then the payload if the type is one it knows."""
    env = parse_envelope(raw)
    cls = event_types().get(env.type)
    return env, validate_payload(env, cls) if cls else None


def test_caused_events_share_the_correlation_id_and_name_their_cause() -> None:
    first = envelope(OrderConfirmed(order_id="o1", store_id="s1"), correlation_id="req-42")
    second = envelope(
        OrderCancelled(order_id="o1", store_id="s1", cancelled_by="u", previous_status=OrderStatus.CONFIRMED),
        causation=first,
    )
    assert second.correlation_id == "req-42"
    assert second.causation_id == str(first.event_id)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b'{"hello": "world"}', "not an envelope"),
        (
            json.dumps(
                {
                    "event_id": "6f1c1c8e-0000-4000-8000-000000000000",
                    "type": "OrderConfirmed",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "correlation_id": "c",
                    "key": "o1",
                    "payload": {"order_id": "o1"},
                }
            ).encode(),
            "store_id",
        ),
        (
            json.dumps(
                {
                    "event_id": "6f1c1c8e-0000-4000-8000-000000000000",
                    "type": "OrderConfirmed",
                    "schema_version": 99,
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "correlation_id": "c",
                    "key": "o1",
                    "payload": {"order_id": "o1", "store_id": "s"},
                }
            ).encode(),
            "newer",
        ),
    ],
)
def test_malformed_events_say_what_is_wrong(raw: bytes, says: str) -> None:
    with pytest.raises(MalformedEvent, match=says):
        parse(raw)


def test_an_unknown_event_type_is_not_malformed_just_not_ours() -> None:
    raw = json.dumps(
        {
            "event_id": "6f1c1c8e-0000-4000-8000-000000000000",
            "type": "SomethingNew",
            "occurred_at": "2026-01-01T00:00:00Z",
            "correlation_id": "c",
            "key": "k",
            "payload": {},
        }
    ).encode()
    env, event = parse(raw)
    assert event is None
    assert env.type == "SomethingNew"


def test_every_event_lives_on_a_declared_topic_with_a_dlq() -> None:
    names = {t.name for t in declared_topics()}
    for cls in event_types().values():
        if not cls.__module__.startswith("shared."):
            continue  # test-only events on private topics
        assert cls.topic.name in names
        assert cls.topic.dlq.name in names
    assert ORDERS.partitions > 1, "one partition would serialise every order"
