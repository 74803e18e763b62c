"""Fixtures for the LINE channel tests: the fake LINE API (see fakes.py) served on loopback,
and the gateway in degraded mode (Rasa on a closed port) pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.adapters.line.fakes import FACILITIES, FakeLine, fake_app, line_settings
from tests.conftest import serve_in_thread


@pytest.fixture(scope="session")
def fake_line() -> Iterator[FakeLine]:
    fake = FakeLine()
    with serve_in_thread(fake_app(fake), timeout_s=20) as url:
        fake.url = url
        yield fake


@pytest.fixture(autouse=True)
def _line_sent_only_valid_requests(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the fake LINE API: nothing invalid was sent to it."""
    if "fake_line" not in request.fixturenames:
        yield
        return
    fake: FakeLine = request.getfixturevalue("fake_line")
    fake.reset()
    yield
    assert not fake.invalid, "requests LINE would refuse:\n" + "\n".join(fake.invalid)


@pytest.fixture(scope="module")
def line_app(settings, retriever, fake_line, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The gateway (degraded mode) with the LINE channel pointed at the fake API."""
    from adapters.gateway import create_app

    s = line_settings(settings, fake_line, tmp_path_factory.mktemp("line-state"))
    app = create_app(s, retriever=retriever)
    with TestClient(app) as client:
        app.state.line._facilities_path = FACILITIES
        yield client
