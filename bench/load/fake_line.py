"""A fake LINE Messaging API for the load harness, served on the harness's own event loop.

The gateway's LINE channel answers a webhook with 200 at once and sends the answer later
through the Messaging API (reply, or push when the reply token is too old). To time a LINE
message end to end, the harness registers each reply token (and the user, for pushes) before
it posts the webhook; this server resolves the matching future when the answer arrives.

Lean on purpose: the LINE tests (``tests/adapters/line``) validate every request body
against LINE's OpenAPI, which costs far more CPU per call than the gateway spends; here the
server only checks the bearer token and the shape the harness needs, and keeps the bodies
only when asked (``keep_bodies``, for the pytest that validates them after a small run).

Two servers answer with the same handlers: :func:`serving_raw` (the default), an asyncio
protocol with httptools' request parser, and :func:`serving` (uvicorn and Starlette, kept
for A/B runs: ``--harness-line-server uvicorn``). The harness runs on the stack's two cores,
and uvicorn's and Starlette's layers cost far more CPU per call than the handlers do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httptools
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Delivery:
    """An answer that reached the fake LINE API."""

    how: str  # "reply" or "push"
    at: float  # time.perf_counter() on arrival
    messages: list[dict[str, Any]]


@dataclass
class FakeLineApi:
    """State of the fake API: who waits for which answer, what was refused."""

    token: str
    profiles: dict[str, str] = field(default_factory=dict)  # user id → LINE language code
    keep_bodies: bool = False
    bodies: list[tuple[str, Any]] = field(default_factory=list)  # (path, JSON body)
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    _by_token: dict[str, asyncio.Future[Delivery]] = field(default_factory=dict)
    _by_user: dict[str, asyncio.Future[Delivery]] = field(default_factory=dict)

    def expect(self, reply_token: str, user: str) -> asyncio.Future[Delivery]:
        """A future resolved when the answer for this reply token (or a push to ``user``)
        arrives. One message per user at a time, as each simulated resident waits."""
        future: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._by_token[reply_token] = future
        self._by_user[user] = future
        return future

    def forget(self, reply_token: str, user: str) -> None:
        self._by_token.pop(reply_token, None)
        self._by_user.pop(user, None)

    def _resolve(
        self, future: asyncio.Future[Delivery] | None, delivery: Delivery, key: str
    ) -> None:
        if future is None:
            self.problems.append(f"{delivery.how} for {key} that nobody waits for")
        elif not future.done():
            future.set_result(delivery)

    def _count(self, op: str) -> None:
        self.counts[op] = self.counts.get(op, 0) + 1

    def _take(self, op: str, method: str, path: str, authorization: str | None,
              raw: bytes) -> Any:
        """Count the call, check its bearer token, parse (and keep, if asked) its JSON body."""
        self._count(op)
        if authorization != f"Bearer {self.token}":
            self.problems.append(f"{op}: missing or wrong Authorization header")
        body = json.loads(raw) if method == "POST" else None
        if self.keep_bodies and body is not None:
            self.bodies.append((path, body))
        return body

    def handle(self, method: str, path: str, authorization: str | None, raw: bytes
               ) -> tuple[int, Any]:
        """Answer one call: (HTTP status, JSON payload). Both servers route through here."""
        if method == "POST" and path == "/v2/bot/message/reply":
            return self._reply(self._take("reply", method, path, authorization, raw))
        if method == "POST" and path == "/v2/bot/message/push":
            return self._push(self._take("push", method, path, authorization, raw))
        if method == "POST" and path == "/v2/bot/chat/loading/start":
            self._take("loading", method, path, authorization, raw)
            return 202, {}
        user = path.removeprefix("/v2/bot/profile/")
        if method == "GET" and user != path and user and "/" not in user:
            self._take("profile", method, path, authorization, raw)
            profile: dict[str, Any] = {"displayName": "住民", "userId": user}
            if self.profiles.get(user):
                profile["language"] = self.profiles[user]
            return 200, profile
        self._count("other")
        self.problems.append(f"unexpected call {method} {path}")
        return 404, {"message": "not faked"}

    def _reply(self, body: Any) -> tuple[int, Any]:
        now = time.perf_counter()
        messages = body.get("messages") or []
        if not 1 <= len(messages) <= 5:
            self.problems.append(f"reply with {len(messages)} messages")
        token = body.get("replyToken", "")
        future = self._by_token.pop(token, None)
        self._resolve(future, Delivery("reply", now, messages), f"reply token {token}")
        return 200, {"sentMessages": [{"id": str(i)} for i in range(len(messages))]}

    def _push(self, body: Any) -> tuple[int, Any]:
        now = time.perf_counter()
        to = body.get("to", "")
        self._resolve(self._by_user.get(to), Delivery("push", now, body.get("messages") or []),
                      f"user {to}")
        return 200, {"sentMessages": [{"id": "1"}]}

    async def _starlette(self, request: Request) -> Response:
        status, payload = self.handle(request.method, request.url.path,
                                      request.headers.get("authorization"),
                                      await request.body())
        return JSONResponse(payload, status)

    def app(self) -> Starlette:
        """The API as a Starlette app (served by uvicorn: :func:`serving`)."""
        return Starlette(routes=[
            Route("/{path:path}", self._starlette, methods=["GET", "POST", "PUT", "DELETE"]),
        ])


@contextlib.asynccontextmanager
async def serving(app: Any, port: int, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve the ASGI ``app`` on 127.0.0.1:``port`` on the running loop; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan=lifespan)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
            raise RuntimeError(f"nothing started on port {port}")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 404: b"Not Found"}
_KEEP_ALIVE_S = 5.0  # uvicorn's timeout_keep_alive: an idle connection is closed after it


class _RawLineProtocol(asyncio.Protocol):
    """One connection to the fake API: HTTP/1.1 requests parsed by httptools, answered by
    :meth:`FakeLineApi.handle` with a JSON body, kept alive as uvicorn keeps them."""

    def __init__(self, api: FakeLineApi, connections: set[_RawLineProtocol]) -> None:
        self.api = api
        self.connections = connections
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.authorization: str | None = None
        self.body: list[bytes] = []
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()

    def data_received(self, data: bytes) -> None:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._write(400, {"message": "invalid HTTP request"}, keep_alive=False)

    def on_message_begin(self) -> None:
        self.url, self.authorization, self.body = b"", None, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"authorization":
            self.authorization = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        method = self.parser.get_method().decode("ascii")
        path = httptools.parse_url(self.url).path.decode("utf-8", "replace")
        status, payload = self.api.handle(method, path, self.authorization, b"".join(self.body))
        self._write(status, payload, self.parser.should_keep_alive())

    def _write(self, status: int, payload: Any, keep_alive: bool) -> None:
        assert self.transport is not None
        # JSON as Starlette's JSONResponse renders it.
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False, indent=None,
                          separators=(",", ":")).encode("utf-8")
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-length: %d\r\ncontent-type: application/json\r\n%s\r\n"
            % (status, _REASONS.get(status, b"OK"), len(body),
               b"" if keep_alive else b"connection: close\r\n") + body)
        if not keep_alive:
            self.transport.close()
        else:
            self.idle = asyncio.get_running_loop().call_later(_KEEP_ALIVE_S,
                                                              self.transport.close)


@contextlib.asynccontextmanager
async def serving_raw(api: FakeLineApi, port: int) -> AsyncIterator[str]:
    """Serve ``api`` on 127.0.0.1:``port`` on the running loop without uvicorn; yields its
    URL."""
    connections: set[_RawLineProtocol] = set()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _RawLineProtocol(api, connections),
                                      "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for conn in list(connections):
            if conn.transport is not None:
                conn.transport.close()
        await server.wait_closed()
