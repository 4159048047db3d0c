"""The event catalog, generated from the code: each service's AsyncAPI document as YAML."""

from __future__ import annotations

import importlib

import yaml

SERVICE_MODULES = {
    "orders": "services.orders.entrypoints.app",
    "inventory": "services.inventory.entrypoints.app",
    "dispatch": "services.dispatch.entrypoints.app",
}


def render(service: str) -> str:
    module = importlib.import_module(SERVICE_MODULES[service])
    schema = module.asyncapi.schema.to_specification().to_jsonable()
    return yaml.safe_dump(schema, sort_keys=True, allow_unicode=True, width=100)


def render_all() -> dict[str, str]:
    return {service: render(service) for service in SERVICE_MODULES}
