"""A fake LINE Messaging API for the load harness, served on the harness's own event loop.

The gateway's LINE channel answers a webhook with 200 at once and sends the answer later
through the Messaging API (reply, or push when the reply token is too old). To time a LINE
message end to end, the harness registers each reply token (and the user, for pushes) before
it posts the webhook; this server resolves the matching future when the answer arrives.

Lean on purpose: the LINE tests (``tests/adapters/line``) validate every request body
against LINE's OpenAPI, which costs far more CPU per call than the gateway spends; here the
server only checks the bearer token and the shape the harness needs, and keeps the bodies
only when asked (``keep_bodies``, for the pytest that validates them after a small run).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

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

    async def _body(self, request: Request, op: str) -> Any:
        self._count(op)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            self.problems.append(f"{op}: missing or wrong Authorization header")
        body = json.loads(await request.body()) if request.method == "POST" else None
        if self.keep_bodies and body is not None:
            self.bodies.append((request.url.path, body))
        return body

    async def reply(self, request: Request) -> Response:
        body = await self._body(request, "reply")
        now = time.perf_counter()
        messages = body.get("messages") or []
        if not 1 <= len(messages) <= 5:
            self.problems.append(f"reply with {len(messages)} messages")
        token = body.get("replyToken", "")
        future = self._by_token.pop(token, None)
        self._resolve(future, Delivery("reply", now, messages), f"reply token {token}")
        return JSONResponse({"sentMessages": [{"id": str(i)} for i in range(len(messages))]})

    async def push(self, request: Request) -> Response:
        body = await self._body(request, "push")
        now = time.perf_counter()
        to = body.get("to", "")
        self._resolve(self._by_user.get(to), Delivery("push", now, body.get("messages") or []),
                      f"user {to}")
        return JSONResponse({"sentMessages": [{"id": "1"}]})

    async def loading(self, request: Request) -> Response:
        await self._body(request, "loading")
        return JSONResponse({}, 202)

    async def profile(self, request: Request) -> Response:
        await self._body(request, "profile")
        user = request.path_params["user"]
        profile: dict[str, Any] = {"displayName": "住民", "userId": user}
        if self.profiles.get(user):
            profile["language"] = self.profiles[user]
        return JSONResponse(profile)

    async def other(self, request: Request) -> Response:
        self._count("other")
        self.problems.append(f"unexpected call {request.method} {request.url.path}")
        return JSONResponse({"message": "not faked"}, 404)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v2/bot/message/reply", self.reply, methods=["POST"]),
            Route("/v2/bot/message/push", self.push, methods=["POST"]),
            Route("/v2/bot/chat/loading/start", self.loading, methods=["POST"]),
            Route("/v2/bot/profile/{user}", self.profile, methods=["GET"]),
            Route("/{path:path}", self.other, methods=["GET", "POST", "PUT", "DELETE"]),
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
