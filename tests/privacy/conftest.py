"""Fixtures for the privacy and security tests: the gateway's settings on a private data dir,
with Rasa on a closed port (these tests need the gateway only; the channel tests use the
shared ``stack``)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port


@pytest.fixture
def gateway_settings(settings, tmp_path: Path) -> Any:  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.storage.data_dir = tmp_path / "data"
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    s.clerk.embedded_worker = False
    return s


@pytest.fixture
def gateway(retriever):  # type: ignore[no-untyped-def]
    """``create_app`` with the session's warmed-up retriever (no model loading per app)."""
    from adapters.gateway import create_app

    return lambda s: create_app(s, retriever=retriever)
