"""Event handlers of the dispatch service."""

from __future__ import annotations

from services.dispatch.service_layer.tracking import record_order_event
from shared.events.contracts import OrderAccepted, OrderCancelled, OrderConfirmed, OrderPlaced, OrderRejected
from shared.events.topics import ORDERS
from shared.inbox import Handler
from shared.service import Runtime, Subscription


def _record(_: Runtime) -> Handler:
    return record_order_event


SUBSCRIPTIONS = [Subscription("dispatch", ORDERS, {
    cls: _record for cls in (OrderPlaced, OrderConfirmed, OrderRejected, OrderAccepted, OrderCancelled)})]
