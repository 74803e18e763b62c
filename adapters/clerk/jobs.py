"""Minutes jobs: queue a complete upload, follow progress (Server-Sent Events), cancel, retry.

The worker (``adapters.clerk.worker``) writes progress into the store; the event streams here
poll it and send what changed, so they work the same whether the worker is a thread in this
process or a process elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from adapters.clerk.auth import SessionDep, store_of
from adapters.clerk.uploads import own_upload

router = APIRouter(prefix="/api/clerk", tags=["clerk"])

_TERMINAL = ("done", "failed", "cancelled")


class NewJob(BaseModel):
    upload_id: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=200)


@router.post("/jobs", status_code=201)
def create_job(body: NewJob, session: SessionDep, request: Request) -> dict[str, Any]:
    """Queue minutes for a completely uploaded recording."""
    store = store_of(request)
    u = own_upload(store, body.upload_id, session)
    if u.status != "complete":
        raise HTTPException(
            409, f"upload {u.id} is {u.status} ({u.received}/{u.size} bytes); finish it first"
        )
    title = (body.title or "").strip() or Path(u.filename).stem
    return store.add_job(u, title).public()


@router.get("/jobs")
def list_jobs(session: SessionDep, request: Request) -> list[dict[str, Any]]:
    """All minutes jobs, newest first."""
    return [j.public() for j in store_of(request).jobs()]


@router.get("/jobs/{job_id}")
def get_job(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    return store_of(request).job(job_id).public()


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    """Cancel a queued or running job (a running one stops at its next progress report)."""
    return store_of(request).transition(job_id, ("queued", "running"), "cancelled").public()


@router.post("/jobs/{job_id}/retry")
def retry_job(job_id: int, session: SessionDep, request: Request) -> dict[str, Any]:
    """Queue a failed or cancelled job again (it resumes from its checkpoints)."""
    return store_of(request).transition(job_id, ("failed", "cancelled"), "queued").public()


@router.get(
    "/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(job_id: int, session: SessionDep, request: Request) -> StreamingResponse:
    """Server-Sent Events: ``progress`` (the job) whenever it changes, then ``end``."""
    store = store_of(request)
    store.job(job_id)  # 404 before streaming

    async def events() -> AsyncIterator[str]:
        last: dict[str, Any] | None = None
        quiet = 0
        while not await request.is_disconnected():
            job = store.job(job_id).public()
            if job != last:
                yield _sse("progress", job)
                last, quiet = job, 0
            elif (quiet := quiet + 1) % 40 == 0:
                yield ": keep-alive\n\n"  # proxies close streams silent for long
            if job["status"] in _TERMINAL:
                yield _sse("end", job)
                return
            await asyncio.sleep(0.4)

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def all_job_events(session: SessionDep, request: Request) -> StreamingResponse:
    """Server-Sent Events for the job list: ``job`` (one job) whenever any job changes.

    One stream for every job, because browsers allow only six connections per server over
    HTTP/1.1: a stream per running job would stall the page once a clerk queues several.
    """
    store = store_of(request)

    async def events() -> AsyncIterator[str]:
        seen: dict[int, dict[str, Any]] = {}
        quiet = 0
        while not await request.is_disconnected():
            changed = [j.public() for j in store.jobs() if seen.get(j.id) != j.public()]
            for job in changed:
                seen[job["id"]] = job
                yield _sse("job", job)
            quiet = 0 if changed else quiet + 1
            if quiet and quiet % 40 == 0:
                yield ": keep-alive\n\n"
            await asyncio.sleep(0.5)

    return StreamingResponse(
        events(), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
