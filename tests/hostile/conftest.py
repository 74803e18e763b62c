"""Fixtures for the hostile-input tests: the real gateway in degraded mode (Rasa on a closed
port), its LINE channel configured with a secret but its LINE API on a closed port too — so
every event that gets processed ends in the channel's failure log, which is how the tests see
what was processed — and a logged-in clerk.

Requests come from a documentation address (203.0.113.0/24, not loopback), so the per-IP rate
limit applies as it would to a resident; the fuzzing client gets a limit high enough never to
trigger, the rate-limit tests a small one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.hostile.harness import CLERK_NAME, CLERK_PASSWORD, RESIDENT, hostile_settings, log_in


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


@pytest.fixture
def clerk_headers(gateway: TestClient) -> dict[str, str]:
    """A fresh clerk session for each test (a generated logout may end the previous one)."""
    return log_in(gateway)
