"""The three services as real processes on free ports, talking over HTTP and Kafka.

Durations are shortened through settings; each test makes its own shops and products with
unique ids (through the admin API, as an operator would), so tests do not disturb each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import issue_token
from shared.settings import Settings
from shared.stack import Infrastructure, Process, free_port, start_services, wait_healthy
from shared.vocabulary.order_status import TERMINAL
from shared.vocabulary.roles import Role
from tests.waiting import eventually

E2E_ENV = {
    "LINLI_DEMO_SEED": "false",
    "LINLI_ALLOW_DEV_SIGN_IN": "true",
    "LINLI_ACCEPT_LIMIT_S": "60",
    "LINLI_RELAY_POLL_INTERVAL_S": "0.5",
    "LINLI_DEADLINE_POLL_INTERVAL_S": "0.2",
    "LINLI_CONSUMER_RETRY_WINDOW_S": "5",
    "LINLI_DB_POOL_MAX": "30",
    # Dispatch in seconds instead of minutes.
    "LINLI_ROUND_INTERVAL_S": "0.5",
    "LINLI_OFFER_LIMIT_S": "3",
    "LINLI_RIDER_SILENT_S": "4",
    "LINLI_RIDER_BEHIND_S": "600",
    "LINLI_NO_RIDER_LIMIT_S": "8",
    "LINLI_PICKUP_OFFER_ANSWER_S": "3",
    "LINLI_DOOR_WAIT_S": "1",
}


# What a shopper's app starts with: enough for any test's basket (¥10,000).
SHOPPER_FLOAT_FEN = 1_000_000


@dataclass
class System:
    ports: dict[str, int]
    processes: dict[str, Process]
    settings: Settings = field(default_factory=Settings)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def token(self, role: Role, subject: str, store: str | None = None) -> str:
        return issue_token(self.settings, role, subject, store)

    def client(
        self,
        service: str,
        role: Role | None = None,
        subject: str = "someone",
        store: str | None = None,
        *,
        balance_fen: int = SHOPPER_FLOAT_FEN,
    ) -> httpx.AsyncClient:
        """A client of one service; a shopper's on orders has `balance_fen` topped up when it opens
        (orders are prepaid by default), as if they had been to the service centre's cash desk."""
        headers = {}
        if role is not None:
            headers["Authorization"] = f"Bearer {self.token(role, subject, store)}"
        if service == "orders" and role is Role.SHOPPER:
            return ShopperApp(self, subject, balance_fen, base_url=self.url(service), headers=headers, timeout=30.0)
        return httpx.AsyncClient(base_url=self.url(service), headers=headers, timeout=30.0)


