"""Minutes jobs handed out through Redis, with leases: workers in many processes or on many hosts.

Selected by ``clerk.queue_url`` (``MADOGUCHI_CLERK__QUEUE_URL=redis://host:6379/0``). The job
*state* stays where ``SqliteQueue`` keeps it (clerk.db: status, progress, the minutes), which the
gateway reads for the clerk app; Redis carries who works on what:

- ``ready`` (list): job ids waiting. Any worker copies the ids of 'queued' jobs from clerk.db
  into it (once per id: a ``known`` set guards it), so the gateway needs no Redis client and a
  job queued while Redis was away is not lost.
- ``processing`` (list) and ``lease:<id>`` (a key with a time-to-live): one Lua script moves an
  id from ``ready`` to ``processing`` and sets its lease to the worker's token, atomically. While
  the job runs, a heartbeat thread renews the lease every ``lease_s / 3``.
- A worker that dies (SIGKILL, OOM, power cut, a lost host) stops renewing; once its lease has
  expired any idle worker moves the id back to ``ready`` and marks the job 'queued' again. The
  next worker resumes it from its chunk checkpoints (the data dir is shared).
- A worker that finds its lease gone (it stalled longer than ``lease_s``) drops its result:
  another worker holds the job now, so minutes are saved once.

Why not RQ or Huey: the worker loop, checkpoints and job table already exist; what was missing
is an atomic hand-out and a visibility timeout across hosts, which is four short scripts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from typing import Any

import redis

from adapters.clerk.errors import ClerkError
from adapters.clerk.queue import SqliteQueue
from adapters.clerk.store import ClerkStore, Job

log = logging.getLogger(__name__)

_ENQUEUE = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""
_CLAIM = """
local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')
if not id then return false end
redis.call('SET', ARGV[1] .. id, ARGV[2], 'PX', ARGV[3])
return id
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[2] then return 0 end
redis.call('LREM', KEYS[1], 0, ARGV[1])
redis.call('SREM', KEYS[2], ARGV[1])
if holder then redis.call('DEL', KEYS[3]) end
return 1
"""
_REAP = """
local back = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[1] .. id) == 0 then
    redis.call('LREM', KEYS[1], 1, id)
    redis.call('RPUSH', KEYS[2], id)
    table.insert(back, id)
  end
