"""SIGTERM (systemd's stop, ``docker stop``) of ``madoguchi serve`` stops the whole stack.

Rasa and the action server run in their own sessions, so a signal to ``serve`` alone reaches
neither: ``serve`` must stop them itself. Before 96d5d14 uvicorn re-raised the SIGTERM it had
caught and Python's default action killed ``serve`` before it could, leaving both running and
holding their ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow
START_S = 240  # Rasa loads its model on a shared 2-core machine


def _children() -> dict[int, list[int]]:
    """ppid → pids of every live process."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid …"; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2:].split()
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie has exited and closed its sockets already)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_sigterm_stops_rasa_and_the_action_server(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = stack.settings  # its fixture has trained the model serve will load
    gateway, rasa, actions = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MADOGUCHI_GATEWAY__PORT": str(gateway),
        "MADOGUCHI_RASA__PORT": str(rasa),
        "MADOGUCHI_RASA__URL": f"http://127.0.0.1:{rasa}",
        "MADOGUCHI_RASA__ACTION_PORT": str(actions),
        "MADOGUCHI_RASA__ACTION_URL": f"http://127.0.0.1:{actions}",
        "MADOGUCHI_RASA__MODEL_DIR": str(Path(s.rasa.model_dir).resolve()),
        "MADOGUCHI_RASA__PROBE_INTERVAL_S": "0.5",
        "MADOGUCHI_RETRIEVAL__INDEX_DIR": str(Path(s.retrieval.index_dir).resolve()),
        "MADOGUCHI_STORAGE__DATA_DIR": str(tmp_path / "data"),
        "MADOGUCHI_CLERK__EMBEDDED_WORKER": "false",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli", "serve", "--port", str(gateway)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    started: set[int] = set()
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert serve.poll() is None, f"serve exited with {serve.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"Rasa not up in {START_S} s:\n{log.read_text()}"
            try:
                if (httpx.get(f"http://127.0.0.1:{rasa}/", timeout=2).status_code == 200
                        and httpx.get(f"http://127.0.0.1:{actions}/health",
                                      timeout=2).status_code == 200
                        and httpx.get(f"http://127.0.0.1:{gateway}/api/health",
                                      timeout=2).status_code == 200):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        started = _descendants(serve.pid)
        commands = [_cmdline(p) for p in started]
        assert any(" run --enable-api" in c for c in commands), commands
        assert any(" run actions" in c for c in commands), commands

        serve.send_signal(signal.SIGTERM)  # to serve alone, as systemd's KillMode=mixed does
        serve.wait(60)
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p: _cmdline(p) for p in started if _alive(p)}
        assert not left, f"still running after serve's SIGTERM: {left}\n{log.read_text()}"
        text = log.read_text()
        assert "stopping rasa" in text and "stopping actions" in text, text
        for port in (gateway, rasa, actions):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        for pid in started | {serve.pid}:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
