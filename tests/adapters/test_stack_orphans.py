"""A supervisor killed outright (SIGKILL, the OOM killer) takes its children with it.

``madoguchi serve`` stops Rasa and the action server itself on SIGINT/SIGTERM
(``test_serve_signal.py``); a SIGKILL gives it no chance, and the children, in sessions of
their own, were left running (~1.3 GB and a port each). ``adapters.stack.popen`` has the
kernel SIGKILL them when their parent dies. The kernel sends that signal when the *thread*
that forked a child exits: a child started from a short-lived thread must survive that
thread, and die only with the process.
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

# A real parent: with adapters.stack's spawning (or plain Popen, as it was), starts a
# sleeping child from its main thread and one from a thread that exits a second later,
# prints their pids, and lives on until killed. (Forked by that thread itself, the second
# child would die with the thread: checked by hand on 26 Nov with the spawner thread
# bypassed.)
PARENT = """
import subprocess, sys, threading, time
from pathlib import Path
from adapters.stack import _spawn

way, log_dir = sys.argv[1], Path(sys.argv[2])
child = [sys.executable, "-c", "import time; time.sleep(600)"]

def start():
    if way == "stack":
        return _spawn("sleeper", child, Path.cwd(), {}, log_dir).process
    return subprocess.Popen(child, start_new_session=True)

def from_a_thread():
    pids.append(start().pid)
    time.sleep(1.0)  # past the child's prctl: a thread that forked it and exits now

pids = [start().pid]
worker = threading.Thread(target=from_a_thread)
worker.start()
worker.join()  # the thread that asked for the second child has exited
print(*pids, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """Running (a zombie has exited already)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def _gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _start_parent(way: str, tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, way, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert parent.stdout is not None
    line = parent.stdout.readline()
    assert line, f"the parent printed nothing (exit {parent.poll()})"
    return parent, [int(p) for p in line.split()]


def _kill_all(pids: list[int]) -> None:
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_children_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    parent, children = _start_parent("stack", tmp_path)
    try:
        time.sleep(0.5)
        # The second child's forking thread has exited: both children still run.
        assert all(_alive(p) for p in children), children
        parent.kill()
        parent.wait(10)
        assert _gone_within(children, 5), {p: _alive(p) for p in children}
    finally:
        _kill_all([parent.pid, *children])


def test_plain_popen_children_outlive_a_sigkilled_parent(tmp_path: Path) -> None:
    """The failure the test above guards against, shown with plain Popen (what stack.py
    did): the children are still running seconds after their parent was killed."""
    parent, children = _start_parent("plain", tmp_path)
    try:
        parent.kill()
        parent.wait(10)
        assert not _gone_within(children, 2)
    finally:
        _kill_all([parent.pid, *children])


def test_a_missing_program_is_refused_before_anything_starts(tmp_path: Path) -> None:
    from adapters.stack import popen

    with pytest.raises(FileNotFoundError):
        popen([str(tmp_path / "no-such-program")])
    with pytest.raises(FileNotFoundError):
        popen(["no-such-program-madoguchi"])


def _descendants(pid: int) -> set[int]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            tree.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(
                int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


@pytest.mark.slow
def test_sigkill_of_serve_takes_rasa_and_the_action_server_with_it(  # type: ignore[no-untyped-def]
        settings, retriever, tmp_path: Path) -> None:
    from adapters.stack import train_model

    model_dir = train_model(settings.rasa).parent  # trained once, shared with the other tests
    gateway, rasa, actions = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "MADOGUCHI_GATEWAY__PORT": str(gateway),
        "MADOGUCHI_RASA__PORT": str(rasa),
        "MADOGUCHI_RASA__URL": f"http://127.0.0.1:{rasa}",
        "MADOGUCHI_RASA__ACTION_PORT": str(actions),
        "MADOGUCHI_RASA__ACTION_URL": f"http://127.0.0.1:{actions}",
        "MADOGUCHI_RASA__PROCESSES": "1",
        "MADOGUCHI_RASA__MODEL_DIR": str(model_dir),
        "MADOGUCHI_RETRIEVAL__INDEX_DIR": str(Path(settings.retrieval.index_dir).resolve()),
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
        deadline = time.monotonic() + 240  # Rasa loads its model on a shared 2-core machine
        while True:
            assert serve.poll() is None, f"serve exited with {serve.returncode}:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"Rasa not up:\n{log.read_text()}"
            try:
                if (httpx.get(f"http://127.0.0.1:{rasa}/", timeout=2).status_code == 200
                        and httpx.get(f"http://127.0.0.1:{actions}/health",
                                      timeout=2).status_code == 200):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        started = _descendants(serve.pid)
        commands = [Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                    for p in started]
        assert any(" run --enable-api" in c for c in commands), commands
        assert any(" run actions" in c for c in commands), commands

        serve.kill()  # no chance to stop anything
        serve.wait(30)
        assert _gone_within(sorted(started), 5), {p: _alive(p) for p in started}
        for port in (rasa, actions):
            with pytest.raises(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    finally:
        _kill_all([serve.pid, *started])
