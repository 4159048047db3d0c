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
# The coverage phase (every boundary and every kind of invalid value, field by field) is most of a
# run's time. A request's parameters and body are checked before its handler runs, and an admin
# passes every role check (shared.auth.require), so the admin's sweep reaches that check on every
# route of orders and inventory; shoppers, helpers and a shop's staff are refused earlier on most
# routes, and for them the random examples and fuzzing reach the handlers they may call. Dispatch
# has no admin run: its rider and dispatcher each keep the sweep for their own routes.
WIDEST = {("orders", Role.ADMIN), ("inventory", Role.ADMIN), ("dispatch", Role.RIDER), ("dispatch", Role.DISPATCHER)}


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
    if (service, role) not in WIDEST:
        command += ["--phases", "examples,fuzzing,stateful"]
    # In a scratch folder: schemathesis keeps a cache of what it found where it runs.
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)
    report = done.stdout[-4000:]
    assert done.returncode == 0, f"schemathesis found server errors as {role.value} on {service}:\n{report}"
    assert "generated" in report, report
