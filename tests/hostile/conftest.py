"""Fixtures for the hostile-input tests: the real gateway in degraded mode (Rasa on a closed
port), its LINE channel configured with a secret but its LINE API on a closed port too — so
every event that gets processed ends in the channel's failure log, which is how the tests see
what was processed — and a logged-in clerk.

Requests come from a documentation address (203.0.113.0/24, not loopback), so the per-IP rate
limit applies as it would to a resident; the fuzzing client gets a limit high enough never to
trigger, the rate-limit tests a small one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.conftest import free_port
from tests.hostile.webhooks import SECRET

RESIDENT = ("203.0.113.7", 40000)
CLERK_NAME, CLERK_PASSWORD = "hostile-clerk", "correct horse battery staple"


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


@pytest.fixture(scope="module")
def fuzz_settings(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    s = hostile_settings(settings, tmp_path_factory.mktemp("hostile"))
    s.gateway.rate_per_ip = 1e6  # the fuzzer is one client sending thousands of requests
    s.gateway.rate_burst_per_ip = 1_000_000
    s.line.rate_per_user = 0  # off: generated events share few user ids
    return s


@pytest.fixture(scope="module")
def gateway(fuzz_settings, retriever) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The gateway in-process, as seen by a resident on the internet. 5xx are returned as
    responses (not raised), so a test sees exactly what a client would."""
    from adapters.clerk import open_store
    from adapters.gateway import create_app

    store = open_store(fuzz_settings)
    store.add_user(CLERK_NAME, CLERK_PASSWORD, "admin")
    store.close()
    app = create_app(fuzz_settings, retriever=retriever)
    with TestClient(app, client=RESIDENT, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def clerk_headers(gateway: TestClient) -> dict[str, str]:
    """Log the clerk in; the headers (session cookie, CSRF token) of their later requests.

    The client's own cookie jar is emptied again, so other requests stay anonymous.
    """
    response = gateway.post(
        "/api/clerk/login", json={"name": CLERK_NAME, "password": CLERK_PASSWORD}
    )
    assert response.status_code == 200, response.text
    cookie = "; ".join(f"{k}={v}" for k, v in gateway.cookies.items())
    gateway.cookies.clear()
    return {"Cookie": cookie, "X-CSRF-Token": response.json()["csrf"]}
