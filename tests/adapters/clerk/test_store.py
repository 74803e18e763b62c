"""The clerk store's version history: autosaves coalesce per author, conflicts are still caught,
documents are stored compressed."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.clerk.errors import Conflict
from adapters.clerk.store import ClerkStore


def test_autosaves_by_one_author_coalesce_but_stay_conflict_safe(tmp_path: Path) -> None:
    store = ClerkStore(tmp_path / "clerk.db", b"k" * 32)
    user = store.add_user("suzuki", "long enough pw", "clerk")
    upload = store.add_upload(user, "a.wav", 10, tmp_path / "uploads")
    job = store.add_job(upload, "会議")
    doc = {"meeting": {}, "speakers": [], "segments": [], "note": "x" * 5000}
    store.save_version(job.id, None, doc, "worker")
    store.save_version(job.id, 1, doc | {"n": 1}, "suzuki")
    store.save_version(job.id, 2, doc | {"n": 2}, "suzuki")  # replaces v2: same author, seconds
    assert [v["version"] for v in store.versions(job.id)] == [3, 1]
    store.save_version(job.id, 3, doc | {"n": 3}, "tanaka")
    store.save_version(job.id, 4, doc | {"n": 4}, "suzuki")
    assert [v["version"] for v in store.versions(job.id)] == [5, 4, 3, 1]
    with pytest.raises(Conflict, match="saved as version 5 since your version 3"):
        store.save_version(job.id, 3, doc, "tanaka")
    assert store.latest(job.id).doc["n"] == 4
    raw = store._one("SELECT doc FROM versions WHERE version = 5")[0]  # noqa: SLF001
    assert isinstance(raw, bytes) and len(raw) < 500  # compressed
    store.close()
