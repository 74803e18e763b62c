"""The minutes worker: takes jobs from a ``Queue`` and runs the speech pipeline on them.

Each job runs ``speech.run_minutes_job`` with a job folder of its own, so a worker killed
halfway (restart, power cut) resumes from the last chunk checkpoint when the job is claimed
again. Cancelling is cooperative: the progress callback asks the queue and raises
``JobCancelled``, which unwinds the pipeline (its staging files are cleaned up).

By default one worker thread runs inside the gateway (``clerk.embedded_worker``). To run
workers as separate processes instead (same data dir), turn that off and start
``python -m adapters.clerk.worker`` as many times as there are cores to spare. A worker
process puts back the jobs of workers of its host that died mid-job (``worker_gone``) when it
starts and whenever it is idle; they resume from their checkpoints.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from adapters.clerk.errors import JobCancelled
from adapters.clerk.queue import Queue, SqliteQueue, open_queue
from speech import (
    JobOptions,
    MeetingInfo,
    SpeechError,
    SpeechSettings,
    minutes_to_dict,
    run_minutes_job,
)

log = logging.getLogger(__name__)


def jobs_dir(data_dir: Path) -> Path:
    """Where workers keep each job's folder (``<id>/checkpoints`` holds the speaker voices)."""
    return Path(data_dir) / "clerk" / "jobs"


def checkpoints(work_dir: Path, job_id: int) -> Path:
    """The ``speech`` job folder of one job (chunk checkpoints, ``speakers.npz``)."""
    return work_dir / str(job_id) / "checkpoints"


class Worker:
    """Takes jobs from a ``Queue`` one at a time and runs the minutes pipeline on them."""

    def __init__(self, queue: Queue, speech: SpeechSettings, work_dir: Path) -> None:
        self.queue = queue
        self.speech = speech
        self.work_dir = work_dir
        self.name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

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
                options=JobOptions(job_dir=checkpoints(self.work_dir, job.id)),
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

    def _reporter(self, job_id: int) -> Callable[[float, float], None]:
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

    def run_forever(
        self, stop: threading.Event, poll_s: float, on_idle: Callable[[], object] | None = None
    ) -> None:
        """Work until ``stop`` is set, polling for jobs every ``poll_s`` seconds when idle
        (calling ``on_idle`` first, if given)."""
        while not stop.is_set():
            if not self.run_once():
                if on_idle is not None:
                    on_idle()
                stop.wait(poll_s)


def worker_gone(name: str | None) -> bool:
    """Whether the worker named ``name`` (``Worker.name``) is known to be dead.

    Only a worker of this host can be checked (is its process still there?); one of another
    host, or a name in another shape, counts as alive: its own host has to requeue its jobs.
    """
    host, _, rest = (name or "").partition(":")
    pid, _, thread = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():  # a thread of this process: gone unless it still runs
        return not any(str(t.ident) == thread for t in threading.enumerate())
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # somebody else's process has that pid now: can't tell
        return False
    return False


def start_embedded(
    queue: SqliteQueue, speech: SpeechSettings, work_dir: Path, poll_s: float
) -> Callable[[], None]:
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


def main() -> None:
    """``python -m adapters.clerk.worker``: one worker process until Ctrl-C."""
    from adapters.clerk import open_store
    from adapters.settings import Settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    store = open_store(settings)
    queue = open_queue(store, settings.clerk)
    worker = Worker(queue, settings.speech, jobs_dir(settings.storage.data_dir))

    def requeue_orphans() -> None:
        # Jobs of a worker killed mid-job (SIGKILL, OOM, power cut) go back to the queue and
        # resume from their chunk checkpoints; live workers' jobs are left alone.
        # On Redis, leases find dead workers of any host (RedisQueue.claim requeues them).
        if not settings.clerk.queue_url.get_secret_value() and (
            n := queue.requeue_orphaned(worker_gone)
        ):
            log.warning("requeued %d job(s) of workers that died mid-job", n)

    stop = threading.Event()
    try:
        requeue_orphans()
        worker.run_forever(stop, settings.clerk.poll_interval_s, on_idle=requeue_orphans)
    except KeyboardInterrupt:
        pass
    finally:
        store.close()


if __name__ == "__main__":
    main()
