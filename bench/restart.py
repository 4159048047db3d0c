"""How long a service takes to be healthy again after a crash, and what start-up waits on.

Starts the embedded stack and the three services, then for each service in turn kills it with
SIGKILL and starts it again, timing from the start of the new process until its /health answers
200; each service's /health reports how long each start-up phase took (`startup_s`: database,
migrations, topics, producer, on_start, loops, broker). The first start is timed the same way,
beside it. Writes JSON to `bench/results/`.

    python -m bench.restart [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from shared.stack import SERVICES, free_port, start_infrastructure, start_services, wait_healthy

RESULTS = Path(__file__).parent / "results"


def _phases(port: int) -> dict[str, float]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json().get("startup_s") or {})


def run(rounds: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="linli-restart-"))
    infra = start_infrastructure(home)
    try:
        ports = {s: free_port() for s in SERVICES}
        began = time.monotonic()
        processes = start_services(infra, home, ports, {"LINLI_DEMO_SEED": "false"})
        wait_healthy(processes, ports, timeout=180)
        first = {"all_healthy_s": round(time.monotonic() - began, 2), **{s: _phases(ports[s]) for s in SERVICES}}
        restarts: dict[str, list[dict[str, Any]]] = {s: [] for s in SERVICES}
        for _ in range(rounds):
            for service in SERVICES:
                process = processes[service]
                assert process.popen is not None
                process.popen.send_signal(signal.SIGKILL)
                process.popen.wait()
                began = time.monotonic()
                process.start()
                wait_healthy({service: process}, ports, timeout=180)
                took = round(time.monotonic() - began, 2)
                restarts[service].append({"healthy_s": took, "phases_s": _phases(ports[service])})
                print(f"{service}: healthy {took:.1f}s after a SIGKILL and restart")
        return {
            "benchmark": "restart",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "first_start": first,
            "restart_after_sigkill": restarts,
        }
    finally:
        infra.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="kills and restarts of each service")
    result = run(parser.parse_args().rounds)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"restart-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