class ShopperApp(httpx.AsyncClient):
    """A shopper's app on orders whose balance is topped up (through the admin API) when it opens."""

    def __init__(self, system: System, subject: str, balance_fen: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.system, self.subject, self.balance_fen = system, subject, balance_fen

    async def __aenter__(self) -> ShopperApp:
        await super().__aenter__()
        if self.balance_fen:
            await top_up(self.system, self.subject, self.balance_fen)
        return self


async def top_up(
    system: System, holder: str, amount_fen: int, *, by: Role = Role.ADMIN, by_subject: str = "cash-desk"
) -> dict[str, Any]:
    """Money in at the service centre's cash desk (or, `by` a helper, for their resident)."""
    async with system.client("orders", by, by_subject) as desk:
        response = await desk.post(
            "/balance/top-ups",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={"holder": holder, "amount_fen": amount_fen, "note": "e2e float"},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())


@pytest.fixture(scope="session")
def system(infra: Infrastructure, stack_home: Path) -> Iterator[System]:
    ports = {name: free_port() for name in ("orders", "inventory", "dispatch")}
    processes = start_services(infra, stack_home / "e2e", ports, E2E_ENV)
    try:
        wait_healthy(processes, ports, timeout=120)
        yield System(ports, processes)
    finally:
        stop_together(processes.values())


def stop_together(processes: Iterable[Process]) -> None:
    """Tell every service to stop at once, then wait for each: their graceful shutdowns (leaving
    their consumer groups, closing their relays) overlap instead of adding up, one after another."""
    stopping = list(processes)
    for process in stopping:
        if process.alive() and process.popen is not None:
            process.popen.terminate()
    for process in stopping:
        process.stop()


@dataclass
class Neighbourhood:
    """A shop (or market with stalls) made for one test, with products and stock."""

    system: System
    store_id: str
    products: dict[str, str]  # short name -> product id
    stalls: dict[str, str] = field(default_factory=dict)


@pytest.fixture
async def admin(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with system.client("inventory", Role.ADMIN, "admin-1") as client:
        yield client


@pytest.fixture
def make_shop(system: System, admin: httpx.AsyncClient) -> Callable[..., Awaitable[Neighbourhood]]:
    """A shop selling `stock` (name -> pieces on hand) at `price_fen` a piece.

    `products` adds products with their own fields (name -> fields of PUT /admin/products, for
    example a weighed product: {"unit": "g", "grams_per_piece": 600, "price_fen": 1800, "on_hand": 5000}).
    """

    async def make(
        stock: dict[str, int] | None = None,
        *,
        accept_limit_s: int | None = None,
        price_fen: int = 500,
        products: dict[str, dict[str, Any]] | None = None,
    ) -> Neighbourhood:
        store_id = f"shop-{uuid.uuid4().hex[:8]}"
        await put_location(admin, store_id, "shop", accept_limit_s=accept_limit_s)
        counted = stock if stock is not None else ({} if products else {"water": 10})
        specs: dict[str, dict[str, Any]] = {
            name: {"on_hand": on_hand, "price_fen": price_fen} for name, on_hand in counted.items()
        }
        specs.update(products or {})
        made = {}
        for name, spec in specs.items():
            made[name] = await put_product(admin, store_id, name, spec)
        await wait_for_catalog(system, list(made.values()), store_id)
        return Neighbourhood(system, store_id, made)

    return make


@pytest.fixture
def make_market(system: System, admin: httpx.AsyncClient) -> Callable[..., Awaitable[Neighbourhood]]:
    """A wet market whose stalls (stall name -> product name -> fields of PUT /admin/products)
    sell the products; orders name the market, each line is fulfilled by its stall."""

    async def make(stalls: dict[str, dict[str, dict[str, Any]]], *, accept_limit_s: int | None = None) -> Neighbourhood:
        market_id = f"market-{uuid.uuid4().hex[:8]}"
        await put_location(admin, market_id, "market", accept_limit_s=accept_limit_s)
        stall_ids, made = {}, {}
        for stall, products in stalls.items():
            stall_id = f"{market_id}-{stall}"
            await put_location(admin, stall_id, "stall", parent_id=market_id)
            stall_ids[stall] = stall_id
            for name, spec in products.items():
                made[name] = await put_product(admin, stall_id, name, spec)
        await wait_for_catalog(system, list(made.values()), market_id)
        return Neighbourhood(system, market_id, made, stall_ids)

    return make


async def put_location(
    admin: httpx.AsyncClient,
    location_id: str,
    kind: str,
    *,
    parent_id: str | None = None,
    accept_limit_s: int | None = None,
) -> None:
    category = {"shop": "convenience", "market": "wet_market", "stall": "stall"}[kind]
    body: dict[str, Any] = {
        "kind": kind,
        "category": category,
        "name_zh": "测试" + kind,
        "name_en": f"Test {kind}",
        "lat": 32.04,
        "lon": 118.79,
    }
    if parent_id:
        body["parent_id"] = parent_id
    if accept_limit_s:
        body["accept_limit_s"] = accept_limit_s
    (await admin.put(f"/admin/locations/{location_id}", json=body)).raise_for_status()


async def put_product(admin: httpx.AsyncClient, location_id: str, name: str, spec: dict[str, Any]) -> str:
    pid = f"{location_id}-{name}"
    body = {
        "location_id": location_id,
        "name_zh": name,
        "name_en": name,
        "category": "test",
        "unit": "piece",
        "price_fen": 500,
        **spec,
    }
    (await admin.put(f"/admin/products/{pid}", json=body)).raise_for_status()
    return pid


async def wait_for_catalog(system: System, product_ids: list[str], store_id: str | None = None) -> None:
    """Orders validates against its read model, fed by catalog events: wait until it has them.

    Locations and products are keyed by their own ids, so they travel on different partitions;
    knowing the products does not mean orders knows the store yet. A basket naming a product
    that does not exist tells which: it is refused for the product once the store is known.
    """
    async with system.client("orders", Role.SHOPPER, "catalog-probe", balance_fen=0) as orders:
        for pid in product_ids:

            async def known(pid: str = pid) -> bool:
                return (await orders.get(f"/catalog/products/{pid}")).status_code == 200

            await eventually(known)
        if store_id is not None:

            async def store_known() -> bool:
                probe = await orders.post(
                    "/orders",
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                    json={
                        "store_id": store_id,
                        "lines": [{"product_id": "no-such-product", "quantity": 1}],
                        "fulfilment": {"mode": "pickup"},
                    },
                )
                assert probe.status_code == 422, probe.text
                return "Linli knows" not in probe.json()["detail"]

            await eventually(store_known)


# Helpers for the tests: what a shopper's app and a shop's tablet do.


def shopper(system: System, subject: str | None = None, *, balance_fen: int = SHOPPER_FLOAT_FEN) -> httpx.AsyncClient:
    """A shopper's app with `balance_fen` on their balance (0: nothing, to see a prepaid order refused)."""
    return system.client("orders", Role.SHOPPER, subject or f"resident-{uuid.uuid4().hex[:8]}", balance_fen=balance_fen)


def order_body(store_id: str, lines: dict[str, int], **extra: Any) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "lines": [{"product_id": pid, "quantity": q} for pid, q in lines.items()],
        "fulfilment": {"mode": "pickup"},
        **extra,
    }


async def place(
    client: httpx.AsyncClient, store_id: str, lines: dict[str, int], *, key: str | None = None
) -> httpx.Response:
    """POST /orders with a fresh Idempotency-Key (or the given one); `lines` is product id -> pieces."""
    return await client.post(
        "/orders", headers={"Idempotency-Key": key or str(uuid.uuid4())}, json=order_body(store_id, lines)
    )


async def place_ok(client: httpx.AsyncClient, store_id: str, lines: dict[str, int]) -> str:
    placed = await place(client, store_id, lines)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "PLACED"
    return str(placed.json()["id"])


async def wait_status(client: httpx.AsyncClient, order_id: str, status: str, within: float = 20.0) -> dict:
    """Poll the order until it has `status`; fail at once if it ends somewhere else."""

    async def reached() -> dict | None:
        response = await client.get(f"/orders/{order_id}")
        assert response.status_code == 200, response.text
        order = response.json()
        if order["status"] == status:
            return order
        assert order["status"] not in TERMINAL, f"expected {status}, order ended {order}"
        return None

    return await eventually(reached, within)


async def available(system: System, store_id: str) -> dict[str, int]:
    """What inventory offers for sale now: product id -> available (pieces, or grams)."""
    async with system.client("inventory", Role.SHOPPER, "stock-reader") as inventory:
        response = await inventory.get(f"/stores/{store_id}/products")
        assert response.status_code == 200, response.text
        return {p["id"]: p["available"] for p in response.json()}


async def wait_available(system: System, store_id: str, expected: dict[str, int], within: float = 20.0) -> None:
    async def matches() -> bool:
        now = await available(system, store_id)
        return all(now.get(pid) == n for pid, n in expected.items())

    try:
        await eventually(matches, within)
    except AssertionError:
        raise AssertionError(
            f"available stock never became {expected}; it is {await available(system, store_id)}"
        ) from None


# Riders with phones, and the dispatcher who puts them on the roster.


class Rider:
    """A rider with a phone: online, sending a position every second until told to go quiet."""

    def __init__(self, system: System, rider_id: str, lat: float, lon: float) -> None:
        self.id, self.lat, self.lon = rider_id, lat, lon
        self.client = system.client("dispatch", Role.RIDER, rider_id)
        self.quiet = False
        self._task: asyncio.Task[None] | None = None

    async def start(self, dispatcher: httpx.AsyncClient) -> Rider:
        r = await dispatcher.put(
            f"/riders/{self.id}", json={"name": f"Rider {self.id}", "vehicle": "e_bike", "capacity": 3}
        )
        assert r.status_code in (200, 201), r.text
        await self.ping()
        r = await self.client.post("/riders/me/state", json={"state": "available"})
        assert r.status_code == 200, r.text
        self._task = asyncio.create_task(self._keep_pinging())
        return self

    async def ping(self) -> None:
        r = await self.client.post("/riders/me/location", json={"lat": self.lat, "lon": self.lon})
        assert r.status_code in (200, 202, 204), r.text

    async def _keep_pinging(self) -> None:
        while True:
            await asyncio.sleep(1)
            if not self.quiet:
                with contextlib.suppress(httpx.HTTPError):
                    await self.ping()

    async def offers(self) -> list[dict[str, Any]]:
        r = await self.client.get("/riders/me/offers")
        assert r.status_code == 200, r.text
        return list(r.json())

    async def offer_for(self, order_id: str, within: float = 20) -> dict[str, Any]:
        async def offered() -> dict[str, Any] | None:
            return next((o for o in await self.offers() if o["order_id"] == order_id), None)

        return dict(await eventually(offered, within))

    async def step(self, order_id: str, step: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        r = await self.client.post(f"/deliveries/{order_id}/{step}", json=body or {})
        assert r.status_code == status, f"{step}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(httpx.HTTPError):
            await self.client.post("/riders/me/state", json={"state": "offline"})
        await self.client.aclose()


@pytest.fixture
async def dispatcher(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with system.client("dispatch", Role.DISPATCHER, "desk-1") as client:
        yield client


@pytest.fixture
async def riders(system: System, dispatcher: httpx.AsyncClient) -> AsyncIterator[list[Rider]]:
    started: list[Rider] = []
    yield started
    for rider in started:
        await rider.stop()


async def online(system: System, dispatcher: httpx.AsyncClient, riders: list[Rider], lat: float, lon: float) -> Rider:
    rider = await Rider(system, f"rider-{uuid.uuid4().hex[:6]}", lat, lon).start(dispatcher)
    riders.append(rider)
    return rider
