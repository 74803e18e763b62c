"""The gateway with the clerk app on a temporary data dir, two accounts, and helpers."""

from __future__ import annotations

import copy
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.conftest import free_port

PASSWORD = "correct horse 1"


def tone_wav(path: Path, seconds: float = 1.0) -> Path:
    """A short 16 kHz mono WAV (a quiet tone): real audio for the type check."""
    t = np.arange(int(16_000 * seconds)) / 16_000
    samples = (0.1 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(samples.tobytes())
    return path


def clerk_settings(settings, data_dir: Path, worker: bool = False):  # type: ignore[no-untyped-def]
    s = copy.deepcopy(settings)
    s.rasa.url = f"http://127.0.0.1:{free_port()}"
    s.rasa.action_url = f"http://127.0.0.1:{free_port()}"
    s.storage.data_dir = data_dir
    s.clerk.embedded_worker = worker
    s.clerk.max_upload_bytes = 2_000_000
    s.clerk.max_chunk_bytes = 256 * 1024
    s.clerk.poll_interval_s = 0.2
    return s


@pytest.fixture(scope="module")
def app_client(settings, retriever, tmp_path_factory) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    from adapters.gateway import create_app

    s = clerk_settings(settings, tmp_path_factory.mktemp("clerk"))
    with TestClient(create_app(s, retriever=retriever)) as c:
        store = c.app.state.clerk_store  # type: ignore[attr-defined]
        store.add_user("suzuki", PASSWORD, "clerk")
        store.add_user("admin", PASSWORD, "admin")
        yield c


def login(client: TestClient, name: str = "suzuki") -> dict[str, str]:
    """Log ``client`` in; return the CSRF header to send with changes."""
    client.cookies.clear()
    r = client.post("/api/clerk/login", json={"name": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf"]}


@pytest.fixture
def client(app_client: TestClient) -> Iterator[TestClient]:
    app_client.cookies.clear()
    yield app_client
    app_client.cookies.clear()
