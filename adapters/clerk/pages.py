"""The clerk app's HTML pages under ``/clerk/``: static files served under a strict CSP.

The pages hold no data and no inline script: each loads ``/static/clerk/*.js``, which fetches
the API. Assets live outside ``/clerk/`` (``/static/clerk/``) because the login page needs them
before there is a session; every ``/clerk/`` page except the login page redirects to it (303)
without a session.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from adapters.clerk.auth import optional_session

STATIC_DIR = Path(__file__).resolve().parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}

router = APIRouter(include_in_schema=False)


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC_DIR / name, media_type="text/html; charset=utf-8", headers=_HEADERS)


def _guarded(request: Request, name: str) -> Response:
    if optional_session(request) is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/clerk/login?next={quote(target, safe='')}", status_code=303)
    return _page(name)


@router.get("/clerk/login")
def login_page() -> FileResponse:
    return _page("login.html")


@router.get("/clerk/")
def jobs_page(request: Request) -> Response:
    return _guarded(request, "jobs.html")


@router.get("/clerk/minutes/{job_id}")
def editor_page(job_id: int, request: Request) -> Response:
    return _guarded(request, "editor.html")
