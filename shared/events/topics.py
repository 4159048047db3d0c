"""Every Kafka topic Linli uses, declared with its partitions, because auto-creation gives one.

Keys keep one order's events in order: everything about an order is keyed by its id, so it
lands on one partition of its topic and is consumed in the order it was written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    compacted: bool = False
    description: str = ""

    @property
    def dlq(self) -> Topic:
        return Topic(f"{self.name}.dlq", 1, description=f"messages from {self.name} that could not be applied")


ORDERS = Topic("linli.orders", 6, description="facts about orders, keyed by order id (orders service)")
INVENTORY = Topic(
    "linli.inventory", 6, description="stock reservations and shop decisions, keyed by order id (inventory service)"
)
CATALOG = Topic(
    "linli.catalog",
    3,
    compacted=True,
    description="latest state of every location and product, keyed by its id (inventory service); "
    "compacted, so a new reader rebuilds its read model from the start",
)

DISPATCH = Topic(
    "linli.dispatch", 6, description="riders, offers, deliveries and lockers, keyed by order id (dispatch service)"
)

CIRCLE = Topic(
    "linli.circle",
    3,
    compacted=True,
    description="what the circle offers now: locker sites with free compartments and the delivery "
    "time each shop could promise, keyed by site or shop (dispatch service); compacted",
)

ALL_TOPICS: tuple[Topic, ...] = (ORDERS, INVENTORY, CATALOG, DISPATCH, CIRCLE)


def declared_topics() -> list[Topic]:
    """The topics and their dead-letter topics that must exist before any service runs."""
    return [t for topic in ALL_TOPICS for t in (topic, topic.dlq)]
