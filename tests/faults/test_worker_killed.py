"""The minutes worker killed mid-job (SIGKILL, a separate process) and started again: the job
is taken up again, resumes from its chunk checkpoint and gives exactly the minutes of a run
that was never interrupted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.clerk import ClerkStore
from speech import assemble_whisper_base, minutes_from_dict, write_exports

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 300  # a whole job on a loaded 2-core machine; normally ~15 s


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Start ``python -m adapters.clerk.worker`` processes on ``tmp_path/data``; all are
    stopped at the end."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "MADOGUCHI_STORAGE__DATA_DIR": str(tmp_path / "data"),
        "MADOGUCHI_SPEECH__MODEL_PATH": str(
            assemble_whisper_base(ROOT / "var" / "models" / "whisper-base")
        ),
        "MADOGUCHI_SPEECH__DATA_DIR": str(tmp_path / "speech"),
        "MADOGUCHI_SPEECH__CHUNK_SECONDS": "31",  # the ~40 s recording is two chunks
        "MADOGUCHI_CLERK__POLL_INTERVAL_S": "0.2",
    }
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(started)}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "adapters.clerk.worker"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def wait_for(condition: Callable[[], bool], what: str, proc: subprocess.Popen[bytes],
             poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert proc.poll() is None, f"the worker exited ({proc.returncode}) before {what}"
        assert time.monotonic() < deadline, f"{what} did not happen within {TIMEOUT_S} s"
        time.sleep(poll_s)


def minutes_text(doc: dict, out: Path) -> str:
    """The 会議録 text a clerk would export from a job's minutes."""
    out.mkdir()
    (path,) = write_exports(minutes_from_dict(doc), out, "minutes", ("txt",))
    return path.read_text(encoding="utf-8")


def test_killed_worker_resumes_from_its_checkpoint_with_identical_minutes(
    workers, council_audio, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    store = ClerkStore(tmp_path / "data" / "clerk" / "clerk.db", b"fault-test-secret" * 2)
    user = store.add_user("suzuki", "long enough pw", "clerk")
    audio = council_audio["meeting"]

    def queue_job():  # type: ignore[no-untyped-def]
        upload = store.add_upload(user, audio.name, audio.stat().st_size, tmp_path / "uploads")
        shutil.copyfile(audio, upload.path)
        store.set_upload(upload.id, upload.size, "complete")
        return store.add_job(store.upload(upload.id), "令和七年第一回定例会")

    # 1. The uninterrupted run.
    first = workers()
    whole = queue_job()
    wait_for(lambda: store.job(whole.id).status in ("done", "failed"), "the first job ended", first)
    assert store.job(whole.id).status == "done", store.job(whole.id).error

    # 2. The same recording again; the worker is killed once its first chunk is checkpointed.
    killed = queue_job()
    checkpoints = tmp_path / "data" / "clerk" / "jobs" / str(killed.id) / "checkpoints"
    chunk0, chunk1 = checkpoints / "chunk-00000.json", checkpoints / "chunk-00001.json"
    wait_for(chunk0.exists, "the first chunk was checkpointed", first, poll_s=0.01)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    assert not chunk1.exists(), "the worker finished the second chunk before it was killed"
    assert store.job(killed.id).status == "running"  # left behind by the dead worker
    saved = chunk0.stat()

    # 3. A new worker takes the orphaned job up again and resumes it.
    second = workers()
    wait_for(lambda: store.job(killed.id).status in ("done", "failed"), "the job resumed", second)
    assert store.job(killed.id).status == "done", store.job(killed.id).error
    assert chunk1.exists()
    assert "requeued 1 job(s) of workers that died" in (tmp_path / "worker-1.log").read_text()
    again = chunk0.stat()  # loaded, not recomputed
    assert (again.st_ino, again.st_mtime_ns) == (saved.st_ino, saved.st_mtime_ns)

    # 4. Its minutes equal the uninterrupted run's, as JSON and as 会議録 text.
    expected, resumed = store.latest(whole.id).doc, store.latest(killed.id).doc
    assert resumed == expected
    text = minutes_text(resumed, tmp_path / "resumed")
    assert text == minutes_text(expected, tmp_path / "whole")
    assert "本会議" in text and "子育て" in text  # real minutes, not an empty document
    store.close()


def test_only_jobs_of_dead_workers_are_requeued(tmp_path: Path) -> None:
    import socket
    import threading

    from adapters.clerk import SqliteQueue
    from adapters.clerk.worker import worker_gone

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    host = socket.gethostname()
    names = {
        "dead": f"{host}:{dead.pid}:1",
        "alive": f"{host}:{os.getpid()}:{threading.get_ident()}",
        "elsewhere": f"other-host:{dead.pid}:1",
    }
    store = ClerkStore(tmp_path / "clerk.db", b"fault-test-secret" * 2)
    user = store.add_user("suzuki", "long enough pw", "clerk")
    jobs = {}
    for who, name in names.items():
        upload = store.add_upload(user, f"{who}.wav", 10, tmp_path / "uploads")
        jobs[who] = store.add_job(upload, who).id
        assert store.claim_job(name).id == jobs[who]  # type: ignore[union-attr]
    assert SqliteQueue(store).requeue_orphaned(worker_gone) == 1
    assert {who: store.job(i).status for who, i in jobs.items()} == {
        "dead": "queued", "alive": "running", "elsewhere": "running"
    }
    store.close()
