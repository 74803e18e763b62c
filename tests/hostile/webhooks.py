"""LINE webhook bodies for the hostile tests: events, bodies and LINE's signature header."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from adapters.line.signature import sign

SECRET = "hostile-test-channel-secret"


def text_event(user: str, text: str = "ごみの日はいつ？", age_s: float = 0.0) -> dict[str, Any]:
    """A 1:1 text message event from ``user`` with a fresh webhookEventId."""
    return {
        "type": "message",
        "webhookEventId": uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": False},
        "timestamp": int((time.time() - age_s) * 1000),
        "source": {"type": "user", "userId": user},
        "mode": "active",
        "replyToken": uuid.uuid4().hex,
        "message": {
            "id": str(uuid.uuid4().int)[:18], "type": "text", "text": text, "quoteToken": "q"
        },
    }


def webhook_body(events: list[Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Headers LINE sends with ``body``."""
    return {"x-line-signature": sign(secret, body), "content-type": "application/json"}
