"""The staff registry against real PostgreSQL over HTTP: a shop with entries lets in only its registered
staff, a revocation counts at the next request, and shops with no entries keep taking development tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.inventory.entrypoints.catalog_http import router as catalog_router
from services.inventory.entrypoints.staff_registry_http import router
from shared.auth import issue_token
from shared.service import Runtime, install_error_handlers
from shared.vocabulary.roles import Role
from tests.integration.inventory.support import SETTINGS, as_

ADMIN = as_(Role.ADMIN)


def staff(subject: str, store: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, Role.STORE_STAFF, subject, store)}"}


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    application = FastAPI()
    application.state.settings = SETTINGS
    application.state.runtime = runtime
    install_error_handlers(application)
    application.include_router(router)
    application.include_router(catalog_router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://inventory") as c:
        yield c


async def test_once_a_shop_has_entries_only_its_registered_staff_act_for_it(
    inv: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    wang, li = staff("wang", "shop"), staff("li", "shop")
    assert (await api.get("/locations/shop", headers=li)).status_code == 200  # no entries yet: any shop token

    registered = await api.put("/admin/staff/shop/wang", headers=ADMIN)
    assert registered.status_code == 200, registered.text
    assert registered.json()["created"] is True
    assert registered.json()["granted_by"] == "admin:someone"
    assert (await api.put("/admin/staff/shop/wang", headers=ADMIN)).json()["created"] is False

    assert (await api.get("/locations/shop", headers=wang)).status_code == 200
    refused = await api.get("/locations/shop", headers=li)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("'li' is not on the staff registry of shop")
    product = await api.patch("/products/water", headers=li, json={"price_fen": 1})
    assert product.status_code == 403, product.text
    assert await inv.fetchval("SELECT price_fen FROM products WHERE id = 'water'") == 200
    # The market has no entries: its development tokens keep working, and another shop's staff still cannot.
    assert (await api.get("/locations/market", headers=staff("li", "market"))).status_code == 200
    assert (await api.get("/locations/market", headers=wang)).status_code == 403

    revoked = await api.delete("/admin/staff/shop/wang", headers=ADMIN)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["live"] is False
    await api.put("/admin/staff/shop/zhao", headers=ADMIN)
    assert (await api.get("/locations/shop", headers=wang)).status_code == 403  # at the next request
    assert (await api.get("/locations/shop", headers=staff("zhao", "shop"))).status_code == 200

    published = await inv.fetch(
        "SELECT envelope FROM outbox WHERE event_type = 'StaffRegistryChanged' ORDER BY id"
    )  # registering wang twice published once; each change carries the whole live list
    assert [(e["envelope"]["key"], e["envelope"]["payload"]["subjects"]) for e in published] == [
        ("staff:shop", ["wang"]),
        ("staff:shop", []),
        ("staff:shop", ["zhao"]),
    ]

    listed = await api.get("/admin/staff", headers=ADMIN, params={"location_id": "shop", "revoked": "true"})
    assert [(e["subject"], e["live"]) for e in listed.json()] == [("wang", False), ("zhao", True)]
    assert [e["subject"] for e in (await api.get("/admin/staff", headers=ADMIN)).json()] == ["zhao"]


async def test_only_admins_keep_the_registry_and_only_for_places_that_exist(
    inv: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    for who in (staff("wang", "shop"), as_(Role.SHOPPER)):
        assert (await api.put("/admin/staff/shop/wang", headers=who)).status_code == 403
        assert (await api.get("/admin/staff", headers=who)).status_code == 403
    assert (await api.put("/admin/staff/nowhere/wang", headers=ADMIN)).status_code == 404
    assert (await api.delete("/admin/staff/shop/nobody", headers=ADMIN)).status_code == 404
    assert await inv.fetchval("SELECT count(*) FROM staff_registry") == 0
