"""The record of changes against real PostgreSQL over HTTP: each admin change is kept with who made it,
when, and what it was before and after; a refused change leaves no record; the list filters and pages,
and only admins read it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.inventory.entrypoints.admin_http import router as admin_router
from services.inventory.entrypoints.catalog_http import router as catalog_router
from services.inventory.entrypoints.http import router
from services.inventory.entrypoints.price_lists_http import router as price_lists_router
from services.inventory.entrypoints.staff_registry_http import router as staff_registry_router
from shared.audit import audit_router
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.inventory.support import SETTINGS, as_

ADMIN = as_(Role.ADMIN)
STALL = {"kind": "stall", "parent_id": "market", "category": "meat", "name_zh": "猪肉", "name_en": "Pork"}
HERE = {"lat": 32.04, "lon": 118.78}


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    application = FastAPI()
    application.state.settings = SETTINGS
    application.state.runtime = runtime
    install_error_handlers(application)
    for r in (router, admin_router, catalog_router, price_lists_router, staff_registry_router, audit_router()):
        application.include_router(r)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://inventory") as c:
        yield c


async def audit(api: httpx.AsyncClient, **params: object) -> dict[str, object]:
    answer = await api.get("/admin/audit", headers=ADMIN, params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_a_location_change_is_recorded_with_who_when_and_before_and_after(
    inv: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    created = await api.put("/admin/locations/pork", headers=ADMIN, json={**STALL, **HERE, "delivery_fee_fen": 300})
    assert created.status_code == 200, created.text
    moved = await api.put("/admin/locations/pork", headers=ADMIN, json={**STALL, "lat": 32.05, "lon": 118.79})
    assert moved.status_code == 200, moved.text

    listed = await audit(api, entity="location", entity_id="pork")
    changes = listed["changes"]
    assert isinstance(changes, list)
    assert [c["action"] for c in changes] == ["updated", "created"]  # newest first
    update, create = changes
    assert update["actor"] == "admin:someone"
    assert update["role"] == "admin"
    assert update["service"] == "inventory"
    assert create["before"] is None
    assert create["after"]["name_zh"] == "猪肉"
    assert create["after"]["delivery_fee_fen"] == 300
    assert (update["before"]["lat"], update["after"]["lat"]) == (32.04, 32.05)
    assert update["after"]["delivery_fee_fen"] == 300  # left out: kept, and the record says so
    # The record is in the same database the change is, one row per change.
    assert await inv.fetchval("SELECT count(*) FROM audit_log WHERE entity_id = 'pork'") == 2


async def test_a_refused_change_leaves_no_record(inv: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    orphan = {**STALL, **HERE, "parent_id": "nowhere"}
    refused = await api.put("/admin/locations/pork", headers=ADMIN, json=orphan)
    assert refused.status_code in (404, 409, 422), refused.text
    unknown = await api.put(
        "/admin/products/ham",
        headers=ADMIN,
        json={"location_id": "nowhere", "name_zh": "火腿", "name_en": "Ham", "category": "meat", "unit": "piece",
              "price_fen": 900},
    )  # fmt: skip
    assert unknown.status_code == 422, unknown.text
    assert await inv.fetchval("SELECT count(*) FROM audit_log") == 0
    assert (await audit(api))["changes"] == []


async def test_price_lists_and_staff_are_recorded_and_the_same_list_again_records_nothing(
    api: httpx.AsyncClient,
) -> None:
    listing = "product_id,name_zh,name_en,unit,price_fen,grams_per_piece,stall,counted\n"
    listing += "carp,carp,carp,g,1900,600,fish,5000\neel,鳝鱼,Eel,g,3200,250,fish,1500\n"
    csv = {**ADMIN, "Content-Type": "text/csv"}
    assert (await api.post("/locations/market/price-list", headers=csv, content=listing)).status_code == 200
    assert (await api.post("/locations/market/price-list", headers=csv, content=listing)).status_code == 200
    applied = (await audit(api, entity="price_list"))["changes"]
    assert isinstance(applied, list)
    assert len(applied) == 1
    after = applied[0]["after"]
    assert (applied[0]["entity_id"], after["new"], after["changed"]) == ("market", 1, 1)
    carp = next(r for r in after["rows"] if r["product_id"] == "carp")
    assert (carp["price_fen_before"], carp["price_fen"]) == (1800, 1900)

    assert (await api.put("/admin/staff/fish/wang", headers=ADMIN)).status_code == 200
    assert (await api.put("/admin/staff/fish/wang", headers=ADMIN)).status_code == 200  # once is once
    assert (await api.delete("/admin/staff/fish/wang", headers=ADMIN)).status_code == 200
    staff = (await audit(api, entity="staff", entity_id="fish/wang"))["changes"]
    assert isinstance(staff, list)
    assert [(c["action"], c["after"]["live"]) for c in staff] == [("revoked", False), ("registered", True)]


async def test_the_record_pages_backwards_filters_by_actor_and_is_for_admins_only(api: httpx.AsyncClient) -> None:
    for n in range(5):
        await api.put(f"/admin/locations/stall-{n}", headers=ADMIN, json={**STALL, **HERE})
    first = await audit(api, limit=2)
    second = await audit(api, limit=2, before_id=first["next_before_id"])
    third = await audit(api, limit=2, before_id=second["next_before_id"])
    pages = [first, second, third]
    ids = [c["entity_id"] for p in pages for c in p["changes"]]  # type: ignore[attr-defined]
    assert ids == ["stall-4", "stall-3", "stall-2", "stall-1", "stall-0"]
    assert third["next_before_id"] is None
    assert (await audit(api, actor="admin:someone-else"))["changes"] == []
    assert len((await audit(api, actor="admin:someone", action="created"))["changes"]) == 5  # type: ignore[arg-type]

    for role in (Role.STORE_STAFF, Role.DISPATCHER, Role.SHOPPER):
        refused = await api.get("/admin/audit", headers=as_(role, "market"))
        assert refused.status_code == 403, refused.text
    assert (await api.get("/admin/audit", headers=ADMIN, params={"limit": 0})).status_code == 422


MARKET = {"category": "market", "name_zh": "新街口菜场", "name_en": "Xinjiekou market", **HERE, "delivery_fee_fen": 200}


def stall(stall_id: str, **more: object) -> dict[str, object]:
    return {"id": stall_id, "category": "veg", "name_zh": stall_id, "name_en": stall_id.title(), **HERE, **more}


async def test_a_market_is_onboarded_with_its_stalls_in_one_step_or_not_at_all(
    inv: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    body = {**MARKET, "stalls": [stall("xj-veg", accept_limit_s=300), stall("xj-fish")]}
    onboarded = await api.put("/admin/markets/xj", headers=ADMIN, json=body)
    assert onboarded.status_code == 200, onboarded.text
    assert [(loc["id"], loc["kind"], loc["parent_id"]) for loc in onboarded.json()] == [
        ("xj", "market", None),
        ("xj-veg", "stall", "xj"),
        ("xj-fish", "stall", "xj"),
    ]
    every = {loc["id"]: loc for loc in (await api.get("/admin/locations", headers=ADMIN)).json()}
    assert every["xj-veg"]["accept_limit_s"] == 300
    assert every["xj"]["delivery_fee_fen"] == 200
    recorded = (await audit(api, entity="location"))["changes"]
    assert isinstance(recorded, list)
    assert sorted(c["entity_id"] for c in recorded) == ["xj", "xj-fish", "xj-veg"]

    # A stall of another market, or one listed twice, refuses the whole onboarding: nothing is written.
    taken = {**MARKET, "stalls": [stall("xj-tofu"), stall("fish")]}  # `fish` is the seeded market's stall
    refused = await api.put("/admin/markets/xj", headers=ADMIN, json=taken)
    assert refused.status_code == 409, refused.text
    assert "belongs to 'market'" in refused.json()["detail"]
    twice = await api.put("/admin/markets/xj", headers=ADMIN, json={**MARKET, "stalls": [stall("a"), stall("a")]})
    assert twice.status_code == 422, twice.text
    assert "listed twice: a" in twice.text
    assert await inv.fetchval("SELECT count(*) FROM locations WHERE id IN ('xj-tofu', 'a')") == 0
    assert await inv.fetchval("SELECT count(*) FROM audit_log") == 3
    assert (await api.get("/admin/locations", headers=as_(Role.STORE_STAFF, "xj"))).status_code == 403


async def test_staff_changes_at_the_counter_are_recorded_under_their_own_name(api: httpx.AsyncClient) -> None:
    fish = as_(Role.STORE_STAFF, "fish")
    paused = await api.patch("/locations/fish", headers=fish, json={"paused": True})
    assert paused.status_code == 200, paused.text
    priced = await api.patch("/products/carp", headers=fish, json={"price_fen": 2000})
    assert priced.status_code == 200, priced.text
    product, location = (await audit(api, actor="store_staff:someone"))["changes"]  # type: ignore[misc]
    assert (location["entity_id"], location["before"]["paused"], location["after"]["paused"]) == ("fish", False, True)
    assert (product["entity_id"], product["before"]["price_fen"], product["after"]["price_fen"]) == ("carp", 1800, 2000)
    assert product["role"] == "store_staff"
