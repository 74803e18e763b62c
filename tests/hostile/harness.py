"""The gateway of the hostile tests: its settings, a resident's address, a clerk account."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.conftest import free_port
from tests.hostile.webhooks import SECRET

# A documentation address (RFC 5737), not loopback: the per-IP rate limit applies to it.
RESIDENT = ("203.0.113.7", 40000)
CLERK_NAME, CLERK_PASSWORD = "hostile-clerk", "correct horse battery staple"


def log_in(client: TestClient) -> dict[str, str]:
    """Log the clerk in; the headers (session cookie, CSRF token) of their later requests.

    The client's own cookie jar is emptied again, so other requests stay anonymous.
    """
    response = client.post("/api/clerk/login", json={"name": CLERK_NAME, "password": CLERK_PASSWORD})
    assert response.status_code == 200, response.text
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    client.cookies.clear()
    return {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf"]}


def hostile_settings(settings: Any, data_dir: Path) -> Any:
    """``settings`` with Rasa and the LINE API on closed ports and state under ``data_dir``."""
    s = copy.deepcopy(settings)
    s.storage.data_dir = data_dir
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    s.line.channel_secret = SecretStr(SECRET)
    s.line.channel_access_token = SecretStr("hostile-test-token")
    s.line.api_base_url = s.line.data_api_base_url = f"http://127.0.0.1:{free_port()}"
    s.line.timeout_s = 0.5
    s.line.max_attempts = 1
    s.clerk.embedded_worker = False
    return s
