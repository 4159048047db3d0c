"""The embedded PostgreSQL keeps its data across a stop and a start with `keep`, as root or not.

As root the server runs as a system user (PostgreSQL refuses root); its data directory must
stay 0700 and that user's, or PostgreSQL refuses it on the next start.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import asyncpg
import pytest

from shared import stack
from shared.stack import EmbeddedPostgres, free_port

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="about the embedded PostgreSQL")


def _remember(url: str) -> None:
    async def write() -> None:
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('first run')")
        await conn.close()

    asyncio.run(write())


def _recall(url: str) -> list[str]:
    async def read() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            return [r["note"] for r in await conn.fetch("SELECT note FROM kept")]
        finally:
            await conn.close()

    return asyncio.run(read())


def _start_write_stop_start_read(data_dir: Path) -> tuple[list[str], int]:
    pg = EmbeddedPostgres(data_dir, free_port())
    pg.start()
    try:
        _remember(pg.url)
    finally:
        pg.stop()
    pg = EmbeddedPostgres(data_dir, free_port())
    pg.start(keep=True)
    try:
        return _recall(pg.url), data_dir.stat().st_mode & 0o777
    finally:
        pg.stop()


def test_a_kept_data_directory_starts_again_with_its_data(tmp_path: Path) -> None:
    notes, mode = _start_write_stop_start_read(tmp_path / "postgres")
    assert notes == ["first run"]
    assert mode == 0o700


def test_a_start_without_keep_begins_empty(tmp_path: Path) -> None:
    pg = EmbeddedPostgres(tmp_path / "postgres", free_port())
    pg.start()
    try:
        _remember(pg.url)
    finally:
        pg.stop()
    pg.start(keep=False)
    try:
        with pytest.raises(asyncpg.UndefinedTableError):
            _recall(pg.url)
    finally:
        pg.stop()


def _python_for_others() -> str | None:
    """This Python if any user may run it (a venv under /root is not), else the system's of the same version."""
    if all(os.stat(p).st_mode & 0o001 for p in Path(os.path.realpath(sys.executable)).parents):
        return sys.executable
    same = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    return str(same) if same.exists() else None


@pytest.mark.skipif(os.geteuid() != 0, reason="the test above already runs as a normal user")
def test_a_normal_user_keeps_their_data_too() -> None:
    python = _python_for_others()
    if python is None:
        pytest.skip("no Python another user may run")
    user = pwd.getpwnam("nobody")
    repo = Path(__file__).parents[3]
    site_packages = sysconfig.get_paths()["purelib"]
    home = Path(tempfile.mkdtemp(prefix="linli-keep-"))
    try:
        os.chown(home, user.pw_uid, user.pw_gid)
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from tests.integration.shared.test_embedded_postgres import _start_write_stop_start_read
            print(*_start_write_stop_start_read(Path({str(home / "postgres")!r})))
            """
        )
        done = subprocess.run(
            [python, "-c", script],
            capture_output=True,
            text=True,
            cwd=repo,
            env={"PATH": os.environ.get("PATH", ""), "HOME": str(home), "PYTHONPATH": f"{repo}:{site_packages}"},
            user=user.pw_uid,
            group=user.pw_gid,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["['first", "run']", str(0o700)]
    finally:
        subprocess.run(["rm", "-rf", str(home)], check=False)


def test_a_server_pg_ctl_cannot_stop_is_stopped_all_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A server left running outlives its stack: stop() must end it even when pg_ctl fails.
    pg = EmbeddedPostgres(tmp_path / "postgres", free_port())
    pg.start()
    pid = stack._postmaster_pid(pg.data_dir / "postmaster.pid")
    assert pid is not None
    real_bin = stack._pg_bin
    monkeypatch.setattr(stack, "_pg_bin", lambda name: Path("/bin/false") if name == "pg_ctl" else real_bin(name))
    try:
        pg.stop()
        assert not stack._alive(pid), "the server still runs"
    finally:
        monkeypatch.undo()
        pg.stop()
