"""HTTP security headers, Secure cookies, and the refusal of placeholder secrets.

``SecurityHeaders`` is pure ASGI (it touches only the response start, so SSE streams keep
streaming) and is the gateway's outermost middleware, so even a 413 from the body limit
carries its headers:

- ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` everywhere (a
  route's own policy, e.g. the clerk pages' ``same-origin``, wins);
- ``Content-Security-Policy`` ``default-src 'none'; frame-ancestors 'none'`` on every
  response that sets none. The widget demo and the clerk pages set their own strict ones
  (``script-src 'self'``, no inline script, ``frame-ancestors 'none'``). ``/docs`` and
  ``/redoc`` are left alone: FastAPI's Swagger and ReDoc pages need inline script;
- ``X-Frame-Options: DENY`` (old browsers' frame-ancestors);
- ``Cache-Control: no-store`` on ``/api/`` responses that set no caching of their own;
- ``Cross-Origin-Resource-Policy``: ``cross-origin`` for the widget's assets — ``/widget.js``
  is embedded by the city's own site, another origin — and ``same-origin`` for the clerk app;
- ``Strict-Transport-Security`` when ``gateway.hsts_max_age_s`` > 0 (off by default: HSTS
  on a site that is not HTTPS for good locks its users out);
- the ``Secure`` flag on every cookie when the request came over HTTPS, when
  ``clerk.secure_cookie`` is set, or in any mode other than "dev".

``check_secrets`` walks every ``SecretStr`` in the settings (so a secret added later is
covered too) and, outside mode "dev", refuses placeholders and too-short values, naming the
environment variable to fix. Secrets come only from settings: nothing here or elsewhere in
``adapters`` reads them from ``os.environ``.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.errors import AdapterError
from adapters.settings import Settings

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# FastAPI's interactive docs load inline script; they get no default CSP.
_NO_DEFAULT_CSP = ("/docs", "/redoc")
_CROSS_ORIGIN = ("/widget.js", "/widget.css", "/widget/")
_SAME_ORIGIN = ("/clerk/", "/static/clerk/", "/api/clerk/")

PLACEHOLDERS = frozenset({
    "", "changeme", "change-me", "change_me", "secret", "placeholder", "xxx", "dev", "test",
    "password", "todo", "example", "default", "none", "null",
})
MIN_SECRET_CHARS = 16
# Secrets that must be set outside dev (the clerk app is always mounted and hashes its
# session tokens with this one).
REQUIRED = {("clerk", "session_secret")}
# Set together or not at all (an empty pair: the LINE channel is off and answers 503).
PAIRS = [(("line", "channel_secret"), ("line", "channel_access_token"))]


class InsecureSettingsError(AdapterError):
    """A secret is missing or a placeholder outside mode "dev" (the message names each)."""


def is_placeholder(value: str) -> bool:
    """True for an empty, well-known or obviously made-up secret ("changeme", "xxxx…")."""
    plain = value.strip().lower()
    return plain in PLACEHOLDERS or len(set(plain)) <= 2 or "changeme" in plain.replace("-", "")


def env_name(path: tuple[str, ...]) -> str:
    return "MADOGUCHI_" + "__".join(p.upper() for p in path)


def secrets_of(model: BaseModel, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(path, value) of every ``SecretStr`` field in ``model`` and its nested groups."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield (*path, name), value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from secrets_of(value, (*path, name))


def _problem(path: tuple[str, ...], value: str) -> str | None:
    if not value.strip():
        return f"{env_name(path)} is empty" if path in REQUIRED else None
    if "://" in value:  # a database or queue URL: only its password is secret
        password = urlsplit(value).password
        if password is not None and is_placeholder(password):
            return f"{env_name(path)} has a placeholder password ({password!r})"
        return None
    if is_placeholder(value):
        return f"{env_name(path)} is a placeholder"
    if len(value.strip()) < MIN_SECRET_CHARS:
        return f"{env_name(path)} is shorter than {MIN_SECRET_CHARS} characters"
    return None


def check_secrets(settings: Settings) -> None:
    """Refuse placeholder, too-short or half-configured secrets outside mode "dev".

    Raises:
        InsecureSettingsError: naming every setting to fix.
    """
    if settings.mode == "dev":
        return
    found = dict(secrets_of(settings))
    problems = [p for path, value in found.items() if (p := _problem(path, value))]
    for first, second in PAIRS:
        if bool(found.get(first, "").strip()) != bool(found.get(second, "").strip()):
            missing = second if found.get(first, "").strip() else first
            problems.append(f"{env_name(missing)} is empty while {env_name(first if missing == second else second)} is set")
    if problems:
        raise InsecureSettingsError(
            f"refusing to start in mode {settings.mode!r}: " + "; ".join(problems)
            + ". Set each to the real value (random ones: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'), or run in mode 'dev'."
        )


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.hsts = settings.gateway.hsts_max_age_s
        self.always_secure = settings.mode != "dev" or settings.clerk.secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        secure = self.always_secure or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add(MutableHeaders(scope=message), path, secure)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add(self, headers: MutableHeaders, path: str, secure: bool) -> None:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if not path.startswith(_NO_DEFAULT_CSP):
            headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
        if path.startswith("/api/"):
            # Answers, tickets and minutes are about someone: no shared or browser cache keeps them.
            headers.setdefault("Cache-Control", "no-store")
        if path.startswith(_CROSS_ORIGIN):
            headers.setdefault("Cross-Origin-Resource-Policy", "cross-origin")
        elif path.startswith(_SAME_ORIGIN) or path == "/clerk":
            headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        if self.hsts:
            headers.setdefault("Strict-Transport-Security", f"max-age={self.hsts}; includeSubDomains")
        if secure:
            _secure_cookies(headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    fixed = [c if "secure" in [a.strip().lower() for a in c.split(";")] else f"{c}; Secure" for c in cookies]
    del headers["set-cookie"]
    for cookie in fixed:
        headers.append("set-cookie", cookie)
