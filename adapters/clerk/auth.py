"""Login, sessions and CSRF for the clerk app.

Sessions are server-side rows (``ClerkStore.open_session``): the browser holds a random token
in an HttpOnly, SameSite=Lax cookie (Secure when ``clerk.secure_cookie``), so a session can be
ended on the server. Every state-changing request must also carry the session's CSRF token in
the ``X-CSRF-Token`` header; the token is handed out by the login response and in a readable
``madoguchi_csrf`` cookie (double submit), and compared with the one stored for the session.

The session secret (used to store tokens hashed) comes from ``settings.clerk.session_secret``;
in mode "dev" an empty one is generated once and kept under the data dir, elsewhere an empty or
placeholder secret stops the app from starting.
"""

from __future__ import annotations

import hmac
import secrets
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from adapters.clerk.errors import ClerkError
from adapters.clerk.store import ClerkStore, Session
from adapters.security import MIN_SECRET_CHARS, is_placeholder
from adapters.settings import Settings

SESSION_COOKIE = "madoguchi_session"
CSRF_COOKIE = "madoguchi_csrf"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

router = APIRouter(prefix="/api/clerk", tags=["clerk"])

# Password guessing: after this many failures for one name within the window, that name is
# refused (429) until the window has passed. Per process, in memory: enough for one town hall.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 300.0


class LoginThrottle:
    """Recent failed logins per user name."""

    def __init__(self) -> None:
        self._failures: dict[str, list[float]] = {}

    def _recent(self, name: str) -> list[float]:
        now = time.monotonic()
        kept = [t for t in self._failures.get(name, []) if now - t < FAILURE_WINDOW_S]
        self._failures[name] = kept
        return kept

    def blocked(self, name: str) -> bool:
        return len(self._recent(name)) >= MAX_FAILURES

    def failed(self, name: str) -> None:
        self._recent(name).append(time.monotonic())

    def succeeded(self, name: str) -> None:
        self._failures.pop(name, None)


def session_secret(settings: Settings) -> bytes:
    """The secret session tokens are hashed with.

    Raises:
        ClerkError: Outside mode "dev", the configured secret is empty or a placeholder.
    """
    value = settings.clerk.session_secret.get_secret_value().strip()
    if not is_placeholder(value) and len(value) >= MIN_SECRET_CHARS:
        return value.encode()
    if settings.mode != "dev":
        raise ClerkError(
            "MADOGUCHI_CLERK__SESSION_SECRET is empty, a placeholder or shorter than 16 "
            f"characters in mode {settings.mode!r}; set a random value "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    path = Path(settings.storage.data_dir) / "clerk" / "session_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip().encode()


def store_of(request: Request) -> ClerkStore:
    return request.app.state.clerk_store  # type: ignore[no-any-return]


def settings_of(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def optional_session(request: Request) -> Session | None:
    """The caller's session, or None (no cookie, unknown or expired)."""
    token = request.cookies.get(SESSION_COOKIE)
    return store_of(request).session(token) if token else None


def require_session(request: Request) -> Session:
    """The caller's session; 401 without one, 403 on a state change without a valid CSRF token."""
    session = optional_session(request)
    if session is None:
        raise HTTPException(401, "not logged in (or the session expired); log in again")
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(403, "missing or wrong X-CSRF-Token header for this session")
    return session


def require_admin(session: Annotated[Session, Depends(require_session)]) -> Session:
    if session.user.role != "admin":
        raise HTTPException(403, f"user {session.user.name} is a clerk; this needs an admin")
    return session


SessionDep = Annotated[Session, Depends(require_session)]


class LoginRequest(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def _me(session: Session) -> dict[str, object]:
    return {
        "user": {"name": session.user.name, "role": session.user.role},
        "csrf": session.csrf,
        "expires_at": session.expires_at,
    }


@router.post("/login")
def login(body: LoginRequest, request: Request, response: Response) -> dict[str, object]:
    """Log in with name and password; sets the session cookie and returns the CSRF token."""
    store = store_of(request)
    throttle: LoginThrottle = request.app.state.clerk_throttle
    name = body.name.strip().lower()
    if throttle.blocked(name):
        raise HTTPException(
            429, f"too many failed logins for {body.name!r}; try again in a few minutes"
        )
    user = store.authenticate(body.name, body.password)
    if user is None:
        throttle.failed(name)
        raise HTTPException(401, "wrong user name or password")
    throttle.succeeded(name)
    settings = settings_of(request)
    token, session = store.open_session(user, settings.clerk.session_ttl_s)
    secure = settings.clerk.secure_cookie
    max_age = int(settings.clerk.session_ttl_s)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=max_age, httponly=False, samesite="lax",
        secure=secure, path="/",
    )
    return _me(session)


@router.post("/logout")
def logout(session: SessionDep, request: Request, response: Response) -> dict[str, bool]:
    """End the session on the server and clear its cookies."""
    store_of(request).close_session(request.cookies.get(SESSION_COOKIE, ""))
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"ok": True}


@router.get("/me")
def me(session: SessionDep) -> dict[str, object]:
    """Who is logged in, and the CSRF token to send with changes."""
    return _me(session)


@router.get("/users")
def users(session: Annotated[Session, Depends(require_admin)], request: Request) -> list[dict[str, str]]:
    """All accounts (admins only)."""
    return [{"name": u.name, "role": u.role} for u in store_of(request).users()]
