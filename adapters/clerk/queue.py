"""The minutes job queue and its worker.

The worker only talks to a ``Queue`` (claim a job, report progress, ask whether it was
cancelled, hand back the minutes or the error), never to SQLite directly. ``SqliteQueue`` is
the embedded default over the clerk store's ``jobs`` table; a Redis-backed queue (workers on
other machines, reading the recordings from shared storage) implements the same five methods
and the worker runs unchanged.

A job runs ``speech.run_minutes_job`` with a job folder of its own, so a worker killed halfway
(restart, power cut) resumes from the last chunk checkpoint when the job is claimed again:
``SqliteQueue.requeue_running`` puts such orphans back at start-up.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from adapters.clerk.errors import JobCancelled
from adapters.clerk.store import ClerkStore, Job
from speech import JobOptions, MeetingInfo, SpeechError, SpeechSettings, minutes_to_dict, run_minutes_job

log = logging.getLogger(__name__)


class Queue(Protocol):
    """What a worker needs from a job queue."""

    def claim(self, worker: str) -> Job | None: ...

    def progress(self, job_id: int, done: float, total: float) -> None: ...

    def cancelled(self, job_id: int) -> bool: ...

    def finish(self, job_id: int, doc: dict[str, Any]) -> None: ...

    def fail(self, job_id: int, error: str) -> None: ...


class SqliteQueue:
    """The queue over the clerk store's ``jobs`` table (same file the gateway uses)."""

    def __init__(self, store: ClerkStore) -> None:
        self.store = store

    def claim(self, worker: str) -> Job | None:
        return self.store.claim_job(worker)

    def progress(self, job_id: int, done: float, total: float) -> None:
        self.store.update_job(job_id, done=done, total=total)

    def cancelled(self, job_id: int) -> bool:
        return self.store.job(job_id).status == "cancelled"

    def finish(self, job_id: int, doc: dict[str, Any]) -> None:
        if self.cancelled(job_id):  # cancelled after the last progress report: stay cancelled
            return
        self.store.save_version(job_id, None, doc, author="worker")
        self.store.update_job(job_id, status="done")

    def fail(self, job_id: int, error: str) -> None:
        self.store.update_job(job_id, status="failed", error=error)

    def requeue_running(self) -> int:
        """Put jobs left 'running' by a worker that died back in the queue; return how many."""
        stale = [j for j in self.store.jobs() if j.status == "running"]
        for job in stale:
            self.store.update_job(job.id, status="queued")
        return len(stale)


class Worker:
    """Takes jobs from a ``Queue`` one at a time and runs the minutes pipeline on them."""

    def __init__(self, queue: Queue, speech: SpeechSettings, work_dir: Path) -> None:
        self.queue = queue
        self.speech = speech
        self.work_dir = work_dir
        self.name = f"{socket.gethostname()}:{threading.get_ident()}"

    def run_once(self) -> bool:
        """Run the next queued job, if any; return whether there was one."""
        job = self.queue.claim(self.name)
        if job is None:
            return False
        log.info("minutes job %d: %s", job.id, job.title)
        try:
            result = run_minutes_job(
                job.audio,
                self.work_dir / str(job.id) / "out",
                self.speech,
                formats=("json",),
                on_progress=self._reporter(job.id),
                meeting=MeetingInfo(title=job.title),
                options=JobOptions(job_dir=self.work_dir / str(job.id) / "checkpoints"),
            )
        except JobCancelled:
            log.info("minutes job %d cancelled", job.id)
            return True
        except SpeechError as exc:
            self.queue.fail(job.id, str(exc))
            return True
        except Exception as exc:  # noqa: BLE001 — a bug must not kill the worker; keep the trace
            log.exception("minutes job %d failed", job.id)
            self.queue.fail(job.id, f"internal error ({type(exc).__name__}); see the server log")
            return True
        self.queue.finish(job.id, minutes_to_dict(result.minutes))
        return True

    def _reporter(self, job_id: int):  # type: ignore[no-untyped-def]
        last = [0.0]

        def report(done: float, total: float) -> None:
            now = time.monotonic()
            if now - last[0] < 0.3 and done < total:
                return
            last[0] = now
            if self.queue.cancelled(job_id):
                raise JobCancelled(job_id)
            self.queue.progress(job_id, done, total)

        return report

    def run_forever(self, stop: threading.Event, poll_s: float) -> None:
        """Work until ``stop`` is set, polling for jobs every ``poll_s`` seconds when idle."""
        while not stop.is_set():
            if not self.run_once():
                stop.wait(poll_s)


def start_embedded(queue: SqliteQueue, speech: SpeechSettings, work_dir: Path, poll_s: float):  # type: ignore[no-untyped-def]
    """Start one worker thread in this process; return ``stop()`` that ends it."""
    queue.requeue_running()
    stop = threading.Event()
    worker = Worker(queue, speech, work_dir)
    thread = threading.Thread(
        target=worker.run_forever, args=(stop, poll_s), name="clerk-worker", daemon=True
    )
    thread.start()

    def halt() -> None:
        stop.set()
        thread.join(5)

    return halt
