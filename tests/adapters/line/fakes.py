"""The fake LINE API on loopback and the helpers the LINE tests share (signed webhook
bodies, events, settings for the gateway in degraded mode pointed at the fake).

Import from here (``from tests.adapters.line.fakes import FakeLine, event, …``); the
fixtures live in conftest.py.

The fake server is a small FastAPI app run by uvicorn in a thread. It records every call
(method, path, headers, body), validates every JSON body against LINE's official OpenAPI and
LINE's documented limits (``line_openapi``), and can be told to fail (``fail``) or hang
(``delay``) per operation. Every test ends by asserting that LINE received nothing invalid.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from pydantic import SecretStr

from adapters.line.signature import sign
from tests.adapters.line.line_openapi import limit_errors, messaging_api
from tests.conftest import free_port

SECRET = "test-channel-secret"
TOKEN = "test-channel-token"
HERE = Path(__file__).resolve().parent
FACILITIES = HERE / "data" / "facilities.yml"

_OPERATIONS = [
    ("reply", "POST", r"/v2/bot/message/reply"),
    ("push", "POST", r"/v2/bot/message/push"),
    ("loading", "POST", r"/v2/bot/chat/loading/start"),
    ("profile", "GET", r"/v2/bot/profile/(?P<id>[^/]+)"),
    ("content", "GET", r"/v2/bot/message/(?P<id>[^/]+)/content"),
    ("richmenu", "POST", r"/v2/bot/richmenu"),
    ("richmenu_image", "POST", r"/v2/bot/richmenu/(?P<id>[^/]+)/content"),
    ("richmenu_default", "POST", r"/v2/bot/user/all/richmenu/(?P<id>[^/]+)"),
    # The same server doubles as a fake Rasa (REST channel + probes) for the dialogue tests.
    ("rasa", "POST", r"/webhooks/madoguchi/webhook"),
    ("rasa_probe", "GET", r"/(health)?"),
]


@dataclass
class Call:
    op: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 0

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeLine:
    """What the fake LINE API was sent, and how it should misbehave."""

    url: str = ""
    calls: list[Call] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)  # op → statuses to answer next
    delay: dict[str, float] = field(default_factory=dict)  # op → seconds to hang
    profiles: dict[str, str | None] = field(default_factory=dict)  # user → language
    contents: dict[str, bytes] = field(default_factory=dict)
    rasa_reply: list[dict[str, Any]] = field(default_factory=list)  # what fake Rasa answers

    def reset(self) -> None:
        self.calls.clear()
        self.invalid.clear()
        self.fail.clear()
        self.delay.clear()
        self.rasa_reply = []

    def line_calls(self) -> list[Call]:
        return [c for c in self.calls if not c.op.startswith("rasa")]

    def of(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    def sent(self) -> list[dict[str, Any]]:
        """Messages of every successful reply and push, in order."""
        out: list[dict[str, Any]] = []
        for call in self.calls:
            if call.op in ("reply", "push") and call.status == 200:
                out.extend(call.json["messages"])
        return out

    def texts(self) -> list[str]:
        return [m["text"] for m in self.sent() if m["type"] == "text"]


def fake_app(fake: FakeLine) -> FastAPI:
    app = FastAPI()
    api = messaging_api()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(path: str, request: Request) -> Response:
        path = "/" + path
        body = await request.body()
        op, match = "unknown", None
        for name, method, pattern in _OPERATIONS:
            match = re.fullmatch(pattern, path)
            if match and method == request.method:
                op = name
                break
        call = Call(
            op, request.method, path, {k.lower(): v for k, v in request.headers.items()}, body
        )
        fake.calls.append(call)
        if op.startswith("rasa"):
            call.status = 200
            return _json(fake.rasa_reply if op == "rasa" else {"status": "ok"})
        _check(fake, api, call)
        if fake.delay.get(op):
            await asyncio.sleep(fake.delay[op])
        statuses = fake.fail.get(op)
        if statuses:
            call.status = statuses.pop(0)
            return Response(
                json.dumps({"message": f"fake failure {call.status}"}),
                call.status,
                media_type="application/json",
            )
        call.status = 200
        return _answer(fake, op, match)

    return app


def _check(fake: FakeLine, api: Any, call: Call) -> None:
    if call.headers.get("authorization") != f"Bearer {TOKEN}":
        fake.invalid.append(f"{call.path}: missing or wrong Authorization header")
    body: Any = None
    if call.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(call.body)
    errors = api.request_errors(call.method, call.path, body) + limit_errors(body)
    fake.invalid.extend(f"{call.method} {call.path}: {e}" for e in errors)
    if call.op == "push":
        try:
            uuid.UUID(call.headers.get("x-line-retry-key", ""))
        except ValueError:
            fake.invalid.append(f"push without a UUID X-Line-Retry-Key: {call.headers}")


def _answer(fake: FakeLine, op: str, match: re.Match[str] | None) -> Response:
    ident = match.group("id") if match and "id" in match.groupdict() else ""
    if op in ("reply", "push"):
        return _json({"sentMessages": [{"id": "1"}]})
    if op == "loading":
        return _json({}, 202)
    if op == "profile":
        profile: dict[str, Any] = {"displayName": "テスト", "userId": ident}
        if fake.profiles.get(ident):
            profile["language"] = fake.profiles[ident]
        return _json(profile)
    if op == "content":
        if ident not in fake.contents:
            return _json({"message": "Not found"}, 404)
        return Response(fake.contents[ident], 200, media_type="audio/x-m4a")
    if op == "richmenu":
        return _json({"richMenuId": "richmenu-0123456789abcdef"})
    return _json({})


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status, media_type="application/json")


def line_settings(settings: Any, fake: FakeLine, data_dir: Path) -> Any:
    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"  # nothing listens: degraded mode
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    s.storage.data_dir = data_dir
    s.line.channel_secret = SecretStr(SECRET)
    s.line.channel_access_token = SecretStr(TOKEN)
    s.line.api_base_url = fake.url
    s.line.data_api_base_url = fake.url
    s.line.timeout_s = 0.5
    s.line.backoff_s = 0.01
    s.line.backoff_max_s = 0.05
    s.line.max_attempts = 3
    return s


def post_events(client: TestClient, events: list[dict[str, Any]], secret: str = SECRET) -> Any:
    """POST a signed webhook body, as LINE would (the background work is done on return)."""
    body = json.dumps(
        {"destination": "Uxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "events": events}
    ).encode()
    return client.post(
        "/line/webhook",
        content=body,
        headers={"x-line-signature": sign(secret, body), "content-type": "application/json"},
    )


def event(
    kind: str = "text", user: str | None = None, age_s: float = 0.0, **extra: Any
) -> dict[str, Any]:
    """A webhook event (fresh ids each time) of one of the kinds the tests need."""
    user = user or f"U{uuid.uuid4().hex}"
    base: dict[str, Any] = {
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "timestamp": int((time.time() - age_s) * 1000),
        "source": {"type": "user", "userId": user},
        "mode": "active",
        "replyToken": uuid.uuid4().hex,
    }
    mid = str(uuid.uuid4().int)[:18]
    if kind == "text":
        base |= {
            "type": "message",
            "message": {
                "id": mid,
                "type": "text",
                "text": extra.pop("text", "こんにちは"),
                "quoteToken": "q",
            },
        }
    elif kind == "location":
        base |= {
            "type": "message",
            "message": {
                "id": mid,
                "type": "location",
                "title": "here",
                "address": "",
                "latitude": extra.pop("lat"),
                "longitude": extra.pop("lon"),
            },
        }
    elif kind == "audio":
        base |= {
            "type": "message",
            "message": {
                "id": extra.pop("message_id", mid),
                "type": "audio",
                "duration": 3000,
                "contentProvider": {"type": "line"},
            },
        }
    elif kind == "follow":
        base |= {"type": "follow", "follow": {"isUnblocked": False}}
    elif kind == "postback":
        base |= {"type": "postback", "postback": {"data": extra.pop("data")}}
    else:
        base |= {"type": kind}
    base.update(extra)
    return base
