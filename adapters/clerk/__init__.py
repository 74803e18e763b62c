"""The clerk web app for council minutes (issue 7): accounts, resumable uploads, a job queue
with a worker, a review editor synced to the audio, exports and finalize.

``install(app, settings)`` adds the routes (pages under ``/clerk/``, API under
``/api/clerk/``, assets under ``/static/clerk/``); ``open_clerk(app, settings)`` runs in the
gateway's lifespan (store, embedded worker) and returns the function that closes them.

Operating it: create the first account with ``madoguchi user add NAME --role admin``; clerks
open ``/clerk/``. State lives under ``<data_dir>/clerk/`` (``clerk.db``, ``uploads/``, ``jobs/``).
Workers run in the gateway by default; with ``MADOGUCHI_CLERK__EMBEDDED_WORKER=false`` run
``python -m adapters.clerk.worker`` processes instead (a worker killed mid-job is noticed by the
next worker of its host to start or idle; the job resumes from its checkpoint). A full disk
answers uploads with 507 and keeps what was received; ``MADOGUCHI_CLERK__STORAGE_QUOTA_BYTES``
caps the disk space recordings may take. Outside mode "dev" set
``MADOGUCHI_CLERK__SESSION_SECRET`` (and ``MADOGUCHI_CLERK__SECURE_COOKIE=true`` behind HTTPS).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.clerk import auth, jobs, minutes, pages, uploads
from adapters.clerk.auth import LoginThrottle, session_secret
from adapters.clerk.errors import ClerkError, http_status
from adapters.clerk.queue import Queue, SqliteQueue, open_queue
from adapters.clerk.worker import Worker, jobs_dir, start_embedded
from adapters.clerk.store import ClerkStore
from adapters.limits import BodySizeLimit
from adapters.settings import Settings

__all__ = [
    "ClerkBodyLimit",
    "ClerkError",
    "ClerkStore",
    "Queue",
    "SqliteQueue",
    "Worker",
    "install",
    "open_clerk",
    "open_store",
]


def open_store(settings: Settings) -> ClerkStore:
    """The clerk store at ``<data_dir>/clerk/clerk.db``."""
    data = Path(settings.storage.data_dir) / "clerk"
    return ClerkStore(data / "clerk.db", session_secret(settings))


def install(app: FastAPI) -> None:
    """Add the clerk app's routes, assets and error mapping to the gateway."""
    app.include_router(auth.router)
    app.include_router(uploads.router)
    app.include_router(jobs.router)
    app.include_router(minutes.router)
    app.include_router(pages.router)
    app.mount("/static/clerk", StaticFiles(directory=pages.STATIC_DIR), name="clerk-static")
    app.add_exception_handler(ClerkError, _clerk_error)


async def _clerk_error(request: Request, exc: Exception) -> JSONResponse:
    status = http_status(exc) if isinstance(exc, ClerkError) else 500
    return JSONResponse(status_code=status, content={"detail": str(exc)})


def open_clerk(app: FastAPI, settings: Settings) -> Callable[[], None]:
    """Open the store (and start the embedded worker if enabled); return the closer."""
    store = open_store(settings)
    app.state.clerk_store = store
    app.state.clerk_throttle = LoginThrottle()
    halt: Callable[[], None] | None = None
    if settings.clerk.embedded_worker:
        halt = start_embedded(
            open_queue(store, settings.clerk),
            settings.speech,
            jobs_dir(settings.storage.data_dir),
            settings.clerk.poll_interval_s,
        )

    def close() -> None:
        if halt:
            halt()
        store.close()

    return close


class ClerkBodyLimit:
    """Route ``/api/clerk/`` bodies (upload chunks, whole minutes) to a larger limit.

    The gateway's default limit is sized for chat messages; upload chunks and minutes
    documents are megabytes. Every other path goes through ``other(app)`` (the usual limit).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, other: Callable[[ASGIApp], ASGIApp]
    ) -> None:
        self.inner = other(app)
        self.clerk = BodySizeLimit(app, max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        target = self.clerk if path.startswith("/api/clerk/") else self.inner
        await target(scope, receive, send)
