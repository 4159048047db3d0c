"""docker-compose.yml is valid and wires each service to its own database, Redis and Kafka.

No Docker engine is needed: `docker-compose config` (Debian's docker-compose 1.29) only parses,
validates and resolves the file. Images are neither pulled nor built.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
LINLI_SERVICES = ("orders", "inventory", "dispatch")
INFRASTRUCTURE = ("kafka", "postgres", "redis")
TIMEOUT_S = 60


def _docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is not None:
        return path
    message = "docker-compose is not installed"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; .ci/run should have installed it (apt-get install docker-compose)")
    pytest.skip(f"{message}: `apt-get install docker-compose` to validate docker-compose.yml")


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return subprocess.run(
        [_docker_compose(), "--file", str(COMPOSE_FILE), "--project-directory", str(ROOT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_file_is_valid() -> None:
    result = _compose("config", "-q")
    assert result.returncode == 0, f"docker-compose config -q failed:\n{result.stderr}{result.stdout}"


def test_every_service_has_its_own_database_redis_and_kafka() -> None:
    result = _compose("config")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}{result.stdout}"
    config = yaml.safe_load(result.stdout)
    services: dict[str, Any] = config["services"]

    missing = [name for name in (*LINLI_SERVICES, *INFRASTRUCTURE) if name not in services]
    assert not missing, f"docker-compose.yml lacks {missing}; it has {sorted(services)}"

    databases = {}
    for name in LINLI_SERVICES:
        env = _environment(services[name])
        for var in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS"):
            assert env.get(var), f"{name} has no {var}"
        assert env["DATABASE_URL"].rsplit("?", 1)[0].endswith(f"/linli_{name}"), (
            f"{name} must use its own database linli_{name}, not {env['DATABASE_URL']}"
        )
        assert "@postgres:" in env["DATABASE_URL"], f"{name}'s DATABASE_URL does not point at postgres"
        assert env["REDIS_URL"].startswith("redis://redis:"), f"{name}'s REDIS_URL does not point at redis"
        assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env.get("LINLI_SERVICE") == name
        databases[name] = env["DATABASE_URL"]
        depends_on = services[name].get("depends_on") or {}
        for infra in INFRASTRUCTURE:
            assert infra in depends_on, f"{name} does not depend on {infra}"
            assert depends_on[infra].get("condition") == "service_healthy", (
                f"{name} must wait for {infra} to be healthy"
            )
    assert len(set(databases.values())) == len(LINLI_SERVICES), f"services share a database: {databases}"


def test_postgres_init_script_creates_every_service_database() -> None:
    script = (ROOT / "deploy" / "postgres-init.sql").read_text()
    for name in LINLI_SERVICES:
        assert f"CREATE DATABASE linli_{name};" in script
