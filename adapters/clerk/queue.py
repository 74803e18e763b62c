"""The minutes job queue.

``adapters.clerk.worker`` only talks to a ``Queue`` (claim a job, report progress, ask whether
it was cancelled, hand back the minutes or the error), never to SQLite directly. ``SqliteQueue`` is
the embedded default over the clerk store's ``jobs`` table; a Redis-backed queue (workers on
other machines, reading the recordings from shared storage) implements the same five methods
and the worker runs unchanged.

``SqliteQueue.requeue_running`` puts jobs left 'running' by a dead worker back at start-up; they
resume from their chunk checkpoints. ``requeue_orphaned`` does it only for workers known to be
dead (a worker process starting next to live ones).

``open_queue`` picks the queue from the settings: ``SqliteQueue``, or ``RedisQueue``
(``adapters.clerk.redis_queue``) when ``clerk.queue_url`` is set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from adapters.clerk.store import ClerkStore, Job
from adapters.settings import ClerkSettings


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
        if self.cancelled(job_id):
            return
        self.store.update_job(job_id, status="failed", error=error)

    def requeue_orphaned(self, gone: Callable[[str | None], bool]) -> int:
        """Put back jobs 'running' under a worker that ``gone`` says is dead; return how many.

        Unlike ``requeue_running`` this leaves the jobs of live workers alone, so a worker
        process can call it at start-up (and when idle) while other workers run.
        """
        stale = [j for j in self.store.jobs() if j.status == "running" and gone(j.worker)]
        for job in stale:
            self.store.update_job(job.id, status="queued")
        return len(stale)

    def requeue_running(self) -> int:
        """Put jobs left 'running' by a worker that died back in the queue; return how many."""
        stale = [j for j in self.store.jobs() if j.status == "running"]
        for job in stale:
            self.store.update_job(job.id, status="queued")
        return len(stale)


def open_queue(store: ClerkStore, clerk: ClerkSettings) -> SqliteQueue:
    """The queue ``clerk.queue_url`` asks for: Redis when set, else clerk.db alone."""
    url = clerk.queue_url.get_secret_value().strip()
    if not url:
        return SqliteQueue(store)
    from adapters.clerk.redis_queue import RedisQueue  # the redis client only when asked for

    return RedisQueue(store, url, clerk.lease_s)
