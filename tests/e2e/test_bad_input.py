"""Wrong input and wrong people: refused with a status and a message that says what was wrong.

Never a 500: a shopper's app must be able to show the message, and an attacker learns nothing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from shared.auth import issue_token
from shared.vocabulary.roles import Role
from tests.e2e.conftest import available, order_body, place, place_ok, shopper, wait_status
from tests.waiting import eventually

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}


async def test_ordering_needs_a_valid_token(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    body = order_body(shop.store_id, {shop.products["water"]: 1})
    settings = system.settings
    now = int(time.time())
    attacker_key = "an-attacker-key-of-a-sensible-length-0123456789"
    forged = jwt.encode({"sub": "mallory", "role": "admin", "exp": now + 600}, attacker_key, algorithm="HS256")
    latecomer = f"resident-{uuid.uuid4().hex[:8]}"
    expired = issue_token(settings, Role.SHOPPER, latecomer, ttl_s=-60)
    no_role = jwt.encode({"sub": "x", "exp": now + 600}, settings.jwt_dev_key, algorithm="HS256")
    odd_role = jwt.encode({"sub": "x", "role": "mayor", "exp": now + 600}, settings.jwt_dev_key, algorithm="HS256")
    unscoped_staff = jwt.encode(
        {"sub": "x", "role": "store_staff", "exp": now + 600}, settings.jwt_dev_key, algorithm="HS256"
    )
    async with httpx.AsyncClient(base_url=system.url("orders"), timeout=30.0) as anonymous:
        missing = await anonymous.post("/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
        assert missing.status_code == 401, missing.text
        assert "sign in" in missing.json()["detail"]
        assert missing.headers["www-authenticate"] == "Bearer"
        assert (await anonymous.get("/orders")).status_code == 401

        for token, says in [
            ("garbage", "not valid"),
            (forged, "not valid"),
            (expired, "expired"),
            (no_role, "role"),
            (odd_role, "mayor"),
            (unscoped_staff, "store"),
        ]:
            response = await anonymous.post("/orders", json=body, headers=bearer(token))
            assert response.status_code == 401, (token, response.text)
            assert says in response.json()["detail"], response.text

        basic = await anonymous.get("/orders", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status_code == 401, basic.text
        assert "Bearer" in basic.json()["detail"]
    async with shopper(system, latecomer) as late:  # the expired token's owner, signed in again
        assert (await late.get("/orders")).json() == []  # the refused attempt left no order behind


@pytest.mark.parametrize("role", [Role.RIDER, Role.STORE_STAFF, Role.DISPATCHER])
async def test_only_shoppers_and_helpers_place_orders(system, make_shop, role: Role) -> None:
    shop = await make_shop({"water": 5})
    async with system.client("orders", role, f"{role.value}-1", store=shop.store_id) as client:
        response = await place(client, shop.store_id, {shop.products["water"]: 1})
    assert response.status_code == 403, response.text
    assert role.value in response.json()["detail"]
    assert "shopper" in response.json()["detail"]


async def test_a_basket_that_cannot_be_priced_says_what_is_wrong(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    other = await make_shop({"tea": 5})
    water, tea = shop.products["water"], other.products["tea"]
    ghost_store, ghost_product = f"shop-{uuid.uuid4().hex[:8]}", f"no-such-{uuid.uuid4().hex[:6]}"
    async with shopper(system) as client:
        unknown_store = await place(client, ghost_store, {water: 1})
        assert unknown_store.status_code == 422, unknown_store.text
        assert ghost_store in unknown_store.json()["detail"]

        unknown_product = await place(client, shop.store_id, {water: 1, ghost_product: 1})
        assert unknown_product.status_code == 422, unknown_product.text
        assert ghost_product in unknown_product.json()["detail"]
        assert water not in unknown_product.json()["detail"]

        elsewhere = await place(client, shop.store_id, {tea: 1})
        assert elsewhere.status_code == 422, elsewhere.text
        assert tea in elsewhere.json()["detail"]
        assert other.store_id in elsewhere.json()["detail"]

        twice = await client.post(
            "/orders",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "store_id": shop.store_id,
                "lines": [{"product_id": water, "quantity": 1}] * 2,
                "fulfilment": {"mode": "pickup"},
            },
        )
        assert twice.status_code == 422, twice.text
        assert "twice" in twice.json()["detail"]

        # Everything wrong is reported at once, so the shopper fixes the basket in one go.
        several = await place(client, shop.store_id, {ghost_product: 1, tea: 2})
        assert several.status_code == 422, several.text
        assert ghost_product in several.json()["detail"]
        assert tea in several.json()["detail"]

        assert (await client.get("/orders")).json() == []


async def test_a_product_no_longer_sold_cannot_be_ordered(system, admin, make_shop) -> None:
    shop = await make_shop({"water": 5, "tea": 5})
    water, tea = shop.products["water"], shop.products["tea"]
    (
        await admin.put(
            f"/admin/products/{tea}",
            json={
                "location_id": shop.store_id,
                "name_zh": "tea",
                "name_en": "tea",
                "category": "test",
                "unit": "piece",
                "price_fen": 500,
                "active": False,
            },
        )
    ).raise_for_status()
    async with shopper(system) as client:

        async def withdrawn() -> bool:
            return (await client.get(f"/catalog/products/{tea}")).json()["active"] is False

        await eventually(withdrawn)

        response = await place(client, shop.store_id, {water: 1, tea: 1})
        assert response.status_code == 422, response.text
        assert tea in response.json()["detail"]
        assert "no longer sold" in response.json()["detail"]
    assert tea not in await available(system, shop.store_id)  # not on sale in the shop's list either


async def test_a_refused_basket_can_be_fixed_and_resent_with_the_same_key(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    key = str(uuid.uuid4())
    async with shopper(system) as client:
        wrong = await place(client, shop.store_id, {f"{shop.store_id}-nope": 1}, key=key)
        assert wrong.status_code == 422, wrong.text
        fixed = await place(client, shop.store_id, {shop.products["water"]: 1}, key=key)
        assert fixed.status_code == 201, fixed.text


def _lines(**line: Any) -> dict[str, Any]:
    return {"lines": [line]}


MALFORMED: list[tuple[str, Any, str]] = [
    ("zero quantity", _lines(quantity=0), "quantity"),
    ("negative quantity", _lines(quantity=-3), "quantity"),
    ("fractional quantity", _lines(quantity=1.5), "quantity"),
    ("absurd quantity", _lines(quantity=10**12), "quantity"),
    ("quantity as words", _lines(quantity="two"), "quantity"),
    ("no lines", {"lines": []}, "lines"),
    ("no store", {"store_id": None}, "store_id"),
    ("empty store", {"store_id": ""}, "store_id"),
    ("no fulfilment", {"fulfilment": None}, "fulfilment"),
    ("unknown fulfilment", {"fulfilment": {"mode": "teleport"}}, "fulfilment"),
    ("delivery without address", {"fulfilment": {"mode": "delivery"}}, "address"),
    (
        "address off the globe",
        {"fulfilment": {"mode": "delivery", "address": {"text": "x", "lat": 123, "lon": 0}}},
        "lat",
    ),
    ("unexpected field", {"discount": 100}, "discount"),
    ("bad phone", {"contact_phone": "call me"}, "contact_phone"),
    ("note too long", {"note": "x" * 501}, "note"),
]


@pytest.mark.parametrize(("what", "change", "names"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_malformed_order_is_refused_naming_the_field(
    system, what: str, change: dict[str, Any], names: str
) -> None:
    body: dict[str, Any] = {
        "store_id": "shop-x",
        "lines": [{"product_id": "p", "quantity": 1}],
        "fulfilment": {"mode": "pickup"},
    }
    for field, value in change.items():
        if field == "lines":
            body["lines"] = [{**body["lines"][0], **ln} for ln in value] if value else []
        elif value is None:
            del body[field]
        else:
            body[field] = value
    async with shopper(system) as client:
        response = await client.post("/orders", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 422, response.text
    assert names in response.json()["detail"], response.text


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"", b"[]", b'"an order"', b"null", b"{}"],
    ids=["broken", "empty", "list", "string", "null", "empty object"],
)
async def test_a_body_that_is_not_an_order_is_refused(system, raw: bytes) -> None:
    async with shopper(system) as client:
        response = await client.post(
            "/orders", content=raw, headers={"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
        )
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


async def test_idempotency_key_must_be_sensible(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    async with shopper(system) as client:
        for key in ["", "k" * 201]:
            response = await client.post(
                "/orders", headers={"Idempotency-Key": key}, json=order_body(shop.store_id, {shop.products["water"]: 1})
            )
            assert response.status_code == 400, response.text
            assert "Idempotency-Key" in response.json()["detail"]


async def test_other_peoples_orders_are_not_found(system, make_shop) -> None:
    shop = await make_shop({"water": 5})
    async with (
        shopper(system) as owner,
        shopper(system) as stranger,
        system.client("orders", Role.RIDER, "rider-1") as rider,
    ):
        order_id = await place_ok(owner, shop.store_id, {shop.products["water"]: 1})
        for client in (stranger, rider):
            seen = await client.get(f"/orders/{order_id}")
            assert seen.status_code == 404, seen.text
            assert order_id in seen.json()["detail"]
        cancelled = await stranger.post(f"/orders/{order_id}/cancel")
        assert cancelled.status_code == 404, cancelled.text
        assert (await stranger.get("/orders")).json() == []
        listed = await rider.get("/orders")
        assert listed.status_code == 403, listed.text
        nothing = await owner.get(f"/orders/{uuid.uuid4()}")
        assert nothing.status_code == 404, nothing.text
        # The stranger's attempt changed nothing.
        assert (await wait_status(owner, order_id, "CONFIRMED"))["status"] == "CONFIRMED"


async def test_shop_staff_decide_only_their_own_shops_orders(system, make_shop) -> None:
    shop_a = await make_shop({"water": 5})
    shop_b = await make_shop({"water": 5})
    async with (
        shopper(system) as client,
        system.client("inventory", Role.STORE_STAFF, "keeper-a", store=shop_a.store_id) as staff_a,
        system.client("inventory", Role.STORE_STAFF, "keeper-b", store=shop_b.store_id) as staff_b,
        system.client("inventory", Role.SHOPPER, "sneaky") as sneaky,
    ):
        order_id = await place_ok(client, shop_b.store_id, {shop_b.products["water"]: 1})
        await wait_status(client, order_id, "CONFIRMED")

        foreign = await staff_a.post(f"/stores/{shop_b.store_id}/orders/{order_id}/accept")
        assert foreign.status_code == 403, foreign.text
        assert shop_a.store_id in foreign.json()["detail"]
        assert shop_b.store_id in foreign.json()["detail"]
        rejected = await staff_a.post(f"/stores/{shop_b.store_id}/orders/{order_id}/reject")
        assert rejected.status_code == 403, rejected.text
        # Nor by naming their own shop in the path.
        disguised = await staff_a.post(f"/stores/{shop_a.store_id}/orders/{order_id}/accept")
        assert disguised.status_code == 404, disguised.text
        assert order_id in disguised.json()["detail"]

        shopper_accepts = await sneaky.post(f"/stores/{shop_b.store_id}/orders/{order_id}/accept")
        assert shopper_accepts.status_code == 403, shopper_accepts.text
        assert "store_staff" in shopper_accepts.json()["detail"]

        ghost = await staff_b.post(f"/stores/{shop_b.store_id}/orders/{uuid.uuid4()}/accept")
        assert ghost.status_code == 404, ghost.text

        order = (await client.get(f"/orders/{order_id}")).json()
        assert order["status"] == "CONFIRMED"  # none of that moved it


@pytest.mark.parametrize("role", [Role.SHOPPER, Role.STORE_STAFF, Role.DISPATCHER, Role.RIDER])
async def test_only_admins_keep_the_catalog(system, make_shop, role: Role) -> None:
    shop = await make_shop({"water": 5})
    water = shop.products["water"]
    async with system.client("inventory", role, f"{role.value}-1", store=shop.store_id) as client:
        product = await client.put(
            f"/admin/products/{water}",
            json={
                "location_id": shop.store_id,
                "name_zh": "水",
                "name_en": "free water",
                "category": "test",
                "unit": "piece",
                "price_fen": 0,
                "on_hand": 100000,
            },
        )
        assert product.status_code == 403, product.text
        assert "admin" in product.json()["detail"]
        location = await client.put(
            f"/admin/locations/{shop.store_id}",
            json={"kind": "shop", "category": "convenience", "name_zh": "x", "name_en": "x", "lat": 0, "lon": 0},
        )
        assert location.status_code == 403, location.text
    products = {p["id"]: p for p in (await system_products(system, shop.store_id))}
    assert (products[water]["price"], products[water]["available"]) == (500, 5)


async def system_products(system, store_id: str) -> list[dict[str, Any]]:
    async with system.client("inventory", Role.SHOPPER, "reader") as reader:
        return (await reader.get(f"/stores/{store_id}/products")).json()


async def test_admin_catalog_mistakes_are_explained(system, admin, make_shop) -> None:
    shop = await make_shop({"water": 5})
    ghost = f"shop-{uuid.uuid4().hex[:8]}"
    base = {"name_zh": "鱼", "name_en": "fish", "category": "test", "price_fen": 100}
    cases = [
        (f"/admin/products/{ghost}-fish", {**base, "location_id": ghost, "unit": "piece"}, ghost),
        (
            f"/admin/products/{shop.store_id}-fish",
            {**base, "location_id": shop.store_id, "unit": "g"},
            "grams_per_piece",
        ),
        ("/admin/products/bad%20id", {**base, "location_id": shop.store_id, "unit": "piece"}, "bad id"),
        (f"/admin/products/{shop.store_id}-fish", {**base, "location_id": shop.store_id, "unit": "kg"}, "unit"),
        (
            f"/admin/locations/{ghost}-stall",
            {
                "kind": "stall",
                "parent_id": shop.store_id,
                "category": "stall",
                "name_zh": "x",
                "name_en": "x",
                "lat": 0,
                "lon": 0,
            },
            shop.store_id,
        ),
        (
            f"/admin/locations/{shop.store_id}",
            {"kind": "market", "category": "wet_market", "name_zh": "x", "name_en": "x", "lat": 0, "lon": 0},
            "kind",
        ),
    ]
    for path, body, says in cases:
        response = await admin.put(path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert says in response.json()["detail"], response.text
    # Counting the shelf below what is promised to orders is refused too.
    async with shopper(system) as client:
        order_id = await place_ok(client, shop.store_id, {shop.products["water"]: 4})
        await wait_status(client, order_id, "CONFIRMED")
    recount = await admin.put(
        f"/admin/products/{shop.products['water']}",
        json={**base, "location_id": shop.store_id, "unit": "piece", "on_hand": 1},
    )
    assert recount.status_code == 422, recount.text
    assert "reserved" in recount.json()["detail"]


async def test_unknown_store_in_inventory_is_not_found(system) -> None:
    ghost = f"shop-{uuid.uuid4().hex[:8]}"
    async with system.client("inventory", Role.SHOPPER, "browser") as client:
        response = await client.get(f"/stores/{ghost}/products")
    assert response.status_code == 404, response.text
    assert ghost in response.json()["detail"]


NUL_INPUTS = [
    ("orders", Role.SHOPPER, "POST", "/orders", {"note": "a\u0000b"}),
    ("orders", Role.SHOPPER, "POST", "/orders", {"product_id": "a\u0000b"}),
    ("orders", Role.SHOPPER, "GET", "/orders/a%00b", None),
    ("inventory", Role.SHOPPER, "GET", "/stores/a%00b/products", None),
    ("inventory", Role.ADMIN, "PUT", "/admin/products/{water}", {"name_zh": "a\u0000b"}),
    ("dispatch", Role.DISPATCHER, "GET", "/orders/a%00b/events", None),
]


@pytest.mark.parametrize(
    ("service", "role", "method", "path", "change"),
    NUL_INPUTS,
    ids=[f"{s}-{m}-{p}-{'body' if c else 'path'}" for s, _, m, p, c in NUL_INPUTS],
)
async def test_a_nul_character_is_refused_not_a_server_error(
    system, make_shop, service: str, role: Role, method: str, path: str, change: dict[str, Any] | None
) -> None:
    shop = await make_shop({"water": 5})
    water = shop.products["water"]
    body: dict[str, Any] | None = None
    if path == "/orders":
        body = order_body(
            shop.store_id,
            {change.get("product_id", water): 1},
            **{k: v for k, v in change.items() if k != "product_id"},
        )
    elif change is not None:
        body = {
            "location_id": shop.store_id,
            "name_zh": "水",
            "name_en": "water",
            "category": "test",
            "unit": "piece",
            "price_fen": 500,
            **change,
        }
    async with system.client(service, role, "nul-sender") as client:
        response = await client.request(
            method, path.format(water=water), json=body, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
    assert response.status_code in {422, 404}, response.text
    if response.status_code == 422:
        assert "NUL" in response.json()["detail"]
