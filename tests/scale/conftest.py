"""The scale-out setup, started by the tests themselves: a PostgreSQL cluster and a Redis server
of their own (Debian's packages, which ``make services-apt`` installs) on free loopback ports in
temporary directories, and a real Rasa + action server + gateway whose tracker store is that
PostgreSQL and whose lock store is that Redis.

PostgreSQL refuses to run as root; when the tests run as root (CI does) its processes run as the
``postgres`` user that the Debian package creates, in a directory handed over to that user.
"""

from __future__ import annotations

import copy
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.conftest import Stack, free_port

PG_USER = "madoguchi"


@dataclass
class Postgres:
    """A running cluster: its URL and how to query it."""

    url: str
    port: int
    psql: Path

    def query(self, sql: str) -> list[str]:
        """Rows of ``sql`` as text lines (one column per row is easiest to check)."""
        out = subprocess.run(
            [str(self.psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", PG_USER,
             "-At", "-c", sql],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return out.stdout.splitlines()


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.fail("PostgreSQL is not installed; run `make services-apt` (Debian: postgresql)")
    return Path(found[-1]).parent


def _wait(check, what: str, process: subprocess.Popen, timeout_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with code {process.returncode}")
        if check():
            return
        time.sleep(0.2)
    pytest.fail(f"{what} did not come up within {timeout_s:.0f} s")


@pytest.fixture(scope="package")
def postgres() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster (trust auth, loopback only, fsync off: test data)."""
    bin_dir = _pg_bin()
    as_root = os.geteuid() == 0
    user = pwd.getpwnam("postgres") if as_root else None
    root = Path(tempfile.mkdtemp(prefix="madoguchi-pg-"))
    if user:
        os.chown(root, user.pw_uid, user.pw_gid)
    run_as = {"user": user.pw_uid, "group": user.pw_gid} if user else {}
    data, port = root / "data", free_port()
    subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        cwd=root, capture_output=True, check=True, timeout=120, **run_as,
    )
    server = subprocess.Popen(
        [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(root),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=(root / "postgres.log").open("wb"), **run_as,
    )
    pg_isready = [str(bin_dir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
    try:
        _wait(lambda: subprocess.run(pg_isready).returncode == 0, "postgres", server)
        subprocess.run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U",
                        PG_USER, PG_USER], check=True, timeout=30)
        yield Postgres(f"postgresql://{PG_USER}@127.0.0.1:{port}/{PG_USER}", port, bin_dir / "psql")
    finally:
        server.send_signal(signal.SIGINT)  # "fast" shutdown: ends sessions, then exits
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def redis_url() -> Iterator[str]:
    """A throw-away Redis server (no persistence); yields ``redis://127.0.0.1:PORT``."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; run `make services-apt` (Debian: redis-server)")
    root = Path(tempfile.mkdtemp(prefix="madoguchi-redis-"))
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(root)],
        stdout=(root / "redis.log").open("wb"), stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}"

    def pong() -> bool:
        try:
            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    try:
        _wait(pong, "redis-server", server)
        yield url
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def scaled_stack(settings, retriever, postgres, redis_url, tmp_path_factory) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    """Rasa with its tracker store on ``postgres`` and its lock store on ``redis_url`` (db 1),
    the action server and a gateway: a stack of its own (the session's ``stack`` is untouched)."""
    s = copy.deepcopy(settings)
    s.rasa.tracker_url = SecretStr(postgres.url)
    s.rasa.lock_url = SecretStr(f"{redis_url}/1")
    running = Stack(s, retriever, tmp_path_factory.mktemp("scale-log"))
    try:
        running.start()
        yield running
    finally:
        running.stop()