end
return back
"""


class RedisQueue(SqliteQueue):
    """``SqliteQueue`` whose hand-out and dead-worker detection go through Redis."""

    def __init__(
        self, store: ClerkStore, url: str, lease_s: float = 60.0, prefix: str = "madoguchi:minutes"
    ) -> None:
        if lease_s <= 0:
            raise ValueError(f"lease_s must be greater than 0, got {lease_s}")
        super().__init__(store)
        self.redis = redis.Redis.from_url(url, socket_timeout=10)
        self.lease_ms = int(lease_s * 1000)
        self.ready, self.processing = f"{prefix}:ready", f"{prefix}:processing"
        self.known, self.lease_prefix = f"{prefix}:known", f"{prefix}:lease:"
        self._enqueue = self.redis.register_script(_ENQUEUE)
        self._claim = self.redis.register_script(_CLAIM)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._reap = self.redis.register_script(_REAP)
        self._held: dict[int, str] = {}  # job id -> lease token, for the jobs this process runs
        self._lock = threading.Lock()
        self._heartbeat: threading.Thread | None = None
        self._stop = threading.Event()

    # --- the Queue protocol --------------------------------------------------------------

    def claim(self, worker: str) -> Job | None:
        """Take the next job: requeue expired leases, copy new jobs in, then claim one.

        Redis unreachable: None (the worker polls again), so an outage does not end it.
        """
        try:
            return self._claim_next(worker)
        except redis.RedisError as exc:
            log.warning("minutes queue: Redis unreachable (%s); trying again", exc)
            return None

    def _claim_next(self, worker: str) -> Job | None:
        self.requeue_running()
        self.feed()
        while True:
            token = f"{worker}:{uuid.uuid4().hex[:8]}"
            raw = self._claim(keys=[self.ready, self.processing],
                              args=[self.lease_prefix, token, self.lease_ms])
            if raw is None:
                return None
            job_id = int(raw)
            try:
                # 'running' too: the job of a dead worker whose lease we now hold.
                self.store.transition(job_id, ("queued", "running"), "running")
            except ClerkError:  # cancelled, done or deleted meanwhile: not ours to run
                self._release_ids(job_id, token)
                continue
            self.store.update_job(job_id, worker=worker)
            with self._lock:
                self._held[job_id] = token
            self._start_heartbeat()
            return self.store.job(job_id)

    def cancelled(self, job_id: int) -> bool:
        if not super().cancelled(job_id):
            return False
        self._let_go(job_id)  # the worker stops here without calling finish() or fail()
        return True

    def finish(self, job_id: int, doc: dict[str, Any]) -> None:
        if self._still_held(job_id):
            super().finish(job_id, doc)
        self._let_go(job_id)

    def fail(self, job_id: int, error: str) -> None:
        if self._still_held(job_id):
            super().fail(job_id, error)
        self._let_go(job_id)

    # --- what the worker and the gateway call besides -------------------------------------

    def feed(self) -> int:
        """Copy the ids of 'queued' jobs in clerk.db into Redis (each once); return how many.

        A job 'running' without a lease lost it with Redis's data (a restart without
        persistence): it is queued again; its worker, if alive, then drops its result.
        """
        added = 0
        for job in self.store.jobs():
            if job.status == "running" and not self.redis.exists(f"{self.lease_prefix}{job.id}"):
                log.warning("minutes job %d runs without a lease in Redis; queued again", job.id)
                with contextlib.suppress(ClerkError):
                    self.store.transition(job.id, ("running",), "queued")
            elif job.status != "queued":
                continue
            added += int(self._enqueue(keys=[self.known, self.ready], args=[job.id]))
        return added

    def requeue_running(self) -> int:
        """Put jobs whose worker stopped renewing its lease back in the queue; return how many."""
        back = [int(i) for i in self._reap(keys=[self.processing, self.ready],
                                           args=[self.lease_prefix])]
        for job_id in back:
            log.warning("lease of minutes job %d expired (its worker stopped); queued again", job_id)
            try:
                self.store.transition(job_id, ("running",), "queued")
            except ClerkError:
                pass  # finished or cancelled just before its worker died: the claim drops it
        return len(back)

    def close(self) -> None:
        """Stop the heartbeat (held leases then expire) and close the connection."""
        self._stop.set()
        if self._heartbeat:
            self._heartbeat.join(5)
        self.redis.close()

    # --- leases ----------------------------------------------------------------------------

    def _still_held(self, job_id: int) -> bool:
        """Whether this process still holds the job's lease (asked of Redis, renewing it)."""
        with self._lock:
            token = self._held.get(job_id)
        try:
            held = token is not None and bool(
                self._renew(keys=[f"{self.lease_prefix}{job_id}"], args=[token, self.lease_ms])
            )
        except redis.RedisError as exc:
            # Nobody can claim the job through an unreachable Redis either: keep the result.
            log.warning("minutes job %d: lease not checked (%s); saving", job_id, exc)
            return token is not None
        if not held:
            log.warning("minutes job %d: lease lost while it ran; another worker has it", job_id)
        return held

    def _let_go(self, job_id: int) -> None:
        with self._lock:
            token = self._held.pop(job_id, None)
        if token is not None:
            try:
                self._release_ids(job_id, token)
            except redis.RedisError as exc:  # the lease expires; the next claim drops the id
                log.warning("minutes job %d: not released in Redis (%s)", job_id, exc)

    def _release_ids(self, job_id: int, token: str) -> None:
        self._release(keys=[self.processing, self.known, f"{self.lease_prefix}{job_id}"],
                      args=[job_id, token])

    def _start_heartbeat(self) -> None:
        with self._lock:
            if self._heartbeat is not None and self._heartbeat.is_alive():
                return
            self._heartbeat = threading.Thread(
                target=self._renew_forever, name="minutes-lease", daemon=True
            )
            self._heartbeat.start()

    def _renew_forever(self) -> None:
        while not self._stop.wait(self.lease_ms / 3000):
            with self._lock:
                held = list(self._held.items())
            for job_id, token in held:
                try:
                    kept = self._renew(keys=[f"{self.lease_prefix}{job_id}"],
                                       args=[token, self.lease_ms])
                except redis.RedisError as exc:  # keep trying: the lease may still be ours
                    log.warning("minutes job %d: lease not renewed (%s)", job_id, exc)
                    continue
                if not kept:
                    with self._lock:
                        self._held.pop(job_id, None)
