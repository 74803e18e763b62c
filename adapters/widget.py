"""The web chat widget's channel: its static assets, a demo page, and a streaming chat route.

``GET /widget.js`` is all a city page needs (one ``<script>`` tag); the script loads
``/widget.css`` into its shadow root and talks to ``POST /api/chat/stream`` (Server-Sent
Events: ``typing``, one ``message`` per bot message, ``done``), falling back to the plain
REST ``POST /api/chat``. ``GET /demo`` is a page embedding the widget under a strict CSP,
for people trying it and for the browser tests. The files live in ``adapters/static/widget``
and are served as they are: no build step.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.staticfiles import StaticFiles

from adapters.api import ChatMessage, ChatRequest, _check_message

log = logging.getLogger(__name__)

WIDGET_DIR = Path(__file__).resolve().parent / "static" / "widget"

# The demo page proves the widget needs no inline script or style: only same-origin files.
DEMO_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# Assets change with releases; browsers revalidate (ETag) rather than run a stale widget.
_ASSET_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter()


@router.get("/widget.js", include_in_schema=False)
async def widget_js() -> FileResponse:
    """The embeddable widget script."""
    return FileResponse(
        WIDGET_DIR / "widget.js",
        media_type="text/javascript; charset=utf-8",
        headers=_ASSET_HEADERS,
    )


@router.get("/widget.css", include_in_schema=False)
async def widget_css() -> FileResponse:
    """The widget's stylesheet (loaded by widget.js into its shadow root)."""
    return FileResponse(
        WIDGET_DIR / "widget.css", media_type="text/css; charset=utf-8", headers=_ASSET_HEADERS
    )


@router.get("/demo", include_in_schema=False)
async def demo() -> FileResponse:
    """A sample city page with the widget embedded, served under a strict CSP."""
    return FileResponse(
        WIDGET_DIR / "demo.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": DEMO_CSP, "Cache-Control": "no-cache"},
    )


@router.post(
    "/api/chat/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def chat_stream(body: ChatRequest, request: Request) -> StreamingResponse:
    """One turn of conversation as Server-Sent Events, for the web widget.

    Events: ``typing`` (at once), ``message`` (one per bot message, the same objects as
    ``POST /api/chat`` returns), then ``done`` with ``{"mode": "rasa"|"degraded", "lang"}``;
    ``error`` with a ``detail`` if the turn fails after the stream has started. Bad input is
    refused before streaming, with the same 4xx as ``POST /api/chat``.
    """
    message = _check_message(request, body.message)
    chat = request.app.state.chat
    return StreamingResponse(
        _turn_events(chat, body, message),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _turn_events(chat: Any, body: ChatRequest, message: str) -> AsyncIterator[str]:
    yield sse("typing", {})
    try:
        reply = await chat.handle(body.sender, message, body.metadata)
    except Exception:  # noqa: BLE001 — the 200 is already sent; tell the widget, log the cause
        log.exception("widget chat turn failed for sender %s", body.sender)
        yield sse("error", {"detail": "the assistant could not answer; please try again"})
        return
    for m in reply.messages:
        shaped = ChatMessage.model_validate({**m, "recipient_id": body.sender})
        yield sse("message", shaped.model_dump(exclude_none=True))
    yield sse("done", {"mode": "degraded" if reply.degraded else "rasa", "lang": reply.lang})


def sse(event: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event; the JSON has no raw newlines, so one ``data:`` line is enough."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def install(app: FastAPI) -> None:
    """Add the widget's routes and its static files (``/widget/…``) to the gateway."""
    app.include_router(router)
    app.mount("/widget", StaticFiles(directory=WIDGET_DIR), name="widget")
