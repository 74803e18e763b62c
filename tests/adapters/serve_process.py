"""A real ``madoguchi serve`` in a process of its own, and the processes it started.

For the tests that signal or kill the supervisor itself (``test_serve_signal.py``,
``test_stack_orphans.py``) and then look at what is left running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import ROOT, free_port

START_S = 240  # Rasa loads its model on a shared 2-core machine


@dataclass
class Served:
    """The running ``serve``, its log, its ports and the processes it started."""

    process: subprocess.Popen[bytes]
    log: Path
    gateway: int
    rasa: int
    actions: int
    started: set[int] = field(default_factory=set)


@contextmanager
def serve(tmp_path: Path, model_dir: Path, index_dir: Path,
          **env: str) -> Iterator[Served]:
    """Start ``madoguchi serve`` on free ports and wait until the gateway, Rasa and the action
    server answer; ``env`` adds settings. Whatever is still alive afterwards is SIGKILLed."""
    gateway, rasa, actions = free_port(), free_port(), free_port()
    full_env = {
        **os.environ,
        "MADOGUCHI_GATEWAY__PORT": str(gateway),
        "MADOGUCHI_RASA__PORT": str(rasa),
        "MADOGUCHI_RASA__URL": f"http://127.0.0.1:{rasa}",
        "MADOGUCHI_RASA__ACTION_PORT": str(actions),
        "MADOGUCHI_RASA__ACTION_URL": f"http://127.0.0.1:{actions}",
        "MADOGUCHI_RASA__MODEL_DIR": str(model_dir.resolve()),
        "MADOGUCHI_RETRIEVAL__INDEX_DIR": str(index_dir.resolve()),
        "MADOGUCHI_STORAGE__DATA_DIR": str(tmp_path / "data"),
        "MADOGUCHI_CLERK__EMBEDDED_WORKER": "false",
        **env,
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--port", str(gateway)],
            cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Served(process, log, gateway, rasa, actions)
    try:
        _wait_until_up(served)
        served.started = descendants(process.pid)
        commands = [cmdline(p) for p in served.started]
        assert any(" run --enable-api" in c for c in commands), commands
        assert any(" run actions" in c for c in commands), commands
        yield served
    finally:
        kill_all(served.started | {process.pid})


def _wait_until_up(served: Served) -> None:
    urls = (f"http://127.0.0.1:{served.rasa}/", f"http://127.0.0.1:{served.actions}/health",
            f"http://127.0.0.1:{served.gateway}/api/health")
    deadline = time.monotonic() + START_S
    while True:
        code = served.process.poll()
        assert code is None, f"serve exited with {code}:\n{served.log.read_text()}"
        assert time.monotonic() < deadline, \
            f"not up in {START_S} s:\n{served.log.read_text()}"
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for url in urls):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …"; comm may hold spaces and parentheses.
        tree.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(
            int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie has exited and closed its sockets already)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def gone_within(pids: set[int] | list[int], seconds: float) -> bool:
    """Whether every one of ``pids`` has exited within ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_all(pids: set[int] | list[int]) -> None:
    for pid in pids:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
