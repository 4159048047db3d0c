"""Dispatch's record of changes over HTTP on real PostgreSQL: a rider's profile, their shifts and a locker
site are each recorded with who changed them and what they were before; a refused change leaves no record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services.dispatch.entrypoints.app import SPEC
from shared.auth import issue_token
from shared.service import build_app
from shared.vocabulary.roles import Role
from tests.integration.dispatch.conftest import SETTINGS, Dispatch
from tests.runtime import runtime_for


def as_(role: Role, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SETTINGS, role, subject)}"}


ADMIN = as_(Role.ADMIN, "ops-1")
DESK = as_(Role.DISPATCHER, "desk-1")


@pytest.fixture
async def http(dispatch: Dispatch) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(SPEC, SETTINGS)
    app.state.runtime = runtime_for(SPEC, SETTINGS, dispatch.pool, dispatch.redis, dispatch.clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://dispatch") as c:
        yield c


async def changes(http: httpx.AsyncClient, **params: str) -> list[dict[str, object]]:
    answer = await http.get("/admin/audit", headers=ADMIN, params=params)
    assert answer.status_code == 200, answer.text
    assert {c["service"] for c in answer.json()["changes"]} <= {"dispatch"}
    return list(answer.json()["changes"])


async def test_riders_shifts_and_lockers_are_recorded_by_whoever_changed_them(
    dispatch: Dispatch, http: httpx.AsyncClient
) -> None:
    profile = {"name": "Lao Zhang", "vehicle": "e_bike", "capacity": 3}
    assert (await http.put("/riders/zhang", headers=ADMIN, json=profile)).status_code == 200
    moved = await http.put("/riders/zhang", headers=DESK, json={**profile, "capacity": 5})
    assert moved.status_code == 200, moved.text
    update, create = await changes(http, entity="rider", entity_id="zhang")
    assert (create["action"], create["actor"], create["before"]) == ("created", "admin:ops-1", None)
    assert (update["action"], update["actor"], update["role"]) == ("updated", "dispatcher:desk-1", "dispatcher")
    assert (update["before"]["capacity"], update["after"]["capacity"]) == (3, 5)  # type: ignore[index]

    start = dispatch.clock.now().replace(microsecond=0)
    shift = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=4)).isoformat()}
    assert (await http.put("/riders/zhang/shifts", headers=DESK, json={"shifts": [shift]})).status_code == 200
    backwards = {"starts_at": shift["ends_at"], "ends_at": shift["starts_at"]}
    refused = await http.put("/riders/zhang/shifts", headers=DESK, json={"shifts": [backwards]})
    assert refused.status_code == 422, refused.text
    (replaced,) = await changes(http, entity="shifts")
    assert replaced["before"] == {"shifts": []}
    assert len(replaced["after"]["shifts"]) == 1  # type: ignore[index]

    site = {"name": "Lane 5 lockers", "lat": 32.046, "lon": 118.794, "compartments": [{"id": "A1", "size": "M"}]}
    assert (await http.put("/lockers/lane-5", headers=ADMIN, json=site)).status_code == 200
    bigger = {**site, "compartments": [{"id": "A1", "size": "M"}, {"id": "A2", "size": "L"}]}
    assert (await http.put("/lockers/lane-5", headers=ADMIN, json=bigger)).status_code == 200
    grown, made = await changes(http, entity="locker", entity_id="lane-5")
    assert made["before"] is None
    assert [c["id"] for c in grown["before"]["compartments"]] == ["A1"]  # type: ignore[index]
    assert [c["id"] for c in grown["after"]["compartments"]] == ["A1", "A2"]  # type: ignore[index]
    detail = await http.get("/lockers/lane-5", headers=ADMIN)
    assert [c["id"] for c in detail.json()["compartments"]] == ["A1", "A2"]
    assert (await http.get("/lockers/lane-5", headers=DESK)).status_code == 403

    assert await dispatch.pool.fetchval("SELECT count(*) FROM audit_log") == 5
    assert (await http.get("/admin/audit", headers=DESK)).status_code == 403
