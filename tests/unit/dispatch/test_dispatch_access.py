"""Who may call what in dispatch: each refusal, checked before any database is touched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from services.dispatch.domain.delivery import Delivery, DeliveryStatus
from services.dispatch.domain.visibility import VISIBILITY
from services.dispatch.entrypoints.answers import delivery_for_rider
from services.dispatch.entrypoints.app import SPEC
from shared.auth import issue_token
from shared.events.contracts import DeliveryAddress
from shared.service import install_error_handlers
from shared.settings import Settings
from shared.vocabulary.fulfilment import FulfilmentMode
from shared.vocabulary.roles import Role

SETTINGS = Settings(service="dispatch")

RIDER_ONLY = [
    ("GET", "/riders/me"),
    ("POST", "/riders/me/state"),
    ("POST", "/riders/me/location"),
    ("GET", "/riders/me/offers"),
    ("POST", "/offers/x/accept"),
    ("POST", "/offers/x/decline"),
    ("POST", "/deliveries/o1/at-shop"),
    ("POST", "/deliveries/o1/picked-up"),
    ("POST", "/deliveries/o1/at-door"),
    ("POST", "/deliveries/o1/delivered"),
    ("POST", "/deliveries/o1/failed"),
    ("POST", "/deliveries/o1/locker-deposit"),
]
DISPATCHER_ONLY = [
    ("GET", "/riders"),
    ("PUT", "/riders/r1"),
    ("PUT", "/riders/r1/shifts"),
    ("POST", "/orders/o1/assign"),
    ("GET", "/deliveries"),
    ("GET", "/alerts"),
    ("GET", "/live"),
    ("GET", "/orders"),
    ("GET", "/orders/o1/events"),
]
ADMIN_ONLY = [("PUT", "/lockers/site-1")]


@pytest.fixture
async def client() -> AsyncIterator[AsyncClient]:
    app = FastAPI()
    app.state.settings = SETTINGS
    install_error_handlers(app)  # as build_app does: refusals answer 4xx
    for router in SPEC.routers:
        app.include_router(router)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://dispatch") as c:
        yield c


async def call(client: AsyncClient, method: str, path: str, role: Role, store: str | None = None) -> int:
    token = issue_token(SETTINGS, role, "someone", store=store)
    response = await client.request(method, path, headers={"Authorization": f"Bearer {token}"}, json={})
    return response.status_code


@pytest.mark.parametrize(
    ("method", "path"),
    RIDER_ONLY
    + DISPATCHER_ONLY
    + ADMIN_ONLY
    + [("GET", "/lockers"), ("POST", "/lockers/s/open"), ("GET", "/orders/o1/live")],
)
async def test_store_staff_see_nothing_of_dispatch(client: AsyncClient, method: str, path: str) -> None:
    assert await call(client, method, path, Role.STORE_STAFF, store="shop-1") == 403


@pytest.mark.parametrize(("method", "path"), DISPATCHER_ONLY + ADMIN_ONLY)
async def test_riders_and_shoppers_cannot_dispatch(client: AsyncClient, method: str, path: str) -> None:
    assert await call(client, method, path, Role.RIDER) == 403
    assert await call(client, method, path, Role.SHOPPER) == 403


@pytest.mark.parametrize(("method", "path"), RIDER_ONLY)
async def test_only_riders_ride(client: AsyncClient, method: str, path: str) -> None:
    assert await call(client, method, path, Role.SHOPPER) == 403
    assert await call(client, method, path, Role.DISPATCHER) == 403


async def test_dispatchers_cannot_set_up_lockers_and_riders_cannot_open_them(client: AsyncClient) -> None:
    assert await call(client, "PUT", "/lockers/site-1", Role.DISPATCHER) == 403
    assert await call(client, "POST", "/lockers/site-1/open", Role.RIDER) == 403


async def test_a_rider_cannot_follow_an_order_live(client: AsyncClient) -> None:
    assert await call(client, "GET", "/orders/o1/live", Role.RIDER) == 403


async def test_nobody_signed_in_gets_401(client: AsyncClient) -> None:
    assert (await client.get("/riders/me")).status_code == 401


def _delivery(status: str) -> Delivery:
    return Delivery(
        order_id="o1",
        store_id="shop",
        mode=FulfilmentMode.DELIVERY,
        placed_by="helper-1",
        placed_for="grandma",
        status=DeliveryStatus(status),
        bags=1,
        weight_g=900,
        packed_at=datetime(2026, 1, 1, tzinfo=UTC),
        call_first=True,
        total_fen=1200,
        handover_code="4321",
        address=DeliveryAddress(text="3-201 Lane 5", lat=32.0, lon=118.0),
        contact_phone="138",
        note="ring twice",
    )


def _row(status: str) -> dict[str, object]:
    """The rider's view of a delivery in `status`, as JSON."""
    return delivery_for_rider(_delivery(status)).model_dump(mode="json")


@pytest.mark.parametrize("status", ["assigned", "at_shop", "delivered", "failed"])
def test_a_rider_does_not_see_the_customer_before_pickup_or_after(status: str) -> None:
    view = _row(status)
    assert "customer" not in view
    assert "3-201" not in repr(view)
    assert "138" not in repr(view)


@pytest.mark.parametrize("status", ["picked_up", "at_door"])
def test_a_rider_sees_the_customer_while_carrying(status: str) -> None:
    view = _row(status)
    assert view["customer"] == {
        "address": {"text": "3-201 Lane 5", "lat": 32.0, "lon": 118.0},
        "contact_phone": "138",
        "note": "ring twice",
        "maps_url": "geo:32.0,118.0?q=32.0,118.0(3-201%20Lane%205)",
    }
    assert "handover_code" not in view  # the shop's code is for the pickup only


def test_the_rider_never_sees_the_handover_code_the_counter_tells_them() -> None:
    for status in ("assigned", "at_shop", "picked_up"):
        assert "handover_code" not in _row(status)


def test_only_the_orderer_follows_an_order() -> None:
    d = _delivery("picked_up")
    assert VISIBILITY.is_orderer(Role.HELPER, "helper-1", d)
    assert VISIBILITY.is_orderer(Role.SHOPPER, "grandma", d)
    assert not VISIBILITY.is_orderer(Role.SHOPPER, "neighbour", d)
    assert not VISIBILITY.is_orderer(Role.RIDER, "grandma", d)
