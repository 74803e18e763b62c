"""Minutes workers taking jobs from Redis (``clerk.queue_url``): separate worker processes share
the jobs so that each one is run exactly once, and the job of a worker killed mid-job goes back
to the queue when its lease expires and is finished by another worker."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adapters.clerk import ClerkStore
from adapters.clerk.redis_queue import RedisQueue
from adapters.clerk.store import Job
from speech import assemble_whisper_base
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.slow
LEASE_S = 4.0
TIMEOUT_S = 240  # all jobs on a loaded 2-core machine


class Minutes:
    """A clerk data dir with its store, a Redis queue URL, and worker processes on both."""

    def __init__(self, base: Path, queue_url: str, audio: list[Path]) -> None:
        self.base, self.audio = base, audio
        self.store = ClerkStore(base / "data" / "clerk" / "clerk.db", b"scale-test-secret" * 2)
        self.user = self.store.add_user("suzuki", "long enough pw", "clerk")
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "MADOGUCHI_STORAGE__DATA_DIR": str(base / "data"),
            "MADOGUCHI_SPEECH__MODEL_PATH": str(
                assemble_whisper_base(ROOT / "var" / "models" / "whisper-base")
            ),
            "MADOGUCHI_SPEECH__DATA_DIR": str(base / "speech"),
            "MADOGUCHI_SPEECH__CPU_THREADS": "1",
            "MADOGUCHI_CLERK__POLL_INTERVAL_S": "0.2",
            "MADOGUCHI_CLERK__QUEUE_URL": queue_url,
            "MADOGUCHI_CLERK__LEASE_S": str(LEASE_S),
        }
        self.workers: list[subprocess.Popen[bytes]] = []

    def queue(self, n: int) -> list[int]:
        """Queue ``n`` jobs over the recordings in turn (as the clerk app does)."""
        ids = []
        for i in range(n):
            audio = self.audio[i % len(self.audio)]
            upload = self.store.add_upload(self.user, audio.name, audio.stat().st_size,
                                           self.base / "uploads")
            shutil.copyfile(audio, upload.path)
            self.store.set_upload(upload.id, upload.size, "complete")
            ids.append(self.store.add_job(self.store.upload(upload.id), f"会議 {i + 1}").id)
        return ids

    def start_worker(self) -> subprocess.Popen[bytes]:
        with self.log(len(self.workers)).open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "adapters.clerk.worker"], cwd=ROOT, env=self.env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.workers.append(proc)
        return proc

    def log(self, index: int) -> Path:
        return self.base / f"worker-{index}.log"

    def started(self, index: int) -> list[int]:
        """Ids of the jobs worker ``index`` started, from its log ("minutes job N: title")."""
        return [int(m) for m in re.findall(r"minutes job (\d+): ", self.log(index).read_text())]

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while not condition():
            assert time.monotonic() < deadline, f"{what} did not happen within {TIMEOUT_S} s"
            time.sleep(0.05)

    def jobs(self, ids: list[int]) -> list[Job]:
        return [self.store.job(i) for i in ids]

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(15)
        self.store.close()


@pytest.fixture
def minutes(tmp_path: Path, redis_url: str, council_audio) -> Iterator[Minutes]:  # type: ignore[no-untyped-def]
    import redis

    db = redis.Redis.from_url(f"{redis_url}/2")
    db.flushdb()  # each test its own queue
    running = Minutes(tmp_path, f"{redis_url}/2",
                      [council_audio["jm_kumo"], council_audio["jf_alpha"]])
    try:
        yield running
    finally:
        running.stop()


def _finished(job: Job) -> bool:
    return job.status in ("done", "failed", "cancelled")


def test_two_workers_on_redis_run_every_job_exactly_once(minutes: Minutes) -> None:
    ids = minutes.queue(6)
    minutes.start_worker(), minutes.start_worker()
    minutes.wait(lambda: all(_finished(j) for j in minutes.jobs(ids)), "all six jobs ended")

    assert [(j.status, j.error) for j in minutes.jobs(ids)] == [("done", None)] * 6
    for job_id in ids:
        authors = [v["author"] for v in minutes.store.versions(job_id)]
        assert authors == ["worker"], f"job {job_id} was saved {len(authors)} times"
        assert minutes.store.latest(job_id).doc["segments"], f"job {job_id} has empty minutes"
    first, second = minutes.started(0), minutes.started(1)
    runs = Counter(first + second)
    assert runs == Counter(ids), f"runs per job: {dict(runs)}"  # each job started once, in all
    assert first and second, f"one worker did everything: {first} / {second}"


def test_job_of_a_killed_worker_is_requeued_after_its_lease_and_done_once(
    minutes: Minutes,
) -> None:
    (job_id,) = minutes.queue(1)
    doomed = minutes.start_worker()
    minutes.wait(lambda: minutes.store.job(job_id).status == "running", "the job was claimed")
    assert str(doomed.pid) in (minutes.store.job(job_id).worker or "")
    os.killpg(doomed.pid, signal.SIGKILL)  # mid-job: no finish, no release, no heartbeat
    doomed.wait(10)

    minutes.start_worker()
    minutes.wait(lambda: _finished(minutes.store.job(job_id)), "the job ended on the new worker")
    job = minutes.store.job(job_id)
    assert (job.status, job.error) == ("done", None)
    assert minutes.started(1) == [job_id]
    assert f"lease of minutes job {job_id} expired" in minutes.log(1).read_text()
    assert [v["author"] for v in minutes.store.versions(job_id)] == ["worker"]


@pytest.fixture
def queues(tmp_path: Path, redis_url: str) -> Iterator[tuple[ClerkStore, Callable[[], RedisQueue]]]:
    """clerk.db with one queued job's store, and a factory of ``RedisQueue``s on a clean db."""
    import redis

    redis.Redis.from_url(f"{redis_url}/3").flushdb()
    store = ClerkStore(tmp_path / "clerk.db", b"scale-test-secret" * 2)
    user = store.add_user("suzuki", "long enough pw", "clerk")
    upload = store.add_upload(user, "a.wav", 4, tmp_path / "uploads")
    store.set_upload(upload.id, 4, "complete")
    store.add_job(store.upload(upload.id), "会議")
    made: list[RedisQueue] = []

    def make() -> RedisQueue:
        made.append(RedisQueue(store, f"{redis_url}/3", lease_s=LEASE_S))
        return made[-1]

    yield store, make
    for q in made:
        q.close()
    store.close()


