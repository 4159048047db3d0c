"""Several instances of each service, each on a port of its own, named so logs and tests tell them apart."""

from __future__ import annotations

import pytest

from shared.stack import DEFAULT_PORTS, Infrastructure, browser_env, instance_name, instance_ports, service_env


def test_one_instance_keeps_the_usual_ports_and_names() -> None:
    assert instance_ports(DEFAULT_PORTS, 1) == DEFAULT_PORTS


def test_more_instances_step_a_hundred_ports_up_and_never_collide() -> None:
    ports = instance_ports(DEFAULT_PORTS, 3)
    assert ports["orders"] == 8001
    assert ports["orders-1"] == 8101
    assert ports["dispatch-2"] == 8203
    assert len(set(ports.values())) == 9
    assert instance_name("inventory", 0) == "inventory"
    assert instance_name("inventory", 2) == "inventory-2"


def test_browsers_are_pointed_at_the_first_instance_and_every_instance_is_an_allowed_origin() -> None:
    env = browser_env(instance_ports(DEFAULT_PORTS, 2))
    assert env["LINLI_ORDERS_URL"] == "http://127.0.0.1:8001"
    assert "http://127.0.0.1:8103" in env["LINLI_CORS_ORIGINS"]


def test_a_lone_instance_is_a_static_group_member_several_are_dynamic(monkeypatch: pytest.MonkeyPatch) -> None:
    # On tansu a static group's second member is expelled after every join (docs/operations.md);
    # a lone one is not, and its name lets a restart take its partitions back at once.
    monkeypatch.delenv("LINLI_INSTANCE_ID", raising=False)
    infra = Infrastructure("postgresql://x@127.0.0.1:1/postgres", "redis://127.0.0.1:2", "127.0.0.1:3")
    assert service_env(infra, "orders")["LINLI_INSTANCE_ID"] == "orders-0"
    assert "LINLI_INSTANCE_ID" not in service_env(infra, "orders", instances=2)
