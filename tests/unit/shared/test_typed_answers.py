"""Every JSON route of every service says what it answers, so /docs and /openapi.json show it.

Streams, static pages, redirects and /metrics answer something other than JSON and say so with
their response class; everything else needs a response model.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from services.dispatch.entrypoints.app import app as dispatch_app
from services.inventory.entrypoints.app import app as inventory_app
from services.orders.entrypoints.app import app as orders_app

APPS = {"orders": orders_app, "inventory": inventory_app, "dispatch": dispatch_app}


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Every route, including those of included routers (kept whole by FastAPI, not copied)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes)
    return found


def json_routes(app: FastAPI) -> list[APIRoute]:
    return [r for r in api_routes(app.routes) if r.include_in_schema and _answers_json(r)]


def _answers_json(route: APIRoute) -> bool:
    cls = route.response_class
    if isinstance(cls, DefaultPlaceholder):  # FastAPI's default: JSON
        return True
    return issubclass(cls, JSONResponse)


def declared(route: APIRoute) -> bool:
    if route.status_code == 204:
        return True
    if route.response_model is not None:
        return True
    ok = route.responses.get(200) or route.responses.get("200") or {}
    return "model" in ok


@pytest.mark.parametrize("service", APPS)
def test_every_json_route_declares_its_answer(service: str) -> None:
    app = APPS[service]
    missing = [f"{sorted(r.methods)} {r.path}" for r in json_routes(app) if not declared(r)]
    assert missing == []
    assert len(json_routes(app)) > 5, "the check sees the service's routes"


@pytest.mark.parametrize("service", APPS)
def test_the_openapi_document_shows_a_schema_for_every_json_answer(service: str) -> None:
    spec = APPS[service].openapi()
    bare = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            for status, answer in op.get("responses", {}).items():
                if not status.startswith("2") or status == "204":
                    continue
                content = answer.get("content", {})
                schema = content.get("application/json", {}).get("schema")
                if "application/json" in content and not schema:
                    bare.append(f"{method.upper()} {path} {status}")
    assert bare == []
