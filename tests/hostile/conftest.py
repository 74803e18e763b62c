"""Fixtures for the hostile-input tests: the real gateway in degraded mode (Rasa on a closed
port), its LINE channel configured with a secret but its LINE API on a closed port too — so
every event that gets processed ends in the channel's failure log, which is how the tests see
what was processed — and a logged-in clerk.

Requests come from a documentation address (203.0.113.0/24, not loopback), so the per-IP rate
limit applies as it would to a resident; the fuzzing client gets a limit high enough never to
trigger, the rate-limit tests a small one.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from typing import Any

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


MINUTES = {
    "meeting": {"title": "委員会", "attendees": []},
    "speakers": [{"id": "S1", "name": "議長", "role": "議長"}],
    "segments": [{"start": 0.0, "end": 0.5, "speaker": "S1", "text": "開会します。", "words": []}],
}


def _silence_wav(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return out.getvalue()


@pytest.fixture(scope="module")
def known(gateway: TestClient) -> dict[str, Any]:
    """Ids of a real complete upload, a finished job with minutes, its version, a ticket."""
    audio = _silence_wav()
    h = log_in(gateway)
    up = gateway.post("/api/clerk/uploads", json={"filename": "s.wav", "size": len(audio)}, headers=h)
    assert up.status_code == 201, up.text
    upload_id = up.json()["id"]
    put = gateway.put(f"/api/clerk/uploads/{upload_id}?offset=0", content=audio, headers=h)
    assert put.status_code == 200 and put.json()["complete"], put.text
    job = gateway.post("/api/clerk/jobs", json={"upload_id": upload_id}, headers=h).json()
    store = gateway.app.state.clerk_store  # type: ignore[attr-defined]
    store.save_version(job["id"], None, MINUTES, "worker")
    store.update_job(job["id"], status="done")
    ticket = gateway.post("/api/handover", json={"conversation_id": "fuzz"}).json()
    return {"upload_id": upload_id, "job_id": job["id"], "version": 1, "fmt": "txt",
            "ticket": next(iter(ticket.values()))}
