"""No request, however strange, gets a 500: schemathesis generates requests from each service's
own OpenAPI document (valid, invalid, boundary values, odd headers) and sends them as each kind
of user. Fixed seeds keep CI repeatable; `LINLI_FUZZ_SEED` and `LINLI_FUZZ_EXAMPLES` widen a
local run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.vocabulary.roles import Role
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e

WHO = [
    ("orders", Role.SHOPPER, None),
    ("orders", Role.HELPER, None),
    ("orders", Role.ADMIN, None),
    ("inventory", Role.STORE_STAFF, "fuzz-shop"),
    ("inventory", Role.ADMIN, None),
    ("dispatch", Role.RIDER, None),
    ("dispatch", Role.DISPATCHER, None),
]


@pytest.mark.parametrize(("service", "role", "store"), WHO, ids=[f"{s}-{r.value}" for s, r, _ in WHO])
def test_no_generated_request_is_a_server_error(
    system: System, service: str, role: Role, store: str | None, tmp_path: Path
) -> None:
    token = system.token(role, f"fuzz-{role.value}", store)
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{system.url(service)}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        os.environ.get("LINLI_FUZZ_EXAMPLES", "6"),
        "--seed",
        os.environ.get("LINLI_FUZZ_SEED", "20261123"),
        "--request-timeout",
        "10",
        "--exclude-path-regex",
        "/live$|/stream$|^/metrics",
    ]
    # In a scratch folder: schemathesis keeps a cache of what it found where it runs.
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    report = done.stdout[-4000:]
    assert done.returncode == 0, f"schemathesis found server errors as {role.value} on {service}:\n{report}"
    assert "generated" in report, report
