"""LINE webhook bodies for the hostile tests: events, bodies and LINE's signature header."""

from __future__ import annotations

import json
from typing import Any

from adapters.line.signature import sign
from tests.adapters.line.fakes import event

SECRET = "hostile-test-channel-secret"


def text_event(user: str, text: str = "ごみの日はいつ？", age_s: float = 0.0) -> dict[str, Any]:
    """A 1:1 text message event from ``user`` with a fresh webhookEventId."""
    return event("text", user=user, age_s=age_s, text=text)


def webhook_body(events: list[Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Headers LINE sends with ``body``."""
    return {"x-line-signature": sign(secret, body), "content-type": "application/json"}
