"""``POST /line/webhook``: check the signature on the raw body, answer 200 at once, work after.

Order matters and is the point of this module: (1) refuse with 503 while no channel secret
is configured; (2) read the raw body (bounded by ``LineBodyLimit``) and check
``x-line-signature`` on those exact bytes — missing or wrong is 400, logged, and nothing is
parsed or processed; (3) parse just enough JSON to find the events; (4) hand them to
``LineBot.process`` as a background task and answer 200, so LINE never waits for Rasa,
Whisper or the LINE API itself (a slow answer makes LINE redeliver, which ``dedupe`` absorbs).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.limits import BodySizeLimit
from adapters.line.signature import verify

log = logging.getLogger(__name__)
router = APIRouter(prefix="/line", tags=["line"])
WEBHOOK_PATH = "/line/webhook"
NOT_CONFIGURED = (
    "LINE channel not configured: set MADOGUCHI_LINE__CHANNEL_SECRET and "
    "MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN"
)


@router.post("/webhook")
async def webhook(request: Request, background: BackgroundTasks) -> dict[str, Any]:
    """LINE's webhook. 200 means "received"; the answer is sent through the LINE API later."""
    channel = getattr(request.app.state, "line", None)
    if channel is None or not channel.configured:
        raise HTTPException(503, NOT_CONFIGURED)
    body = await request.body()
    signature = request.headers.get("x-line-signature")
    secret = channel.settings.channel_secret.get_secret_value()
    if not verify(secret, body, signature):
        peer = request.client.host if request.client else "?"
        why = "missing" if not signature else "wrong"
        log.warning(
            "LINE webhook refused: %s x-line-signature (%d bytes from %s)", why, len(body), peer
        )
        raise HTTPException(
            400, f"{why} x-line-signature: the body was not signed with this channel's secret"
        )
    events = _events(body)
    log.info("LINE webhook: %d event(s) accepted", len(events))
    if events:
        background.add_task(channel.bot.process, events)
    return {}


def _events(body: bytes) -> list[Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"signed body is not JSON: {exc}") from exc
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        raise HTTPException(400, "signed body has no 'events' list (not a LINE webhook payload)")
    return events


class LineBodyLimit:
    """The gateway's body limit, with a larger (still bounded) one for the LINE webhook.

    Wraps ``adapters.limits.BodySizeLimit`` twice and picks by path, so a 1 MB body is
    refused with 413 on every route while a busy webhook batch still fits.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, line_max_bytes: int) -> None:
        self.default = BodySizeLimit(app, max_bytes)
        self.line = BodySizeLimit(app, line_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.line if scope.get("path") == WEBHOOK_PATH else self.default
        await limit(scope, receive, send)
