"""Upload storage full: the clerk gets a 507 that says what is wrong, and nothing is corrupted.

The full disk is real, not mocked: the upload's file is swapped for a symlink to ``/dev/full``,
where every write fails in the kernel with ENOSPC exactly as on a full file system. The quota
and free-space checks at declaration time run against the real settings and the real disk.
"""

from __future__ import annotations

import copy
import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

CHUNK = 256 * 1024
PASSWORD = "storage full pw"


@pytest.fixture(scope="module")
def clerk(settings, retriever, tmp_path_factory) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The gateway (clerk app, no worker) on its own data dir, logged in as a clerk."""
    from adapters.gateway import create_app

    own = copy.deepcopy(settings)
    own.storage.data_dir = tmp_path_factory.mktemp("storage-full")
    own.clerk.embedded_worker = False
    own.rasa.url = own.rasa.action_url = "http://127.0.0.1:9"  # no Rasa needed here
    with TestClient(create_app(own, retriever=retriever)) as client:
        client.app.state.clerk_store.add_user("tanaka", PASSWORD, "clerk")  # type: ignore[attr-defined]
        login = client.post("/api/clerk/login", json={"name": "tanaka", "password": PASSWORD})
        assert login.status_code == 200, login.text
        client.headers["X-CSRF-Token"] = login.json()["csrf"]
        yield client


def _declare(client: TestClient, name: str, size: int):  # type: ignore[no-untyped-def]
    return client.post("/api/clerk/uploads", json={"filename": name, "size": size})


def _put(client: TestClient, upload_id: str, offset: int, data: bytes):  # type: ignore[no-untyped-def]
    return client.put(f"/api/clerk/uploads/{upload_id}", params={"offset": offset}, content=data)


def _upload_all(client: TestClient, name: str, data: bytes) -> str:
    created = _declare(client, name, len(data))
    assert created.status_code == 201, created.text
    upload_id = created.json()["id"]
    for start in range(0, len(data), CHUNK):
        r = _put(client, upload_id, start, data[start : start + CHUNK])
        assert r.status_code == 200, r.text
    assert r.json()["complete"] is True
    return upload_id


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _state(client: TestClient) -> dict:
    """Everything a full disk must not change: uploads (rows and file bytes), jobs, db health."""
    store = client.app.state.clerk_store  # type: ignore[attr-defined]
    with sqlite3.connect(store.path) as db:
        uploads = db.execute("SELECT id, size, received, status, path FROM uploads").fetchall()
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
    files = {row[0]: _sha(Path(row[4])) for row in uploads if Path(row[4]).is_file()}
    return {"uploads": uploads, "files": files, "jobs": client.get("/api/clerk/jobs").json(),
            "integrity": check}


def test_disk_full_mid_upload_is_a_507_and_loses_nothing(clerk: TestClient, council_audio) -> None:  # type: ignore[no-untyped-def]
    audio = council_audio["meeting"].read_bytes()
    assert len(audio) > 3 * CHUNK
    earlier = _upload_all(clerk, "earlier.wav", audio)
    job = clerk.post("/api/clerk/jobs", json={"upload_id": earlier, "title": "前回の会議"})
    assert job.status_code == 201, job.text

    created = _declare(clerk, "new.wav", len(audio))
    upload_id = created.json()["id"]
    assert _put(clerk, upload_id, 0, audio[:CHUNK]).json()["offset"] == CHUNK
    store = clerk.app.state.clerk_store  # type: ignore[attr-defined]
    path = store.upload(upload_id).path
    before = _state(clerk)

    # The disk fills up: every write to the recording's file now fails with ENOSPC.
    aside = path.with_name("kept-by-test")
    path.rename(aside)
    path.symlink_to("/dev/full")
    try:
        full = _put(clerk, upload_id, CHUNK, audio[CHUNK : 2 * CHUNK])
        second_try = _put(clerk, upload_id, CHUNK, audio[CHUNK : 2 * CHUNK])
    finally:
        path.unlink()
        aside.rename(path)  # the administrator frees space; the file is as it was
    assert full.status_code == 507, full.text
    detail = full.json()["detail"]
    assert "storage is full" in detail and "No space left on device" in detail
    assert f"resume at offset {CHUNK}" in detail
    assert second_try.status_code == 507  # still full: same answer, no 500, no lock left behind

    # Nothing changed: the earlier recording and its job, this upload's offset, the database.
    assert _state(clerk) == before
    status = clerk.get(f"/api/clerk/uploads/{upload_id}").json()
    assert status["offset"] == CHUNK and status["status"] == "receiving"
    assert path.stat().st_size == CHUNK

    # With room again the upload resumes where it stopped and the file is the recording.
    for start in range(CHUNK, len(audio), CHUNK):
        r = _put(clerk, upload_id, start, audio[start : start + CHUNK])
        assert r.status_code == 200, r.text
    assert r.json()["complete"] is True
    assert path.read_bytes() == audio
    made = clerk.post("/api/clerk/jobs", json={"upload_id": upload_id})
    assert made.status_code == 201, made.text


def test_quota_and_free_space_are_checked_before_any_byte_is_stored(clerk: TestClient) -> None:
    settings = clerk.app.state.settings  # type: ignore[attr-defined]
    store = clerk.app.state.clerk_store  # type: ignore[attr-defined]
    upload_dir = Path(settings.storage.data_dir) / "clerk" / "uploads"
    upload_dir.mkdir(parents=True, exist_ok=True)
    used = store.upload_bytes()
    before = (sorted(os.listdir(upload_dir)), used)

    settings.clerk.storage_quota_bytes = used + 1000
    try:
        over = _declare(clerk, "big.wav", 1001)
        assert over.status_code == 507, over.text
        detail = over.json()["detail"]
        assert "quota" in detail and f"{used} of {used + 1000} bytes" in detail
        assert "MADOGUCHI_CLERK__STORAGE_QUOTA_BYTES" in detail
        assert (sorted(os.listdir(upload_dir)), store.upload_bytes()) == before
        assert _declare(clerk, "fits.wav", 1000).status_code == 201
    finally:
        settings.clerk.storage_quota_bytes = 0

    # No quota: the disk's real free space is the limit.
    free = shutil.disk_usage(upload_dir).free
    limit = settings.clerk.max_upload_bytes
    settings.clerk.max_upload_bytes = free * 4
    try:
        too_big = _declare(clerk, "huge.wav", free * 2)
    finally:
        settings.clerk.max_upload_bytes = limit
    assert too_big.status_code == 507, too_big.text
    assert "bytes free" in too_big.json()["detail"] and "huge.wav" in too_big.json()["detail"]