def test_a_worker_whose_lease_ran_out_saves_nothing_and_the_new_holder_saves_once(
    queues,
) -> None:  # type: ignore[no-untyped-def]
    store, make = queues
    stalled, fresh = make(), make()
    job = stalled.claim("stalled")
    assert job is not None and fresh.claim("fresh") is None  # held: nobody else gets it
    stalled.redis.delete(f"{stalled.lease_prefix}{job.id}")  # it stalled past its lease
    assert fresh.claim("fresh").id == job.id  # type: ignore[union-attr]
    stalled.finish(job.id, {"segments": [], "by": "stalled"})
    assert store.versions(job.id) == []  # the stalled worker's result is dropped
    fresh.finish(job.id, {"segments": [], "by": "fresh"})
    assert store.job(job.id).status == "done" and store.latest(job.id).doc["by"] == "fresh"
    assert fresh.claim("fresh") is None and stalled.claim("stalled") is None


def test_jobs_running_when_redis_lost_its_data_are_queued_again(queues) -> None:  # type: ignore[no-untyped-def]
    store, make = queues
    first = make()
    job = first.claim("w1")
    assert job is not None and store.job(job.id).status == "running"
    first.redis.flushdb()  # Redis restarted without persistence
    assert make().claim("w2").id == job.id  # type: ignore[union-attr]
    assert store.job(job.id).status == "running" and "w2" in (store.job(job.id).worker or "")


def test_a_cancelled_job_is_not_handed_out(queues) -> None:  # type: ignore[no-untyped-def]
    store, make = queues
    (job,) = store.jobs()
    queue = make()
    assert queue.feed() == 1  # its id is in Redis's ready list
    store.transition(job.id, ("queued",), "cancelled")  # then a clerk cancels it
    assert queue.claim("w") is None and store.job(job.id).status == "cancelled"
    store.transition(job.id, ("cancelled",), "queued")  # retried by the clerk
    assert queue.claim("w").id == job.id  # type: ignore[union-attr]


def test_an_unreachable_redis_does_not_stop_a_worker(tmp_path: Path) -> None:
    store = ClerkStore(tmp_path / "clerk.db", b"scale-test-secret" * 2)
    queue = RedisQueue(store, f"redis://127.0.0.1:{free_port()}/0", lease_s=LEASE_S)
    assert queue.claim("w") is None  # logged, and the worker polls again
    store.close()
